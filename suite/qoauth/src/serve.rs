//! `qoauth serve`: the reference server as a command.

use crate::cli::ServeArgs;
use anyhow::Context;
use qoauth_reference::{Fixture, ServeOptions, Tls};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Checked here as well so the error names the file the user gave.
    if let Some(path) = &args.fixture {
        Fixture::from_path(path).with_context(|| format!("invalid fixture {}", path.display()))?;
    }
    let tls = match (args.tls_generate, args.tls_cert, args.tls_key) {
        (true, _, _) => Tls::Generated,
        (false, Some(cert), Some(key)) => Tls::Files { cert, key },
        _ => Tls::None,
    };
    #[cfg(feature = "faults")]
    let faults = qoauth_reference::Faults::parse(&args.faults)?;
    #[cfg(not(feature = "faults"))]
    let faults = qoauth_reference::Faults::default();
    let variants = qoauth_reference::Variants::parse(&args.variants)?;
    qoauth_reference::serve(ServeOptions {
        addr: args.addr,
        fixture_path: args.fixture,
        tls,
        faults,
        variants,
    })
    .await?;
    Ok(())
}
