//! `qoauth serve`: the reference server as a command.

use crate::cli::ServeArgs;
use qoauth_reference::{ServeOptions, Tls};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let tls = match (args.tls_generate, args.tls_cert, args.tls_key) {
        (true, _, _) => Tls::Generated,
        (false, Some(cert), Some(key)) => Tls::Files { cert, key },
        _ => Tls::None,
    };
    qoauth_reference::serve(ServeOptions {
        addr: args.addr,
        fixture_path: args.fixture,
        tls,
    })
    .await
}
