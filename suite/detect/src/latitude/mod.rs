//! The latitude matrix, the detection matrix's mirror: a correct server that chose
//! differently wherever the spec and the RFCs leave a choice must pass.
//!
//! Each entry is a target the reference can pretend to be: one or more of its variants
//! ([`qoauth_reference::Variant`]), or a fixture that differs in configuration only, with the
//! profile such a target's owner would write (features it does not offer switched off,
//! fidelity `rfc`). The whole catalogue and the properties run against it. An entry passes
//! when no case or property fails or errs at any level, and the SHOULD warnings are exactly
//! the ones the entry declares: a variant that drops a SHOULD is warned about, and nothing
//! else is.
//!
//! As with the detection matrix, [`run()`] decides every outcome and [`render()`] only
//! writes down a finished set of rows.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use qoauth_harness::result::{CaseResult, Level, Verdict};
use qoauth_harness::{Case, Catalogue, Profile};
use qoauth_reference::{Faults, Fixture, RunningServer, Tls, Variant, Variants};

use crate::run::{
    expect_short_lifetimes, properties_against, put_in_place, reference_profile, run_against,
    short_lived, waits, ScratchDir,
};
use crate::{DetectError, MatrixOptions};

mod render;

pub use render::render;

/// One target of the latitude matrix.
pub struct Entry {
    /// The entry's name: its variant's, or the fixture's.
    pub name: &'static str,
    /// Variants the server runs with (several: a combination).
    pub variants: &'static [Variant],
    /// A fixture of `suite/reference/fixtures/latitude/` instead of the default one.
    pub fixture: Option<&'static str>,
    /// For a fixture entry, the clause that permits its configuration and its words
    /// (variants carry their own).
    pub permission: Option<(&'static str, &'static str)>,
    /// What the target's profile says differently from the reference's.
    pub profile: fn(&mut Profile),
    /// The SHOULD cases (and properties, as `property.NAME`) the entry is warned about:
    /// the recommendations it does not follow.
    pub warns: &'static [&'static str],
}

fn unchanged(_: &mut Profile) {}

fn no_discovery(p: &mut Profile) {
    p.discovery = false;
}

fn no_public_refresh(p: &mut Profile) {
    p.refresh_public = false;
}

/// SHOULD cases each variant is warned about: the recommendations it does not follow.
const DUPLICATES: &[&str] = &[
    "authorize.error_redirect.duplicate_code_challenge",
    "authorize.error_redirect.duplicate_response_type",
    "authorize.error_redirect.duplicate_scope",
    "authorize.error_redirect.duplicate_state",
    "token.authorization_code.duplicate_code",
    "token.client_credentials.duplicate_client_secret",
    "token.client_credentials.duplicate_grant_type",
    "token.client_credentials.duplicate_scope",
    "token.refresh_token.duplicate_refresh_token",
    "token.token_exchange.duplicate_purpose",
];
const TWO_AUTH_METHODS: &[&str] = &[
    "token.client_auth_multiple.basic_and_assertion",
    "token.client_auth_multiple.basic_and_body_form",
    "token.client_auth_multiple.basic_and_body_secret",
];
const MEDIA_TYPES: &[&str] = &[
    "cross.content_types.missing_content_type",
    "cross.content_types.text_plain",
    "revoke.request.wrong_content_type",
];
const LENIENT_PARSING: &[&str] = &[
    "authorize.error_redirect.duplicate_code_challenge",
    "authorize.error_redirect.duplicate_response_type",
    "authorize.error_redirect.duplicate_scope",
    "authorize.error_redirect.duplicate_state",
    "cross.content_types.missing_content_type",
    "cross.content_types.text_plain",
    "revoke.request.wrong_content_type",
    "token.authorization_code.duplicate_code",
    "token.client_auth_multiple.basic_and_assertion",
    "token.client_auth_multiple.basic_and_body_form",
    "token.client_auth_multiple.basic_and_body_secret",
    "token.client_credentials.duplicate_client_secret",
    "token.client_credentials.duplicate_grant_type",
    "token.client_credentials.duplicate_scope",
    "token.refresh_token.duplicate_refresh_token",
    "token.token_exchange.duplicate_purpose",
];

/// Every entry, in the order `reports/latitude.md` lists them.
pub fn entries() -> Vec<Entry> {
    use Variant::*;
    let one = |variant: &'static [Variant], warns: &'static [&'static str]| Entry {
        name: variant[0].name(),
        variants: variant,
        fixture: None,
        permission: None,
        profile: unchanged,
        warns,
    };
    vec![
        one(&[Forbidden403], &[]),
        one(&[InvalidClientFirst], &[]),
        one(&[MissingGrant401], &[]),
        one(&[InvalidGrant400], &[]),
        one(&[AssertionKidOptional], &[]),
        one(&[AssertionReplayAllowed], &[]),
        one(&[AssertionJtiOptional], &[]),
        one(&[RefreshKeptConfidential], &[]),
        Entry {
            profile: no_public_refresh,
            ..one(&[RefreshNoneForPublic], &[])
        },
        one(&[RefreshWithoutOfflineAccess], &[]),
        one(
            &[RotationWithoutFamilyRevocation],
            &["token.refresh_token.reuse_revokes_family"],
        ),
        one(
            &[AccessSurvivesRefreshRevocation],
            &[
                "revoke.effect.refresh_revocation_kills_access_tokens",
                "revoke.effect.refresh_revocation_kills_rotated_access_tokens",
            ],
        ),
        one(
            &[AccessRevocationUnsupported],
            &[
                "property.rfc7009_2_revoked_access_token_unusable",
                "revoke.effect.access_token_hinted_as_refresh",
                "revoke.effect.access_token_unusable",
                "revoke.real_clients.ts_deauthorize_effective",
            ],
        ),
        one(
            &[RevokeIgnoresClient],
            &[
                "revoke.client_auth.wrong_secret",
                "revoke.effect.other_clients_token_survives",
            ],
        ),
        one(&[ExchangeAnyClient], &[]),
        one(&[ExchangeMachineTokens], &[]),
        one(&[ScopeNarrowing], &[]),
        one(&[DuplicateFirstWins], DUPLICATES),
        one(&[OneAuthMethodUsed], TWO_AUTH_METHODS),
        one(&[MediaTypeSniffed], MEDIA_TYPES),
        one(&[UserLookupJsonString], &[]),
        Entry {
            profile: no_discovery,
            ..one(&[NoDiscovery], &[])
        },
        one(
            &[Bare405],
            &[
                "cross.faults_methods.revoke_get_envelope",
                "cross.faults_methods.token_put_envelope",
            ],
        ),
        one(&[NoRetryAfter], &[]),
        one(&[ChallengeOptional], &[]),
        one(&[DisablingRevokesGrants], &[]),
        Entry {
            name: "assertion-long-lifetime",
            variants: &[],
            fixture: Some("assertion-long-lifetime.json"),
            permission: Some((
                "RFC 7523 3",
                "The authorization server MAY reject JWTs with an \"exp\" claim value that is unreasonably far in the future.",
            )),
            profile: unchanged,
            warns: &[],
        },
        Entry {
            name: "larger-burst",
            variants: &[],
            fixture: Some("larger-burst.json"),
            permission: Some((
                "spec x-qlik-tier",
                "The tiers document the allowance a client can rely on (tier 2: 100 a minute); a tenant may allow more.",
            )),
            profile: unchanged,
            warns: &[],
        },
        // Combinations: choices that meet in one code path.
        Entry {
            name: "lenient-refresh",
            profile: no_public_refresh,
            ..one(
                &[
                    RefreshKeptConfidential,
                    RefreshNoneForPublic,
                    RefreshWithoutOfflineAccess,
                ],
                &[],
            )
        },
        Entry {
            name: "rfc-statuses",
            ..one(
                &[Forbidden403, InvalidClientFirst, MissingGrant401, InvalidGrant400],
                &[],
            )
        },
        Entry {
            name: "lenient-assertions",
            ..one(
                &[
                    AssertionKidOptional,
                    AssertionReplayAllowed,
                    AssertionJtiOptional,
                ],
                &[],
            )
        },
        Entry {
            name: "lenient-parsing",
            ..one(
                &[
                    DuplicateFirstWins,
                    OneAuthMethodUsed,
                    MediaTypeSniffed,
                    UserLookupJsonString,
                ],
                LENIENT_PARSING,
            )
        },
    ]
}

impl Entry {
    /// The clauses that permit the entry, with their words, one per variant or fixture.
    pub fn permissions(&self) -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<_> = self
            .variants
            .iter()
            .map(|v| (v.clause(), v.quote()))
            .collect();
        out.extend(self.permission);
        out
    }

    /// What the entry's server does differently, in one line.
    pub fn behaviour(&self) -> String {
        match (self.variants, self.fixture) {
            ([v], None) => v.behaviour().to_string(),
            (vs, None) => vs.iter().map(|v| v.name()).collect::<Vec<_>>().join(" + "),
            (_, Some(f)) => format!("fixture `fixtures/latitude/{f}`"),
        }
    }

    fn fixture(&self) -> Result<Fixture, DetectError> {
        match self.fixture {
            None => Ok(Fixture::default_fixture()),
            Some(name) => {
                let path = fixture_dir().join(name);
                Fixture::from_path(&path).map_err(|source| DetectError::Fixture {
                    fixture: path.display().to_string(),
                    source,
                })
            }
        }
    }
}

/// `suite/reference/fixtures/latitude/`.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference/fixtures/latitude")
}

/// What one entry's runs showed.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: &'static str,
    /// Verdict counts of the cases: pass, fail, warn, skip, info, error.
    pub cases: Counts,
    /// Verdict counts of the properties.
    pub properties: Counts,
    /// Cases and properties that failed or erred, with why: each is a case that demands
    /// more than its clause (or a broken variant).
    pub failures: Vec<(String, Verdict, String)>,
    /// Ids that warned.
    pub warned: BTreeSet<String>,
    /// Ids the entry declares it is warned about.
    pub declared: BTreeSet<String>,
}

impl Row {
    /// No failure or error, and warned exactly as declared.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.warned == self.declared
    }
}

/// Verdict counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub info: usize,
    pub error: usize,
}

impl Counts {
    fn of(results: &[CaseResult]) -> Counts {
        let mut c = Counts::default();
        for r in results {
            *match r.verdict {
                Verdict::Pass => &mut c.pass,
                Verdict::Fail => &mut c.fail,
                Verdict::Warn => &mut c.warn,
                Verdict::Skip => &mut c.skip,
                Verdict::Info => &mut c.info,
                Verdict::Error => &mut c.error,
            } += 1;
        }
        c
    }
}

/// The profile of an entry's target: the reference's, at fidelity `rfc`, with what the
/// entry's owner would say differently.
fn profile_for(entry: &Entry, timeout: std::time::Duration) -> Result<Profile, DetectError> {
    let mut p = reference_profile()?;
    p.fidelity = qoauth_harness::profile::Fidelity::Rfc;
    p.request_timeout = timeout;
    p.case_timeout = timeout * 4;
    // Destructive cases run too: each entry has a server of its own.
    (entry.profile)(&mut p);
    Ok(p)
}

/// The three runs of an entry, each against a server of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// The catalogue, on the entry's fixture as it is.
    Cases,
    /// The cases that wait out a lifetime, on the entry's fixture with codes and refresh
    /// tokens short-lived enough to wait out (the catalogue run skips them).
    Waits,
    Properties,
}

async fn spawn(entry: &Entry, run: Run) -> Result<RunningServer, DetectError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let fixture = match run {
        Run::Waits => short_lived(&entry.fixture()?, entry.name)?,
        Run::Cases | Run::Properties => entry.fixture()?,
    };
    qoauth_reference::spawn_varied(
        fixture,
        addr,
        Tls::None,
        Faults::default(),
        Variants::of(entry.variants.iter().copied()),
    )
    .await
    .map_err(|e| DetectError::Server {
        server: format!("the reference as latitude entry {}", entry.name),
        source: e,
    })
}

/// Runs every entry (or those named in `only`): its catalogue run and its property run,
/// each against a server of its own, `opts.parallel_faults` runs at a time.
pub async fn run(
    catalogue: &Catalogue,
    opts: &MatrixOptions,
    only: &[String],
) -> Result<Vec<Row>, DetectError> {
    let cases: Arc<Vec<Arc<Case>>> = Arc::new(catalogue.cases.clone());
    let opts = Arc::new(opts.clone());
    let entries: Vec<Entry> = entries()
        .into_iter()
        .filter(|e| only.is_empty() || only.iter().any(|o| o == e.name))
        .collect();
    let scratch = ScratchDir::new()?;
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.parallel_faults.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let waiting: Arc<Vec<Arc<Case>>> =
        Arc::new(cases.iter().filter(|c| waits(c)).cloned().collect());
    for (i, entry) in entries.iter().enumerate() {
        let runs: &[Run] = if opts.property_cases > 0 {
            &[Run::Cases, Run::Waits, Run::Properties]
        } else {
            &[Run::Cases, Run::Waits]
        };
        for &run in runs {
            let mut profile = profile_for(entry, opts.patient_timeout)?;
            if run == Run::Waits {
                expect_short_lifetimes(&mut profile);
            }
            let server = spawn(entry, run).await?;
            let cases = Arc::clone(if run == Run::Waits { &waiting } else { &cases });
            let (opts, sem) = (Arc::clone(&opts), Arc::clone(&sem));
            let out_dir = scratch.path().join(format!("{}-{i}", entry.name));
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let results = match run {
                    Run::Properties => properties_against(&profile, server, &opts, out_dir).await?,
                    Run::Cases | Run::Waits => run_against(&cases, &profile, server, &opts).await?,
                };
                Ok::<_, DetectError>((i, run, results))
            });
        }
    }
    // Per entry: the catalogue's results, the waiting cases' and the properties'.
    let mut results: Vec<[Vec<CaseResult>; 3]> =
        entries.iter().map(|_| Default::default()).collect();
    while let Some(joined) = set.join_next().await {
        let (i, run, r) = joined.map_err(|source| DetectError::Aborted {
            run: "a run of the latitude matrix",
            source,
        })??;
        results[i][run as usize] = r;
    }
    for [cases, waited, _] in &mut results {
        // A waiting case's own run takes the place of the catalogue run's skip.
        for r in waited.drain(..) {
            put_in_place(cases, r);
        }
    }
    drop(scratch);
    Ok(entries
        .iter()
        .zip(results)
        .map(|(entry, [cases, _, props])| row(entry, &cases, &props))
        .collect())
}

fn row(entry: &Entry, cases: &[CaseResult], props: &[CaseResult]) -> Row {
    let all = cases.iter().chain(props);
    let failures = all
        .clone()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
        .map(|r| {
            (
                r.id.clone(),
                r.verdict,
                r.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    let warned = all
        .filter(|r| r.verdict == Verdict::Warn && r.level == Level::Should)
        .map(|r| r.id.clone())
        .collect();
    Row {
        name: entry.name,
        cases: Counts::of(cases),
        properties: Counts::of(props),
        failures,
        warned,
        declared: entry.warns.iter().map(|w| w.to_string()).collect(),
    }
}
