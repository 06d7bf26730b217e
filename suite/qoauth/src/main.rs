//! `qoauth`: the conformance suite's command line. See `qoauth --help` and the README.

mod cli;
#[cfg(feature = "faults")]
mod detect;
mod fuzz;
#[cfg(feature = "faults")]
mod latitude;
mod progress;
mod properties;
mod run;
mod serve;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// Exit code when the suite could not run at all; see [`cli::EXIT_CODES`].
const CANNOT_RUN: u8 = 2;

fn init_logging() {
    // Logs go to stderr so stdout stays the command's output (serve's URL, run's summary).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `qoauth index`: rewrites the generated parts of the catalogue's README, or with
/// `--check` only says whether they are current.
fn index(args: &cli::IndexArgs) -> anyhow::Result<ExitCode> {
    let (old, new) = qoauth_report::cases_readme(&args.cases)?;
    let path = args.cases.join("README.md");
    if args.check {
        if old == new {
            println!("{} is current", path.display());
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "{} is stale: run `{}`",
            path.display(),
            qoauth_report::INDEX_COMMAND
        );
        return Ok(ExitCode::from(1));
    }
    if old != new {
        std::fs::write(&path, &new)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    println!("indexed {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qoauth: error: cannot start the async runtime: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    let result = runtime.block_on(async {
        match command {
            Command::Run(args) => run::run(args).await.map(|outcome| match outcome {
                run::Outcome::Passed => ExitCode::SUCCESS,
                run::Outcome::GateFailed => ExitCode::from(1),
            }),
            Command::Serve(args) => serve::serve(args).await.map(|()| ExitCode::SUCCESS),
            Command::Fuzz(args) => fuzz::fuzz(args).await.map(|outcome| match outcome {
                fuzz::Outcome::Clean => ExitCode::SUCCESS,
                fuzz::Outcome::Anomalies => ExitCode::from(1),
            }),
            Command::Index(args) => index(&args),
            #[cfg(feature = "faults")]
            Command::Detect(args) => detect::detect(args).await.map(|clean| match clean {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            }),
            #[cfg(feature = "faults")]
            Command::Latitude(args) => latitude::latitude(args).await.map(|clean| match clean {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(1),
            }),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("qoauth: error: {e:#}");
            ExitCode::from(CANNOT_RUN)
        }
    }
}
