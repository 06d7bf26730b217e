//! The command line: what each subcommand accepts, and the exit-code contract in `--help`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  every MUST case passed, or failed only as the baseline allows
  1  a MUST case failed (or could not be checked) outside the baseline, or the baseline
     gate failed (an entry expired, or an entry's case no longer fails)
  2  the suite could not run: bad arguments, profile, case file or baseline, an
     unreachable target, a target host the profile does not allow, or reports that
     could not be written";

/// Conformance test suite for the Qlik Cloud OAuth API.
///
/// With no subcommand, `qoauth` is `qoauth run`: it runs the whole case catalogue against
/// the embedded reference server (or the given target) and writes reports/latest/.
#[derive(Debug, Parser)]
#[command(name = "qoauth", version, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance cases against a target and write reports (the default).
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Serve the reference implementation of the API: a local stand-in for a tenant.
    ///
    /// Prints the base URL as the first line of stdout, then serves until SIGINT or
    /// SIGTERM and shuts down cleanly.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Base URL of the server under test. Without it (and without --profile) the embedded
    /// reference server is started on a free loopback port.
    #[arg(long, env = "QOAUTH_TARGET", value_name = "URL")]
    pub target: Option<String>,

    /// Profile of the target: clients, users, login mode, limits; secrets by environment
    /// variable reference. Defaults to the reference server's profile.
    #[arg(long, env = "QOAUTH_PROFILE", value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Run only the cases whose id contains PAT.
    #[arg(long, value_name = "PAT")]
    pub filter: Option<String>,

    /// With --filter, run only the case whose id is exactly PAT.
    #[arg(long, requires = "filter")]
    pub exact: bool,

    /// Directory of case files [default: the repository's cases/].
    #[arg(long, value_name = "DIR")]
    pub cases: Option<PathBuf>,

    /// Where to write results.json, junit.xml, report.html and summary.md.
    #[arg(long, value_name = "DIR", default_value = qoauth_report::DEFAULT_REPORT_DIR)]
    pub report: PathBuf,

    /// Accepted failures: {"accepted": [{"id", "reason", "expires": "YYYY-MM-DD"}]}.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// List every request the run would send, without sending any.
    #[arg(long)]
    pub dry_run: bool,

    /// Cases in flight at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the printed URL says which).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Fixture of clients, users, keys and limits [default: the shipped default fixture].
    #[arg(long, value_name = "FILE")]
    pub fixture: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate generated at start-up.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls_generate: bool,

    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_run_with_its_flags() {
        let cli = Cli::try_parse_from(["qoauth", "--filter", "token", "--jobs", "4"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.filter.as_deref(), Some("token"));
        assert_eq!(cli.run.jobs, 4);
        assert_eq!(cli.run.report, PathBuf::from("reports/latest"));
    }

    #[test]
    fn serve_tls_flags_are_exclusive_and_paired() {
        assert!(Cli::try_parse_from([
            "qoauth",
            "serve",
            "--tls-generate",
            "--tls-cert",
            "c",
            "--tls-key",
            "k"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["qoauth", "serve", "--tls-cert", "c"]).is_err());
        let cli = Cli::try_parse_from([
            "qoauth",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Serve(s)) => {
                assert_eq!(s.addr.port(), 0);
                assert_eq!(s.tls_key, Some(PathBuf::from("k")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jobs_must_be_positive() {
        assert!(Cli::try_parse_from(["qoauth", "run", "--jobs", "0"]).is_err());
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:") && help.contains("2  the suite could not run"));
    }
}
