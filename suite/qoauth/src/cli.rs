//! The command line: what each subcommand accepts, and the exit-code contract in `--help`.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Send generated requests to a target and save every anomaly as a case file.
    ///
    /// Anomalies: 5xx answers, timeouts, dropped connections, errors outside the OAuth
    /// envelope, secrets echoed, redirects to unregistered URIs, statuses the spec does not
    /// list, unreadable bodies. Requests stop at the budget or the duration, whichever
    /// comes first, or when the target stops answering, and never exceed the rate.
    #[command(after_help = FUZZ_EXIT_CODES)]
    Fuzz(FuzzArgs),
    /// Regenerate the counts and indexes of cases/README.md from the case files.
    ///
    /// With --check, changes nothing and exits 1 when the README is stale.
    Index(IndexArgs),
    /// Run the detection matrix: the cases and properties against the reference with each
    /// deliberate fault.
    ///
    /// Exits 1 when a fault goes uncaught or the clean reference fails a case or property.
    #[cfg(feature = "faults")]
    Detect(crate::detect::DetectArgs),
    /// Run the latitude matrix: the cases and properties against the reference with each
    /// permitted variant, every one of which must pass.
    ///
    /// Exits 1 when a variant fails or errs a case or property, or warns otherwise than it
    /// declares.
    #[cfg(feature = "faults")]
    Latitude(crate::latitude::LatitudeArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The catalogue directory whose README.md to index.
    #[arg(long, default_value = "cases")]
    pub cases: std::path::PathBuf,
    /// Report whether the README is current instead of rewriting it.
    #[arg(long)]
    pub check: bool,
}

pub const FUZZ_EXIT_CODES: &str = "\
Exit codes:
  0  no anomaly found
  1  at least one anomaly found (case files written to --out)
  2  could not fuzz: bad arguments or profile, a target host the profile does not allow,
     an unreachable target, or case files that could not be written";

#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// Base URL of the server to fuzz. Without it the embedded reference server is started
    /// on a free loopback port.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// Profile of the target: its clients, users and secrets are what the generator uses,
    /// its allowed_hosts, request_budget and rate_limit bound the run. Defaults to the
    /// reference server's profile.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,

    /// Stop after this long: `90s`, `5m`, `1h`, `500ms` (a bare number is seconds).
    #[arg(long, value_name = "D", default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Send at most this many requests [default: the profile's request_budget, else 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub budget: Option<u64>,

    /// Requests per second at most; the profile's rate_limit still caps it
    /// [default: the profile's rate_limit, else 50].
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Seed of the request stream; the same seed replays the same requests
    /// [default: random, printed].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Where case files of anomalies go, one per distinct anomaly.
    #[arg(long, value_name = "DIR", default_value = "reports/fuzz")]
    pub out: PathBuf,
}

/// Durations as people write them on a command line; humantime-style suffixes without
/// pulling in a crate for four units.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 1h or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h"
            ))
        }
    };
    if !(seconds > 0.0 && seconds.is_finite() && seconds < 1e9) {
        return Err(format!("{text:?} must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of requests per second"
        )),
    }
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

    /// Directory of case files [default: the repository's cases/]. With --properties, the
    /// number of generated cases per property instead [default: 256].
    #[arg(long, value_name = "DIR|N")]
    pub cases: Option<PathBuf>,

    /// Run the properties (generated requests and sequences, judged by rule) instead of
    /// the scenario cases; --filter then picks properties by name.
    #[arg(long, conflicts_with_all = ["dry_run", "exact"])]
    pub properties: bool,

    /// With --properties, the seed every generator derives from; the same seed replays
    /// the same run [default: random, printed first].
    #[arg(long, value_name = "S", requires = "properties")]
    pub seed: Option<u64>,

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

    /// Break one rule on purpose (repeatable); names as in reports/detection.md.
    #[cfg(feature = "faults")]
    #[arg(long = "fault", value_name = "NAME")]
    pub faults: Vec<String>,

    /// Behave as a correct tenant that chose differently where the spec and RFCs allow
    /// (repeatable); names and clauses as in reports/latitude.md.
    #[arg(long = "variant", value_name = "NAME")]
    pub variants: Vec<String>,

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

/// A seed for a run that was not given one (properties, remote fuzzing); the commands
/// print it so the run can be replayed.
pub(crate) fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()).rotate_left(32)
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
    fn durations_take_the_usual_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        for bad in ["", "s", "0s", "-5s", "5 weeks", "1.2.3s", "1e400s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn properties_flags_combine_only_where_they_mean_something() {
        let cli = Cli::try_parse_from([
            "qoauth",
            "run",
            "--properties",
            "--cases",
            "8",
            "--seed",
            "7",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Run(r)) => {
                assert!(r.properties);
                assert_eq!(r.seed, Some(7));
                assert_eq!(r.cases, Some(PathBuf::from("8")));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["qoauth", "run", "--seed", "7"]).is_err());
        assert!(Cli::try_parse_from(["qoauth", "run", "--properties", "--dry-run"]).is_err());
    }

    #[test]
    fn fuzz_defaults_and_bounds() {
        let cli = Cli::try_parse_from(["qoauth", "fuzz"]).unwrap();
        match cli.command {
            Some(Command::Fuzz(f)) => {
                assert_eq!(f.duration, Duration::from_secs(60));
                assert_eq!(f.out, PathBuf::from("reports/fuzz"));
                assert!(f.target.is_none() && f.budget.is_none() && f.rate.is_none());
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            ["--budget", "0"],
            ["--rate", "0"],
            ["--rate", "inf"],
            ["--duration", "soon"],
        ] {
            let mut argv = vec!["qoauth", "fuzz"];
            argv.extend(bad);
            assert!(Cli::try_parse_from(&argv).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:") && help.contains("2  the suite could not run"));
    }
}
