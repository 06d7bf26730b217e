//! Strategies: valid requests for each endpoint, grant and client authentication method,
//! built from what the profile offers, and mutations of them (missing, duplicated, empty,
//! oversized, wrongly typed or encoded fields; both content types and wrong ones;
//! unicode; stray parameters; the quirks of the official clients). Mutations are a list
//! applied to a valid base, so shrinking removes them one by one and a failure ends as
//! the valid request plus the one mutation that matters.

use crate::scenario::{Carrier, Req, Scenario, Step};
use proptest::prelude::*;
use qoauth_harness::profile::Profile;
use serde_json::{json, Value};

pub const GRANT_CC: &str = "client_credentials";
pub const GRANT_IMPERSONATION: &str = "urn:qlik:oauth:user-impersonation";
pub const GRANT_CODE: &str = "authorization_code";
pub const GRANT_REFRESH: &str = "refresh_token";
pub const GRANT_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TOKEN_TYPE_AT: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const TOKEN: &str = "/oauth/token";
pub const REVOKE: &str = "/oauth/revoke";
pub const AUTHORIZE: &str = "/oauth/authorize";
/// Above the reference's body cap (64 KiB), below what a hang would need.
pub const OVERSIZE: u32 = 70_000;

/// What the profile lets the generators use.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Client roles with a secret (never `limited`: its tiny rate limit would drown
    /// every property in 429s).
    pub secret_roles: Vec<String>,
    /// Roles that can sign in users (have a redirect URI and no consent step).
    pub login_roles: Vec<String>,
    pub impersonation: bool,
    pub assertion: bool,
    pub unregistered_key: bool,
    pub login: bool,
    pub token_exchange: bool,
    pub public: bool,
    pub scopes_allowed: Vec<String>,
    pub scopes_forbidden: Vec<String>,
    pub user_roles: Vec<String>,
    /// Whether the profile asks for fidelity to the real service's own choices.
    pub qlik_fidelity: bool,
}

impl Vocab {
    pub fn of(p: &Profile) -> Vocab {
        let has = |r: &str| p.clients.contains_key(r);
        let secret_roles = ["confidential", "impersonation"]
            .iter()
            .filter(|r| p.clients.get(**r).is_some_and(|c| c.secret.is_some()))
            .map(|r| r.to_string())
            .collect();
        let login_roles = ["public", "confidential"]
            .iter()
            .filter(|r| p.clients.get(**r).is_some_and(|c| c.redirect_uri.is_some()))
            .filter(|r| **r == "public" || p.clients[**r].secret.is_some())
            .map(|r| r.to_string())
            .collect();
        Vocab {
            secret_roles,
            login_roles,
            impersonation: p
                .clients
                .get("impersonation")
                .is_some_and(|c| c.secret.is_some()),
            assertion: p
                .clients
                .get("assertion")
                .is_some_and(|c| !c.keys.is_empty()),
            unregistered_key: p.unregistered_key.is_some(),
            login: !matches!(
                p.login,
                qoauth_harness::profile::LoginMode::None
                    | qoauth_harness::profile::LoginMode::Interactive
            ),
            token_exchange: p.token_exchange && has("public"),
            public: has("public"),
            qlik_fidelity: p.fidelity == qoauth_harness::profile::Fidelity::Qlik,
            scopes_allowed: if p.scopes_allowed.is_empty() {
                vec!["user_default".into()]
            } else {
                p.scopes_allowed.clone()
            },
            scopes_forbidden: p.scopes_forbidden.clone(),
            user_roles: ["default", "other"]
                .iter()
                .filter(|r| p.users.get(**r).is_some_and(|u| u.subject.is_some()))
                .map(|r| r.to_string())
                .collect(),
        }
    }

    /// Whether code flows (login, redeem, refresh) can run on this target.
    pub fn flows(&self) -> bool {
        self.login && !self.login_roles.is_empty()
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn id_of(role: &str) -> Value {
    s(&format!("{{{{clients.{role}.id}}}}"))
}

/// How a client proves who it is on /oauth/token.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the body ([API]).
    BodySecret,
    /// `Authorization: Basic`, form-encoded parts first (RFC 6749 2.3.1); `with_id` keeps
    /// `client_id` in the body too ([TS]), without it is [PY].
    Basic { with_id: bool, form_encode: bool },
    /// A Basic header that is not a valid one.
    BasicMalformed(&'static str),
    /// Right id, wrong secret.
    WrongSecret,
    /// A private-key JWT (RFC 7523 2.2), in one of its valid or broken variants.
    Assertion(AssertionKind),
    /// No credentials at all.
    None,
}

/// Client assertion variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionKind {
    Valid,
    ValidRs256,
    Expired,
    WrongAudience,
    WrongKey,
    AlgNone,
    Hs256,
    NoKid,
    TooLong,
}

impl AssertionKind {
    /// The `client_assertion` generator of the case format.
    pub fn generator(self) -> Value {
        let mut g = json!({"client": "assertion"});
        match self {
            AssertionKind::Valid => {}
            AssertionKind::ValidRs256 => g["alg"] = s("RS256"),
            AssertionKind::Expired => {
                g["exp_in"] = json!(-120);
                g["iat_offset"] = json!(-400);
            }
            AssertionKind::WrongAudience => {
                g["claims"] = json!({"aud": "{{base_url}}/oauth/token/"})
            }
            AssertionKind::WrongKey => g["key"] = s("unregistered"),
            AssertionKind::AlgNone => g["alg"] = s("none"),
            AssertionKind::Hs256 => g["alg"] = s("HS256"),
            AssertionKind::NoKid => g["kid"] = Value::Null,
            AssertionKind::TooLong => g["exp_in"] = json!(3600),
        }
        json!({ "client_assertion": g })
    }
}

pub fn assertion_kind(v: &Vocab) -> BoxedStrategy<AssertionKind> {
    let mut kinds = vec![
        AssertionKind::Valid,
        AssertionKind::ValidRs256,
        AssertionKind::Expired,
        AssertionKind::WrongAudience,
        AssertionKind::AlgNone,
        AssertionKind::Hs256,
        AssertionKind::NoKid,
        AssertionKind::TooLong,
    ];
    if v.unregistered_key {
        kinds.push(AssertionKind::WrongKey);
    }
    prop::sample::select(kinds).boxed()
}

const MALFORMED_BASIC: &[&str] = &[
    "Basic",
    "Basic ",
    "Basic !!!not-base64!!!",
    "Basic bm9jb2xvbg==",
    "Basic Og==",
    "Basic d2ViLWNvbmZpZGVudGlhbDo=",
    "Basic  d2ViLWNvbmZpZGVudGlhbDp4",
    "Bearer d2ViLWNvbmZpZGVudGlhbDp4",
    "Basic d2ViLWNvbmZpZGVudGlhbDp4 extra",
    "Basic =====",
    "Digest username=\"x\"",
];

/// Client authentication for a role that holds a secret.
pub fn secret_auth() -> BoxedStrategy<ClientAuth> {
    prop_oneof![
        4 => Just(ClientAuth::BodySecret),
        3 => (any::<bool>(), any::<bool>()).prop_map(|(with_id, form_encode)| ClientAuth::Basic { with_id, form_encode }),
        1 => prop::sample::select(MALFORMED_BASIC).prop_map(ClientAuth::BasicMalformed),
        1 => Just(ClientAuth::WrongSecret),
        1 => Just(ClientAuth::None),
    ]
    .boxed()
}

/// Puts a role's credentials on a request; returns the `let` bindings they need.
pub fn apply_auth(req: &mut Req, role: &str, auth: &ClientAuth) -> Vec<(String, Value)> {
    let mut lets = Vec::new();
    match auth {
        ClientAuth::BodySecret => {
            req.set("client_id", id_of(role));
            req.set(
                "client_secret",
                s(&format!("{{{{clients.{role}.secret}}}}")),
            );
        }
        ClientAuth::Basic {
            with_id,
            form_encode,
        } => {
            if *with_id {
                req.set("client_id", id_of(role));
            }
            lets.push((
                "basic".into(),
                json!({"basic": {"user": format!("{{{{clients.{role}.id}}}}"), "password": format!("{{{{clients.{role}.secret}}}}"), "form_encode": form_encode}}),
            ));
            req.headers
                .push(("authorization".into(), "{{basic}}".into()));
        }
        ClientAuth::BasicMalformed(h) => {
            req.set("client_id", id_of(role));
            req.headers.push(("authorization".into(), h.to_string()));
        }
        ClientAuth::WrongSecret => {
            req.set("client_id", id_of(role));
            req.set("client_secret", s("wrong-secret-0000000000"));
        }
        ClientAuth::Assertion(kind) => {
            req.set("client_id", id_of("assertion"));
            req.set("client_assertion_type", s(ASSERTION_TYPE));
            req.set("client_assertion", s("{{assertion}}"));
            lets.push(("assertion".into(), kind.generator()));
        }
        ClientAuth::None => {
            req.set("client_id", id_of(role));
        }
    }
    lets
}

/// A body carrier: mostly the two the spec names, sometimes a wrong or missing type.
pub fn body_carrier() -> BoxedStrategy<Carrier> {
    prop_oneof![
        6 => Just(Carrier::Json),
        4 => Just(Carrier::Form),
        1 => prop::sample::select(vec![
            Carrier::JsonAs(Some("application/json; charset=utf-8".into())),
            Carrier::FormAs(Some("application/x-www-form-urlencoded; charset=UTF-8".into())),
            Carrier::JsonAs(Some("text/plain".into())),
            Carrier::JsonAs(Some("application/x-www-form-urlencoded".into())),
            Carrier::FormAs(Some("application/json".into())),
            Carrier::FormAs(Some("multipart/form-data; boundary=x".into())),
            Carrier::JsonAs(None),
            Carrier::FormAs(None),
            Carrier::JsonAs(Some("APPLICATION/JSON".into())),
        ]),
    ]
    .boxed()
}

/// A space-separated scope drawn from allowed, forbidden and unknown names.
pub fn scope(v: &Vocab) -> BoxedStrategy<Option<String>> {
    let mut names = v.scopes_allowed.clone();
    names.extend(v.scopes_forbidden.iter().cloned());
    names.push("bogus:scope".into());
    names.push("apps".into());
    let allowed = v.scopes_allowed.clone();
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        4 => prop::sample::subsequence(allowed.clone(), 1..=allowed.len()).prop_map(|x| Some(x.join(" "))),
        2 => prop::collection::vec(prop::sample::select(names), 1..4).prop_map(|x| Some(x.join(" "))),
    ]
    .boxed()
}

/// A code verifier of the RFC 7636 4.1 alphabet and length.
pub fn verifier() -> BoxedStrategy<String> {
    "[A-Za-z0-9._~-]{43,128}".boxed()
}

fn state() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z0-9]{7}",
        3 => "[A-Za-z0-9_-]{43}",
        1 => "[a-z0-9 +/=%&]{1,12}",
        1 => "\\PC{1,6}",
    ]
    .boxed()
}

/// One change to a valid request.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Remove(usize),
    Duplicate(usize),
    Empty(usize),
    Oversize(usize),
    WrongType(usize, Value),
    Unicode(usize, String),
    BadPercent(usize),
    Stray(String, String),
    RenameCase(usize),
    Carrier(Carrier),
    Method(&'static str),
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    let idx = 0usize..16;
    prop_oneof![
        3 => idx.clone().prop_map(Mutation::Remove),
        2 => idx.clone().prop_map(Mutation::Duplicate),
        2 => idx.clone().prop_map(Mutation::Empty),
        1 => idx.clone().prop_map(Mutation::Oversize),
        2 => (idx.clone(), prop::sample::select(vec![json!(12345), json!(true), Value::Null, json!(["x"]), json!({"x": "y"}), json!(1.5e300)]))
            .prop_map(|(i, v)| Mutation::WrongType(i, v)),
        2 => (idx.clone(), prop::sample::select(vec!["é", "\u{202e}evil", "😀", "\u{0}", "Ω≈ç√", "\u{feff}", "％"]).prop_map(str::to_string))
            .prop_map(|(i, u)| Mutation::Unicode(i, u)),
        1 => idx.clone().prop_map(Mutation::BadPercent),
        2 => (prop::sample::select(vec!["deviceType", "foo", "audience", "resource", "client_id ", "scope[]", "__proto__", "response_mode", "nonce"]), "[a-zA-Z0-9]{0,8}")
            .prop_map(|(k, v)| Mutation::Stray(k.to_string(), v)),
        1 => idx.clone().prop_map(Mutation::RenameCase),
        2 => body_carrier().prop_map(Mutation::Carrier),
        1 => prop::sample::select(vec!["GET", "PUT", "DELETE", "PATCH"]).prop_map(Mutation::Method),
    ]
    .boxed()
}

/// Applies mutations; oversized values need a `let`, which is returned.
pub fn mutate(mut req: Req, muts: &[Mutation]) -> (Req, Vec<(String, Value)>) {
    let mut lets = Vec::new();
    for m in muts {
        let n = req.params.len();
        let pick = |i: &usize| if n == 0 { None } else { Some(i % n) };
        match m {
            Mutation::Remove(i) => {
                if let Some(i) = pick(i) {
                    req.params.remove(i);
                }
            }
            Mutation::Duplicate(i) => {
                if let Some(i) = pick(i) {
                    let p = req.params[i].clone();
                    req.params.insert(i + 1, p);
                }
            }
            Mutation::Empty(i) => {
                if let Some(i) = pick(i) {
                    req.params[i].1 = s("");
                }
            }
            Mutation::Oversize(i) => {
                if let Some(i) = pick(i) {
                    req.params[i].1 = s("{{oversize}}");
                    lets.push((
                        "oversize".to_string(),
                        json!({"repeat": {"text": "A", "count": OVERSIZE}}),
                    ));
                }
            }
            Mutation::WrongType(i, v) => {
                if let Some(i) = pick(i) {
                    req.params[i].1 = v.clone();
                }
            }
            Mutation::Unicode(i, u) => {
                if let Some(i) = pick(i) {
                    let t = crate::scenario::text_of(&req.params[i].1);
                    req.params[i].1 = Value::String(format!("{t}{u}"));
                }
            }
            Mutation::BadPercent(i) => {
                if let Some(i) = pick(i) {
                    // Raw bodies carry it undecoded; encoded carriers send it literally.
                    if matches!(req.carrier, Carrier::Form) {
                        req.carrier =
                            Carrier::FormAs(Some("application/x-www-form-urlencoded".into()));
                    }
                    let t = crate::scenario::text_of(&req.params[i].1);
                    req.params[i].1 = Value::String(format!("{t}%zz%ff%"));
                }
            }
            Mutation::Stray(k, v) => req.params.push((k.clone(), s(v))),
            Mutation::RenameCase(i) => {
                if let Some(i) = pick(i) {
                    req.params[i].0 = req.params[i].0.to_ascii_uppercase();
                }
            }
            Mutation::Carrier(c) => {
                if req.method == "POST" {
                    req.carrier = c.clone();
                }
            }
            Mutation::Method(mth) => req.method = mth.to_string(),
        }
    }
    (req, lets)
}

/// A form body cannot carry JSON objects: impersonation's `user_lookup` becomes the
/// bracketed pair the notes describe (ambiguity 12).
fn flatten_for_form(req: &mut Req) {
    if matches!(req.carrier, Carrier::Json | Carrier::JsonAs(_)) {
        return;
    }
    let mut out = Vec::new();
    for (k, v) in req.params.drain(..) {
        match v {
            Value::Object(o) => {
                for (ik, iv) in o {
                    out.push((format!("{k}[{ik}]"), iv));
                }
            }
            other => out.push((k, other)),
        }
    }
    req.params = out;
}

/// A token request and the lets it needs, before mutation.
#[derive(Debug, Clone)]
pub struct Built {
    pub req: Req,
    pub lets: Vec<(String, Value)>,
}

/// A valid-looking /oauth/token request for a grant that needs no earlier step: client
/// credentials and impersonation with every auth method; code, refresh and exchange
/// grants with tokens the target never issued.
pub fn token_request(v: &Vocab) -> BoxedStrategy<Built> {
    let v1 = v.clone();
    let mut options: Vec<(u32, BoxedStrategy<Built>)> = Vec::new();
    if !v.secret_roles.is_empty() {
        let roles = v.secret_roles.clone();
        options.push((
            5,
            (
                prop::sample::select(roles),
                secret_auth(),
                scope(v),
                body_carrier(),
            )
                .prop_map(|(role, auth, sc, carrier)| {
                    let mut req =
                        Req::post(TOKEN, vec![("grant_type".into(), s(GRANT_CC))], carrier);
                    let lets = apply_auth(&mut req, &role, &auth);
                    if let Some(sc) = sc {
                        req.set("scope", s(&sc));
                    }
                    flatten_for_form(&mut req);
                    Built { req, lets }
                })
                .boxed(),
        ));
    }
    if v.assertion {
        options.push((
            3,
            (assertion_kind(v), scope(v), body_carrier())
                .prop_map(|(kind, sc, carrier)| {
                    let mut req =
                        Req::post(TOKEN, vec![("grant_type".into(), s(GRANT_CC))], carrier);
                    let lets = apply_auth(&mut req, "assertion", &ClientAuth::Assertion(kind));
                    if let Some(sc) = sc {
                        req.set("scope", s(&sc));
                    }
                    Built { req, lets }
                })
                .boxed(),
        ));
    }
    if v.impersonation && !v.user_roles.is_empty() {
        let users = v.user_roles.clone();
        options.push((
            3,
            (
                secret_auth(),
                prop::sample::select(users),
                any::<bool>(),
                scope(v),
                body_carrier(),
            )
                .prop_map(|(auth, user, by_subject, sc, carrier)| {
                    let mut req = Req::post(
                        TOKEN,
                        vec![("grant_type".into(), s(GRANT_IMPERSONATION))],
                        carrier,
                    );
                    let lets = apply_auth(&mut req, "impersonation", &auth);
                    let (field, value) = if by_subject {
                        ("subject", format!("{{{{users.{user}.subject}}}}"))
                    } else {
                        ("userId", format!("{{{{users.{user}.user_id}}}}"))
                    };
                    req.set("user_lookup", json!({"field": field, "value": value}));
                    if let Some(sc) = sc {
                        req.set("scope", s(&sc));
                    }
                    flatten_for_form(&mut req);
                    Built { req, lets }
                })
                .boxed(),
        ));
    }
    if v.public {
        options.push((
            2,
            (
                "[A-Za-z0-9_-]{20,60}",
                verifier(),
                body_carrier(),
                any::<bool>(),
            )
                .prop_map(|(code, ver, carrier, with_scope)| {
                    let mut req = Req::post(
                        TOKEN,
                        vec![
                            ("grant_type".into(), s(GRANT_CODE)),
                            ("code".into(), s(&code)),
                            ("redirect_uri".into(), s("{{clients.public.redirect_uri}}")),
                            ("code_verifier".into(), s(&ver)),
                            ("client_id".into(), id_of("public")),
                        ],
                        carrier,
                    );
                    if with_scope {
                        req.set("scope", s("user_default"));
                    }
                    Built {
                        req,
                        lets: Vec::new(),
                    }
                })
                .boxed(),
        ));
        options.push((
            2,
            ("[A-Za-z0-9_.-]{20,80}", body_carrier(), any::<bool>())
                .prop_map(|(rt, carrier, with_id)| {
                    let mut req = Req::post(
                        TOKEN,
                        vec![
                            ("grant_type".into(), s(GRANT_REFRESH)),
                            ("refresh_token".into(), s(&rt)),
                        ],
                        carrier,
                    );
                    if with_id {
                        req.set("client_id", id_of("public"));
                    }
                    Built {
                        req,
                        lets: Vec::new(),
                    }
                })
                .boxed(),
        ));
        options.push((
            1,
            (
                "[A-Za-z0-9_.-]{20,80}",
                prop::sample::select(vec!["websocket", "webresource", "other"]),
                body_carrier(),
            )
                .prop_map(|(st, purpose, carrier)| {
                    let req = Req::post(
                        TOKEN,
                        vec![
                            ("grant_type".into(), s(GRANT_EXCHANGE)),
                            ("subject_token".into(), s(&st)),
                            ("subject_token_type".into(), s(TOKEN_TYPE_AT)),
                            ("purpose".into(), s(purpose)),
                            ("client_id".into(), id_of("public")),
                        ],
                        carrier,
                    );
                    Built {
                        req,
                        lets: Vec::new(),
                    }
                })
                .boxed(),
        ));
    }
    options.push((
        1,
        (
            prop::sample::select(vec![
                "password",
                "implicit",
                "",
                "CLIENT_CREDENTIALS",
                "urn:qlik:oauth:anonymous-embed",
                "client_credentials ",
            ]),
            body_carrier(),
        )
            .prop_map(move |(g, carrier)| {
                let mut req = Req::post(TOKEN, vec![("grant_type".into(), s(g))], carrier);
                let role = v1
                    .secret_roles
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "public".into());
                req.set("client_id", id_of(&role));
                Built {
                    req,
                    lets: Vec::new(),
                }
            })
            .boxed(),
    ));
    prop::strategy::Union::new_weighted(options).boxed()
}

/// A /oauth/revoke request for a token the target never issued, in the shapes the
/// official clients use and others.
pub fn revoke_request(v: &Vocab) -> BoxedStrategy<Built> {
    let roles = v.secret_roles.clone();
    (
        "[A-Za-z0-9_.-]{10,80}",
        prop::sample::select(vec![
            None,
            Some("access_token"),
            Some("refresh_token"),
            Some("id_token"),
        ]),
        body_carrier(),
        0u8..4,
        prop::sample::select(if roles.is_empty() {
            vec!["public".to_string()]
        } else {
            roles
        }),
    )
        .prop_map(|(token, hint, carrier, auth, role)| {
            let mut req = Req::post(REVOKE, vec![("token".into(), s(&token))], carrier);
            if let Some(h) = hint {
                req.set("token_type_hint", s(h));
            }
            let mut lets = Vec::new();
            match auth {
                // [TS]: Bearer of the very token being revoked.
                1 => req
                    .headers
                    .push(("authorization".into(), format!("Bearer {token}"))),
                2 if role != "public" => {
                    lets = apply_auth(&mut req, &role, &ClientAuth::BodySecret)
                }
                3 if role != "public" => {
                    lets = apply_auth(
                        &mut req,
                        &role,
                        &ClientAuth::Basic {
                            with_id: false,
                            form_encode: true,
                        },
                    )
                }
                _ => {}
            }
            Built { req, lets }
        })
        .boxed()
}

/// Redirect URIs for a client: its own, and unregistered variations of it.
fn redirect_variant(role: &str) -> BoxedStrategy<Option<String>> {
    let own = format!("{{{{clients.{role}.redirect_uri}}}}");
    prop::sample::select(vec![
        Some(own.clone()),
        Some(own.clone()),
        Some(own.clone()),
        None,
        Some(format!("{own}/../evil")),
        Some(format!("{own}x")),
        Some(format!("{own}/")),
        Some(format!("{own}.evil.example")),
        Some("https://evil.example/callback".into()),
        Some("//evil.example/callback".into()),
        Some("javascript:alert(1)".into()),
        Some("callback".into()),
        Some(String::new()),
    ])
    .boxed()
}

/// A GET /oauth/authorize request: valid for a client, then mutated.
pub fn authorize_request(v: &Vocab) -> BoxedStrategy<Built> {
    let mut roles: Vec<String> = v.login_roles.clone();
    if roles.is_empty() {
        roles.push("public".into());
    }
    let login = v.login;
    (
        prop::sample::select(roles),
        state(),
        verifier(),
        scope(v),
        any::<bool>(),
        0u8..3,
    )
        .prop_flat_map(move |(role, st, ver, sc, hint, style)| {
            (
                Just((role.clone(), st, ver, sc, hint && login, style)),
                redirect_variant(&role),
            )
        })
        .prop_map(|((role, st, ver, sc, hint, style), redirect)| {
            let mut params = vec![
                ("client_id".to_string(), id_of(&role)),
                ("response_type".into(), s("code")),
                ("state".into(), s(&st)),
                ("code_challenge".into(), s("{{challenge}}")),
                ("code_challenge_method".into(), s("S256")),
            ];
            if let Some(r) = redirect {
                params.push(("redirect_uri".into(), s(&r)));
            }
            if let Some(sc) = sc {
                params.push(("scope".into(), s(&sc)));
            }
            if hint {
                params.push(("login_hint".into(), s("{{users.default.login_hint}}")));
            }
            // [API]/[TS] sort the keys and send values raw.
            let carrier = if style == 0 {
                params.sort_by(|a, b| a.0.cmp(&b.0));
                Carrier::RawQuery
            } else {
                Carrier::Query
            };
            let req = Req::get(AUTHORIZE, params, carrier);
            let lets = vec![("challenge".to_string(), json!({"s256": ver}))];
            Built { req, lets }
        })
        .boxed()
}

/// Authorize mutations stay in the query: body carriers and methods do not apply.
fn authorize_mutation() -> BoxedStrategy<Mutation> {
    mutation()
        .prop_filter("query mutations only", |m| {
            !matches!(
                m,
                Mutation::Carrier(_) | Mutation::Method(_) | Mutation::Oversize(_)
            )
        })
        .boxed()
}

/// Single requests to one of the three endpoints, valid or mutated.
pub fn any_request(v: &Vocab) -> BoxedStrategy<Scenario> {
    prop_oneof![
        5 => mutated(token_request(v), mutation(), 0..4),
        2 => mutated(revoke_request(v), mutation(), 0..3),
        3 => mutated(authorize_request(v), authorize_mutation(), 0..3),
    ]
    .boxed()
}

/// Token requests only, mostly valid, so most responses are successes.
pub fn token_success_request(v: &Vocab) -> BoxedStrategy<Scenario> {
    mutated(
        token_request(v),
        prop::sample::select(vec![Mutation::Stray("deviceType".into(), "Tablet".into())]).boxed(),
        0..2,
    )
}

pub fn authorize_requests(v: &Vocab) -> BoxedStrategy<Scenario> {
    mutated(authorize_request(v), authorize_mutation(), 0..3)
}

fn mutated(
    base: BoxedStrategy<Built>,
    m: BoxedStrategy<Mutation>,
    n: std::ops::Range<usize>,
) -> BoxedStrategy<Scenario> {
    (base, prop::collection::vec(m, n))
        .prop_map(|(b, muts)| {
            let (req, more) = mutate(b.req, &muts);
            Scenario::single(req).with_lets(b.lets).with_lets(more)
        })
        .boxed()
}

/// A login for a role with a PKCE challenge of `verifier`; the code lands in `code`.
pub fn login_step(role: &str, scope: Option<String>, state: &str) -> Step {
    Step::Login {
        name: "log in".into(),
        client: role.into(),
        scope,
        state: state.into(),
        challenge: Some("{{challenge}}".into()),
        code_var: "code".into(),
    }
}

/// The redemption of `{{code}}` by a role, with a given verifier text.
pub fn redeem_req(
    role: &str,
    verifier: Option<&str>,
    carrier: Carrier,
) -> (Req, Vec<(String, Value)>) {
    let mut req = Req::post(
        TOKEN,
        vec![
            ("grant_type".into(), s(GRANT_CODE)),
            ("code".into(), s("{{code}}")),
            (
                "redirect_uri".into(),
                s(&format!("{{{{clients.{role}.redirect_uri}}}}")),
            ),
        ],
        carrier,
    );
    if let Some(ver) = verifier {
        req.set("code_verifier", s(ver));
    }
    let lets = if role == "public" {
        req.set("client_id", id_of(role));
        Vec::new()
    } else {
        apply_auth(&mut req, role, &ClientAuth::BodySecret)
    };
    (req, lets)
}

/// A refresh of `{{<var>}}`; [API] sends no client_id, the others do.
pub fn refresh_req(
    role: &str,
    var: &str,
    with_id: bool,
    scope: Option<&str>,
    carrier: Carrier,
) -> (Req, Vec<(String, Value)>) {
    let mut req = Req::post(
        TOKEN,
        vec![
            ("grant_type".into(), s(GRANT_REFRESH)),
            ("refresh_token".into(), s(&format!("{{{{{var}}}}}"))),
        ],
        carrier,
    );
    let mut lets = Vec::new();
    if role == "public" {
        if with_id {
            req.set("client_id", id_of(role));
        }
    } else {
        lets = apply_auth(&mut req, role, &ClientAuth::BodySecret);
        if !with_id {
            req.remove("client_id");
        }
    }
    if let Some(sc) = scope {
        req.set("scope", s(sc));
    }
    (req, lets)
}

/// A token exchange of `{{<var>}}` by the public client.
pub fn exchange_req(var: &str, purpose: &str, carrier: Carrier) -> Req {
    Req::post(
        TOKEN,
        vec![
            ("grant_type".into(), s(GRANT_EXCHANGE)),
            ("subject_token".into(), s(&format!("{{{{{var}}}}}"))),
            ("subject_token_type".into(), s(TOKEN_TYPE_AT)),
            ("purpose".into(), s(purpose)),
            ("client_id".into(), id_of("public")),
        ],
        carrier,
    )
}

/// The revocation of `{{<var>}}`.
pub fn revoke_req(var: &str, hint: Option<&str>, bearer: bool, carrier: Carrier) -> Req {
    let mut req = Req::post(
        REVOKE,
        vec![("token".into(), s(&format!("{{{{{var}}}}}")))],
        carrier,
    );
    if let Some(h) = hint {
        req.set("token_type_hint", s(h));
    }
    if bearer {
        req.headers
            .push(("authorization".into(), format!("Bearer {{{{{var}}}}}")));
    }
    req
}

/// PKCE lets for a literal verifier.
pub fn pkce_lets(verifier: &str) -> Vec<(String, Value)> {
    vec![("challenge".into(), json!({"s256": verifier}))]
}

/// Carriers that must work: the two the spec names.
pub fn good_carrier() -> BoxedStrategy<Carrier> {
    prop_oneof![3 => Just(Carrier::Json), 2 => Just(Carrier::Form)].boxed()
}

/// Scope for a login: allowed names, offline_access when refresh tokens are wanted.
pub fn login_scope(v: &Vocab, offline: bool) -> BoxedStrategy<String> {
    let mut base: Vec<String> = v
        .scopes_allowed
        .iter()
        .filter(|x| *x != "offline_access")
        .cloned()
        .collect();
    if base.is_empty() {
        base.push("user_default".into());
    }
    let n = base.len();
    prop::sample::subsequence(base, 1..=n)
        .prop_map(move |mut x| {
            if offline {
                x.push("offline_access".into());
            }
            x.join(" ")
        })
        .boxed()
}

pub fn state_value() -> BoxedStrategy<String> {
    "[a-z0-9]{7,16}".boxed()
}

/// The carrier of set-up steps in scenarios: the one every official client uses.
pub fn scenario_carrier() -> Carrier {
    Carrier::Json
}
