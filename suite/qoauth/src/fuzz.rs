//! `qoauth fuzz`: generated requests against any target, anomalies saved as case files.

use crate::cli::FuzzArgs;
use anyhow::{bail, Context};
use qoauth_fuzzgen::vocabulary::{ClientInfo, UserInfo};
use qoauth_fuzzgen::Vocabulary;
use qoauth_harness::profile::Profile;
use qoauth_remote_fuzz::{RemoteFuzzConfig, RemoteFuzzSummary};

/// Requests sent at most when neither `--budget` nor the profile says.
const DEFAULT_BUDGET: u64 = 10_000;
/// Requests per second at most when neither `--rate` nor the profile says: gentle enough
/// for a shared test tenant.
const DEFAULT_RATE: f64 = 50.0;

/// How a fuzzing run that got to the end ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Clean,
    Anomalies,
}

/// What the generator may say and what must never come back: the profile's clients,
/// users and scopes, with every secret it holds (client secrets, session credentials).
fn vocabulary_of(profile: &Profile) -> Vocabulary {
    let mut vocabulary = Vocabulary {
        scopes: profile
            .scopes_allowed
            .iter()
            .chain(&profile.scopes_forbidden)
            .cloned()
            .collect(),
        ..Vocabulary::default()
    };
    for (role, client) in &profile.clients {
        vocabulary.clients.push(ClientInfo {
            role: role.clone(),
            id: client.id.clone(),
            secrets: client.secret.iter().cloned().collect(),
            redirect_uris: client.redirect_uri.iter().cloned().collect(),
            scopes: client
                .scope
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    for (role, user) in &profile.users {
        vocabulary.users.push(UserInfo {
            role: role.clone(),
            subject: user.subject.clone().unwrap_or_default(),
            user_id: user.user_id.clone().unwrap_or_default(),
            email: user.email.clone().unwrap_or_default(),
        });
    }
    let client_secrets: Vec<&str> = vocabulary.secrets();
    let extra: Vec<String> = profile
        .secrets()
        .into_iter()
        .map(|(_, value)| value)
        .filter(|value| !client_secrets.contains(&value.as_str()))
        .collect();
    vocabulary.extra_secrets = extra;
    vocabulary
}

/// The smaller of the command line's and the profile's limit: the profile protects its
/// target, the flag can only tighten it.
fn tighter<T: PartialOrd + Copy>(flag: Option<T>, profile: Option<T>, default: T) -> T {
    match (flag, profile) {
        (Some(a), Some(b)) => {
            if a < b {
                a
            } else {
                b
            }
        }
        (a, b) => a.or(b).unwrap_or(default),
    }
}

fn summary_text(summary: &RemoteFuzzSummary, out: &std::path::Path) -> String {
    let seconds = summary.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        summary.sent as f64 / seconds
    } else {
        0.0
    };
    let mut text = format!(
        "sent {} request(s) in {seconds:.1} s ({rate:.0} requests/s), {} could not be sent\n",
        summary.sent, summary.transport_errors
    );
    if let Some(why) = &summary.stalled {
        text.push_str(&format!("stopped early: {why}\n"));
    }
    if summary.by_kind.is_empty() {
        text.push_str("anomalies: none\n");
    } else {
        let kinds: Vec<String> = summary
            .by_kind
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        text.push_str(&format!(
            "anomalies: {} ({})\n",
            summary.anomalies,
            kinds.join(", ")
        ));
    }
    text.push_str(&format!(
        "case files: {} written to {}\n",
        summary.case_files.len(),
        out.display()
    ));
    for path in &summary.case_files {
        text.push_str(&format!("  {}\n", path.display()));
    }
    text
}

/// Runs `qoauth fuzz`; an `Err` means it could not fuzz (exit 2).
pub async fn fuzz(args: FuzzArgs) -> anyhow::Result<Outcome> {
    let (profile, vocabulary, embedded) = if args.target.is_some() || args.profile.is_some() {
        let profile = crate::run::profile_for(args.target.as_deref(), args.profile.as_deref())?;
        qoauth_harness::preflight(&profile).await?;
        // Without a profile the target is taken for a reference server: its full fixture
        // gives the generator every client and secret, not only the profile's roles.
        let vocabulary = if args.profile.is_some() {
            vocabulary_of(&profile)
        } else {
            Vocabulary::default_fixture()
        };
        (profile, vocabulary, None)
    } else {
        let embedded = qoauth_harness::embedded::start()
            .await
            .context("cannot start the embedded reference server")?;
        (
            embedded.profile.clone(),
            Vocabulary::default_fixture(),
            Some(embedded),
        )
    };
    let seed = args.seed.unwrap_or_else(crate::cli::fresh_seed);
    let budget = tighter(args.budget, profile.request_budget, DEFAULT_BUDGET);
    let rate = tighter(args.rate, profile.rate_limit, DEFAULT_RATE);
    let mut config = RemoteFuzzConfig::new(profile.clone(), vocabulary, args.out.clone());
    config.budget = budget;
    config.rate_per_second = rate;
    config.duration = args.duration;
    config.seed = seed;
    println!(
        "fuzzing {} (profile {}): at most {} request(s), {} s, {} requests/s; seed {seed} (replay with --seed {seed})",
        profile.base(),
        profile.name,
        config.budget,
        config.duration.as_secs_f64(),
        config.rate_per_second
    );
    let result = qoauth_remote_fuzz::fuzz_remote(config).await;
    if let Some(server) = embedded {
        server.shutdown().await;
    }
    let summary = result
        .with_context(|| format!("fuzzing stopped (case files go to {})", args.out.display()))?;
    print!("{}", summary_text(&summary, &args.out));
    if summary.sent > 0 && summary.transport_errors == summary.sent {
        bail!("no request reached {}", profile.base());
    }
    Ok(if summary.anomalies > 0 {
        Outcome::Anomalies
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_take_the_tighter_of_flag_and_profile() {
        assert_eq!(tighter(Some(5), Some(9), 100), 5);
        assert_eq!(tighter(Some(50), Some(9), 100), 9);
        assert_eq!(tighter(None, Some(9), 100), 9);
        assert_eq!(tighter(Some(7), None, 100), 7);
        assert_eq!(tighter::<u64>(None, None, 100), 100);
    }

    #[test]
    fn the_profile_vocabulary_carries_every_secret_and_role() {
        let profile = qoauth_harness::profile::reference_profile().unwrap();
        let vocabulary = vocabulary_of(&profile);
        let secrets = vocabulary.secrets();
        for (name, value) in profile.secrets() {
            assert!(secrets.contains(&value.as_str()), "{name} missing");
        }
        assert!(!secrets.is_empty());
        let confidential = vocabulary
            .clients
            .iter()
            .find(|c| c.role == "confidential")
            .expect("confidential role");
        assert_eq!(confidential.id, profile.clients["confidential"].id);
        assert!(vocabulary.users.iter().any(|u| u.role == "default"));
        assert!(!vocabulary.scopes.is_empty());
    }
}
