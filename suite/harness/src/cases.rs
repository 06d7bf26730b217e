//! The case catalogue: every `*.json` under `cases/` (except profiles, the vendored spec
//! and the schema), validated against `case.schema.json` before anything runs, so a bad
//! file fails at load time with its path, the case id and the field rather than mid-run.
//!
//! The types here are the case format itself: they read a case file and serialize back to
//! one. Whatever generates cases (properties, remote fuzzing) builds these values and
//! writes them with [`write_case_file`], so a generated file is checked by the same
//! schema and loader as a hand-written one and cannot drift from the format.

use crate::result::{Level, Reference};
use crate::template::{self, Scope};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CaseFile {
    /// What the file holds or where it came from; a generated file names the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub cases: Vec<Case>,
}

/// One scenario, as the case file states it (templates not yet rendered).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Case {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub level: Level,
    /// `qlik`: the case checks the real service's own choice among several the RFCs allow,
    /// judged only for a profile that asks for that fidelity.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "fidelity_name"
    )]
    pub fidelity: Option<crate::profile::Fidelity>,
    pub refs: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub destructive: bool,
    /// Ordered: a binding may use those before it.
    #[serde(
        default,
        rename = "let",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub lets: serde_json::Map<String, Value>,
    pub steps: Vec<Step>,
    /// The file the case came from, for messages.
    #[serde(skip)]
    pub file: PathBuf,
    /// Where the case sits in its file: its pointer (`/cases/3`) and the line of every
    /// value of the file, by pointer, to name the line of a failing matcher.
    #[serde(skip)]
    source: CaseSource,
}

/// A case's place in its file (see [`Case::location`]).
#[derive(Debug, Clone, Default)]
struct CaseSource {
    pointer: String,
    lines: std::sync::Arc<std::collections::HashMap<String, usize>>,
}

/// Serde's skip test for flags the format leaves out when off.
fn is_false(b: &bool) -> bool {
    !*b
}

/// The profile's fidelity type is read from profiles only; a case names it the same way.
fn fidelity_name<S: Serializer>(
    f: &Option<crate::profile::Fidelity>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match f {
        Some(crate::profile::Fidelity::Qlik) => s.serialize_some("qlik"),
        Some(crate::profile::Fidelity::Rfc) => s.serialize_some("rfc"),
        None => s.serialize_none(),
    }
}

impl Case {
    /// A case with what the format requires; the optional parts are public fields.
    /// Generated cases have no file until written, so locations name none.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        level: Level,
        refs: Vec<Reference>,
        steps: Vec<Step>,
    ) -> Case {
        Case {
            id: id.into(),
            title: title.into(),
            description: None,
            level,
            fidelity: None,
            refs,
            needs: Vec::new(),
            destructive: false,
            lets: serde_json::Map::new(),
            steps,
            file: PathBuf::new(),
            source: CaseSource::default(),
        }
    }

    /// `file:line` of the value at `pointer` within this case (`/steps/2/expect/status`),
    /// or of its nearest enclosing value that has a line; the file as a reader would open
    /// it (from `cases/` on, for the catalogue).
    pub fn location(&self, pointer: &str) -> String {
        let path = self.file.display().to_string();
        let shown = path
            .rfind("/cases/")
            .map_or(path.as_str(), |i| &path[i + 1..]);
        let mut p = format!("{}{pointer}", self.source.pointer);
        loop {
            if let Some(line) = self.source.lines.get(&p) {
                return format!("{shown}:{line}");
            }
            match p.rfind('/') {
                Some(i) if i > 0 => p.truncate(i),
                _ => return shown.to_string(),
            }
        }
    }

    /// The level the case is judged at for `profile`: its own, or INFO for a Qlik-fidelity
    /// case when the profile does not ask for Qlik fidelity (the answer is then recorded as
    /// the target's choice).
    pub fn level_for(&self, profile: &crate::profile::Profile) -> Level {
        match self.fidelity {
            Some(crate::profile::Fidelity::Qlik)
                if profile.fidelity != crate::profile::Fidelity::Qlik =>
            {
                Level::Info
            }
            _ => self.level,
        }
    }

    /// The endpoint the case is about, from its id's first segment.
    pub fn endpoint(&self) -> String {
        self.id.split('.').next().unwrap_or("").to_string()
    }

    /// Roughly how many requests the case sends one after another (a login counts as a
    /// few redirects); the run starts heavy cases first.
    pub fn weight(&self) -> u32 {
        self.steps
            .iter()
            .map(|s| match (&s.login, s.concurrent) {
                (Some(_), _) => 3,
                (None, true) => 1,
                (None, false) => s.repeat.unwrap_or(1),
            })
            .sum()
    }

    /// Capabilities the case needs: those it declares plus those its templates imply
    /// (a case naming `clients.consent.id` cannot run without a consent client).
    pub fn required_capabilities(&self) -> Vec<String> {
        let mut caps = self.needs.clone();
        let mut names = Vec::new();
        for v in self.lets.values() {
            template::names_in_value(v, &mut names);
            if let Some(role) = v
                .get("client_assertion")
                .and_then(|a| a.get("client"))
                .and_then(Value::as_str)
            {
                names.push(format!("clients.{role}.id"));
            }
        }
        for s in &self.steps {
            s.template_names(&mut names);
            if let Some(l) = &s.login {
                caps.push("login".into());
                if l.user != "default" {
                    caps.push("login.other_users".into());
                }
                names.push(format!("clients.{}.id", l.client));
                names.push(format!("users.{}.login_hint", l.user));
            }
        }
        for n in names {
            if let Some(c) = crate::profile::capability_of(&n) {
                caps.push(c);
            }
        }
        let mut seen = std::collections::HashSet::new();
        caps.retain(|c| seen.insert(c.clone()));
        caps
    }
}

/// One step. The format requires exactly one of `request`, `login` or `wait`; the schema
/// holds that, so a value built here is checked when it is written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Step {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<Login>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub concurrent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_count: BTreeMap<String, Matcher>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capture: BTreeMap<String, Capture>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record: Vec<String>,
    /// A pause instead of a request: how time-bound credentials are shown to expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// The capture this step needs: without it (a permitted answer that bound nothing) the
    /// step is not sent and the case records which way the target went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Captures that a permitted answer may lack: their absence is no finding, and steps
    /// whose `when` names them do not run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capture_optional: bool,
    /// A step that puts the target back as the case found it (a user re-enabled): it runs
    /// even when an earlier step ended the case, so a failure does not leave the target
    /// changed for the next run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup: bool,
}

/// How long a `wait` step pauses: one of the target's lifetimes, as the profile gives
/// it, plus a margin for clock skew and the time the previous step took.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Wait {
    /// `code` or `refresh_token`: which of the profile's `lifetimes` to wait out.
    pub lifetime: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub plus_seconds: u64,
}

impl Wait {
    /// The pause on this profile, `None` when it does not give the lifetime.
    pub fn seconds(&self, profile: &crate::profile::Profile) -> Option<u64> {
        profile
            .lifetime(&self.lifetime)
            .map(|life| life.saturating_add(self.plus_seconds))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Case {
    /// The seconds the case's `wait` steps pause on this profile, or why it cannot:
    /// the lifetime is not in the profile, or the wait exceeds its `max_wait_seconds`.
    pub fn wait_seconds(&self, profile: &crate::profile::Profile) -> Result<u64, WaitSkip> {
        let mut total = 0u64;
        for w in self.steps.iter().filter_map(|s| s.wait.as_ref()) {
            let Some(seconds) = w.seconds(profile) else {
                return Err(WaitSkip::LifetimeUnknown(w.lifetime.clone()));
            };
            total = total.saturating_add(seconds);
        }
        if total > profile.max_wait_seconds {
            return Err(WaitSkip::OverBudget {
                seconds: total,
                max: profile.max_wait_seconds,
            });
        }
        Ok(total)
    }
}

/// Why a case with `wait` steps cannot run on a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitSkip {
    /// The profile does not give this lifetime (`code`, `refresh_token`).
    LifetimeUnknown(String),
    /// The waits add up to more than the profile's `max_wait_seconds`.
    OverBudget { seconds: u64, max: u64 },
}

impl std::fmt::Display for WaitSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitSkip::LifetimeUnknown(kind) => write!(
                f,
                "waits out the target's {kind} lifetime, which the profile does not give (lifetimes.{kind}_seconds)"
            ),
            WaitSkip::OverBudget { seconds, max } => write!(
                f,
                "would wait {seconds} s, over the profile's max_wait_seconds ({max})"
            ),
        }
    }
}

impl std::error::Error for WaitSkip {}

impl Step {
    /// The label findings and transcripts use: the step's name, or its 1-based index.
    pub fn label(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("step {}", index + 1))
    }

    fn template_names(&self, out: &mut Vec<String>) {
        if let Some(r) = &self.request {
            let v = serde_json::to_value(r).unwrap_or(Value::Null);
            template::names_in_value(&v, out);
        }
        if let Some(l) = &self.login {
            let v = serde_json::to_value(l).unwrap_or(Value::Null);
            template::names_in_value(&v, out);
        }
        if let Some(e) = &self.expect {
            let v = serde_json::to_value(e).unwrap_or(Value::Null);
            template::names_in_value(&v, out);
        }
    }
}

/// The request a step sends. Its parameter maps and JSON body stay JSON values: they are
/// the data sent, whatever shape a case needs to send.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_query: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub follow_redirects: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Login {
    pub client: String,
    #[serde(default = "default_user", skip_serializing_if = "is_default_user")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
}

impl Login {
    /// A login of `client`'s role by the default user, the rest as the profile gives it.
    pub fn new(client: impl Into<String>) -> Login {
        Login {
            client: client.into(),
            user: default_user(),
            scope: None,
            state: None,
            code_challenge: None,
            redirect_uri: None,
            query: BTreeMap::new(),
        }
    }
}

fn default_user() -> String {
    "default".into()
}

fn is_default_user(user: &str) -> bool {
    user == "default"
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSet>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// JSON pointer -> matcher, in file order.
    #[serde(default, skip_serializing_if = "Vec1Map::is_empty")]
    pub json: Vec1Map,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationExpect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Matcher>,
    /// Alternatives, each a whole expectation: the answer must also meet at least one.
    /// Where a clause allows several answers (a refusal, or a 200 that narrows), a case
    /// lists each, so that every answer the clause allows passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Expect>,
}

/// Builders for the expectations generated cases state: each adds one property, so a
/// call site reads as the expectation it writes.
impl Expect {
    /// The answer has this status (or one of these).
    pub fn status(status: impl Into<StatusSet>) -> Expect {
        Expect {
            status: Some(status.into()),
            ..Expect::default()
        }
    }

    /// The body matches this component schema of the vendored spec.
    pub fn with_schema(mut self, name: impl Into<String>) -> Expect {
        self.schema = Some(name.into());
        self
    }

    /// The JSON body's value at `pointer` meets `m`; a pointer given again keeps its place
    /// and takes the new matcher.
    pub fn with_json(mut self, pointer: impl Into<String>, m: Matcher) -> Expect {
        self.json.insert(pointer.into(), m);
        self
    }

    /// The header `name` meets `m`.
    pub fn with_header(mut self, name: impl Into<String>, m: Matcher) -> Expect {
        self.headers.insert(name.into(), m);
        self
    }

    /// The body, as text, meets `m`.
    pub fn with_body(mut self, m: Matcher) -> Expect {
        self.body = Some(m);
        self
    }

    /// The Location's query parameter `name` meets `m`.
    pub fn with_location_query(mut self, name: impl Into<String>, m: Matcher) -> Expect {
        self.location
            .get_or_insert_with(LocationExpect::default)
            .query
            .insert(name.into(), m);
        self
    }

    /// The Location does not lead to `uri`.
    pub fn with_not_redirect_uri(mut self, uri: impl Into<String>) -> Expect {
        self.location
            .get_or_insert_with(LocationExpect::default)
            .not_redirect_uri = Some(uri.into());
        self
    }

    /// Whether the expectation asks nothing: a step without one leaves `expect` out.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.headers.is_empty()
            && self.schema.is_none()
            && self.json.is_empty()
            && self.location.is_none()
            && self.body.is_none()
            && self.any_of.is_empty()
    }
}

/// JSON-pointer matchers keep the file's order, so the first finding is the first the
/// author wrote.
pub type Vec1Map = indexmap_like::OrderedMap<Matcher>;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum StatusSet {
    One(u16),
    Many(Vec<u16>),
}

impl From<u16> for StatusSet {
    fn from(status: u16) -> StatusSet {
        StatusSet::One(status)
    }
}

/// A list stays a list, even of one status: the file says what its author wrote.
impl From<&[u16]> for StatusSet {
    fn from(statuses: &[u16]) -> StatusSet {
        StatusSet::Many(statuses.to_vec())
    }
}

impl StatusSet {
    pub fn contains(&self, s: u16) -> bool {
        match self {
            StatusSet::One(x) => *x == s,
            StatusSet::Many(v) => v.contains(&s),
        }
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusSet::One(x) => write!(f, "status {x}"),
            StatusSet::Many(v) => write!(
                f,
                "status in [{}]",
                v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct LocationExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Matcher>,
}

/// A predicate on one observed value; every given property must hold.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals_ci: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_contains: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<bool>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_as_integer"
    )]
    pub min: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_as_integer"
    )]
    pub max: Option<f64>,
}

/// Bounds are counts and seconds: written `1`, as an author writes them, not `1.0`.
fn whole_as_integer<S: Serializer>(n: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole f64 below is an exact i64
    match n {
        Some(x) if x.fract() == 0.0 && x.abs() < EXACT => s.serialize_some(&(*x as i64)),
        Some(x) => s.serialize_some(x),
        None => s.serialize_none(),
    }
}

/// One constructor per property the generated cases use; combine with struct update
/// syntax (`Matcher { min: Some(1.0), ..Matcher::of_type("number") }`).
impl Matcher {
    pub fn equals(value: impl Into<Value>) -> Matcher {
        Matcher {
            equals: Some(value.into()),
            ..Matcher::default()
        }
    }

    pub fn not_equals(value: impl Into<Value>) -> Matcher {
        Matcher {
            not_equals: Some(value.into()),
            ..Matcher::default()
        }
    }

    pub fn contains(text: impl Into<String>) -> Matcher {
        Matcher {
            contains: Some(text.into()),
            ..Matcher::default()
        }
    }

    pub fn not_contains(text: impl Into<OneOrMany>) -> Matcher {
        Matcher {
            not_contains: Some(text.into()),
            ..Matcher::default()
        }
    }

    /// The value is a string the regular expression matches.
    pub fn matches(regex: impl Into<String>) -> Matcher {
        Matcher {
            matches: Some(regex.into()),
            ..Matcher::default()
        }
    }

    /// The value has this JSON type (`string`, `number`, `object`, ...).
    pub fn of_type(type_: impl Into<String>) -> Matcher {
        Matcher {
            type_: Some(type_.into()),
            ..Matcher::default()
        }
    }

    pub fn present() -> Matcher {
        Matcher {
            present: Some(true),
            ..Matcher::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<String> for OneOrMany {
    fn from(s: String) -> OneOrMany {
        OneOrMany::One(s)
    }
}

impl From<&str> for OneOrMany {
    fn from(s: &str) -> OneOrMany {
        OneOrMany::One(s.to_string())
    }
}

/// A list stays a list, even of one (or none): the file says what its author wrote.
impl From<Vec<String>> for OneOrMany {
    fn from(v: Vec<String>) -> OneOrMany {
        OneOrMany::Many(v)
    }
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    Json(String),
    Header(String),
    LocationQuery(String),
    Status(bool),
}

/// A tiny insertion-ordered string map, so pointer matchers run in file order without
/// pulling in another dependency.
pub mod indexmap_like {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use serde::ser::{Serialize, SerializeMap, Serializer};
    use std::fmt;
    use std::marker::PhantomData;

    #[derive(Debug, Clone, PartialEq)]
    pub struct OrderedMap<V>(pub Vec<(String, V)>);

    impl<V> Default for OrderedMap<V> {
        fn default() -> Self {
            OrderedMap(Vec::new())
        }
    }

    impl<V> OrderedMap<V> {
        pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
            self.0.iter().map(|(k, v)| (k, v))
        }
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// Sets `key`: in its place when it is there, last otherwise.
        pub fn insert(&mut self, key: String, value: V) {
            match self.0.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = value,
                None => self.0.push((key, value)),
            }
        }
    }

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V2<V>(PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
                type Value = OrderedMap<V>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, V>()? {
                        out.push((k, v));
                    }
                    Ok(OrderedMap(out))
                }
            }
            d.deserialize_map(V2(PhantomData))
        }
    }

    impl<V: Serialize> Serialize for OrderedMap<V> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }
}

/// One problem in one case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// The case's id when the problem is inside a case that has one.
    pub case_id: Option<String>,
    /// JSON pointer of the offending field.
    pub path: String,
    /// 1-based line where the case (or field) starts, when it could be found.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(id) = &self.case_id {
            write!(f, ": case {id}")?;
        }
        write!(
            f,
            ": {}: {}",
            if self.path.is_empty() {
                "/"
            } else {
                &self.path
            },
            self.message
        )
    }
}

/// Every problem found while loading; loading reports them all at once.
#[derive(Debug, Clone)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the case files:", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Why a case file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteCaseError {
    #[error("cannot serialize the case file: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The file would not load. Refusing it here keeps a generated case from reaching a
    /// reviewer, or the catalogue, as a file nobody can run.
    #[error("the case file would not load: {0}")]
    Invalid(LoadErrors),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `file` as `dir/file_name` (pretty JSON, one trailing newline) once its text has
/// loaded the way the catalogue loads it; returns the path written.
pub fn write_case_file(
    dir: &Path,
    file_name: &str,
    file: &CaseFile,
) -> Result<PathBuf, WriteCaseError> {
    let path = dir.join(file_name);
    let mut text = serde_json::to_string_pretty(file)?;
    text.push('\n');
    parse_case_file(&path, &text).map_err(|errors| WriteCaseError::Invalid(LoadErrors(errors)))?;
    std::fs::create_dir_all(dir).map_err(|source| WriteCaseError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    std::fs::write(&path, text).map_err(|source| WriteCaseError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// The cases of a catalogue, in file then file-order.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub cases: Vec<Arc<Case>>,
}

impl Catalogue {
    /// Loads and validates every case file under `dir`.
    pub fn load(dir: &Path) -> Result<Catalogue, LoadErrors> {
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files).map_err(|e| {
            LoadErrors(vec![LoadError {
                file: dir.to_path_buf(),
                case_id: None,
                path: String::new(),
                line: None,
                message: format!("cannot list case files: {e}"),
            }])
        })?;
        files.sort();
        let mut errors = Vec::new();
        let mut cases = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => match parse_case_file(&f, &text) {
                    Ok(cs) => cases.extend(cs),
                    Err(mut es) => errors.append(&mut es),
                },
                Err(e) => errors.push(LoadError {
                    file: f.clone(),
                    case_id: None,
                    path: String::new(),
                    line: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for c in &cases {
            if let Some(first) = seen.get(&c.id) {
                errors.push(LoadError {
                    file: c.file.clone(),
                    case_id: Some(c.id.clone()),
                    path: "/id".into(),
                    line: None,
                    message: format!("duplicate case id (also in {})", first.display()),
                });
            } else {
                seen.insert(c.id.clone(), c.file.clone());
            }
        }
        if errors.is_empty() {
            Ok(Catalogue {
                cases: cases.into_iter().map(Arc::new).collect(),
            })
        } else {
            Err(LoadErrors(errors))
        }
    }

    /// The default catalogue of this repository.
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cases")
    }

    /// Cases whose id contains `pattern` (or matches it exactly when `exact`).
    pub fn filter(&self, pattern: &str, exact: bool) -> Catalogue {
        Catalogue {
            cases: self
                .cases
                .iter()
                .filter(|c| {
                    if exact {
                        c.id == pattern
                    } else {
                        c.id.contains(pattern)
                    }
                })
                .cloned()
                .collect(),
        }
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if dir == root && (name == "profiles" || name == "openapi") {
                continue;
            }
            if name.starts_with('.') {
                continue;
            }
            collect_files(root, &path, out)?;
        } else if name.ends_with(".json") && !name.ends_with(".schema.json") {
            out.push(path);
        }
    }
    Ok(())
}

fn case_schema() -> &'static Result<jsonschema::Validator, String> {
    use std::sync::OnceLock;
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(include_str!("../../../cases/case.schema.json"))
            .map_err(|e| format!("case.schema.json is not JSON: {e}"))?;
        jsonschema::validator_for(&schema).map_err(|e| format!("case.schema.json: {e}"))
    })
}

/// Parses and checks one case file's text; `file` is only used in messages.
pub fn parse_case_file(file: &Path, text: &str) -> Result<Vec<Case>, Vec<LoadError>> {
    let err = |case_id: Option<String>, path: String, line, message: String| LoadError {
        file: file.to_path_buf(),
        case_id,
        path,
        line,
        message,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![err(
            None,
            String::new(),
            Some(e.line()),
            format!("not valid JSON: {e}"),
        )]
    })?;
    let validator = case_schema()
        .as_ref()
        .map_err(|m| vec![err(None, String::new(), None, m.clone())])?;
    let mut errors: Vec<LoadError> = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for e in validator.iter_errors(&value) {
        let path = e.instance_path().to_string();
        let (id, line) = locate(&value, text, &path);
        let message = schema_message(&e.to_string());
        if reported.insert((path.clone(), message.clone())) {
            errors.push(err(id, path, line, message));
        }
    }
    if !errors.is_empty() {
        // A oneOf failure reports the same field several times over; keep the deepest.
        let deepest: Vec<LoadError> = errors
            .iter()
            .filter(|e| {
                !errors.iter().any(|o| {
                    o.path.len() > e.path.len() && o.path.starts_with(&format!("{}/", e.path))
                })
            })
            .cloned()
            .collect();
        return Err(deepest);
    }
    let parsed: CaseFile = serde_json::from_value(value.clone()).map_err(|e| {
        vec![err(
            None,
            String::new(),
            None,
            format!("cannot read cases: {e}"),
        )]
    })?;
    let mut cases = Vec::new();
    let lines = std::sync::Arc::new(pointer_lines(text));
    for (i, mut c) in parsed.cases.into_iter().enumerate() {
        c.file = file.to_path_buf();
        c.source = CaseSource {
            pointer: format!("/cases/{i}"),
            lines: std::sync::Arc::clone(&lines),
        };
        let base = format!("/cases/{i}");
        let (_, line) = locate(&value, text, &base);
        for (path, message) in check_case(&c, &value["cases"][i]) {
            errors.push(err(
                Some(c.id.clone()),
                format!("{base}{path}"),
                line,
                message,
            ));
        }
        cases.push(c);
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

/// The 1-based line of every value of a JSON text, by JSON pointer: where each matcher
/// of a case file is written. The text has parsed as JSON already; on anything else the
/// map holds what was read up to it.
fn pointer_lines(text: &str) -> std::collections::HashMap<String, usize> {
    struct Scan<'t> {
        bytes: &'t [u8],
        text: &'t str,
        pos: usize,
        line: usize,
        out: std::collections::HashMap<String, usize>,
    }
    impl Scan<'_> {
        fn skip_ws(&mut self) {
            while let Some(&c) = self.bytes.get(self.pos) {
                match c {
                    b'\n' => self.line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => break,
                }
                self.pos += 1;
            }
        }
        fn peek(&self) -> Option<u8> {
            self.bytes.get(self.pos).copied()
        }
        /// A string token, decoded; `None` when it is not one.
        fn string(&mut self) -> Option<String> {
            let start = self.pos;
            if self.peek() != Some(b'"') {
                return None;
            }
            self.pos += 1;
            while let Some(&c) = self.bytes.get(self.pos) {
                self.pos += 1;
                match c {
                    b'\\' => self.pos += 1,
                    b'"' => return serde_json::from_str(&self.text[start..self.pos]).ok(),
                    _ => {}
                }
            }
            None
        }
        fn value(&mut self, pointer: String, depth: usize) -> Option<()> {
            self.skip_ws();
            self.out.insert(pointer.clone(), self.line);
            if depth > 128 {
                return None;
            }
            match self.peek()? {
                b'{' => {
                    self.pos += 1;
                    loop {
                        self.skip_ws();
                        if self.peek()? == b'}' {
                            self.pos += 1;
                            return Some(());
                        }
                        let key = self.string()?;
                        self.skip_ws();
                        (self.peek()? == b':').then_some(())?;
                        self.pos += 1;
                        self.value(format!("{pointer}/{}", escape_pointer(&key)), depth + 1)?;
                        self.skip_ws();
                        if self.peek()? == b',' {
                            self.pos += 1;
                        }
                    }
                }
                b'[' => {
                    self.pos += 1;
                    let mut index = 0;
                    loop {
                        self.skip_ws();
                        if self.peek()? == b']' {
                            self.pos += 1;
                            return Some(());
                        }
                        self.value(format!("{pointer}/{index}"), depth + 1)?;
                        index += 1;
                        self.skip_ws();
                        if self.peek()? == b',' {
                            self.pos += 1;
                        }
                    }
                }
                b'"' => self.string().map(|_| ()),
                _ => {
                    while self.peek().is_some_and(|c| {
                        !matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t')
                    }) {
                        self.pos += 1;
                    }
                    Some(())
                }
            }
        }
    }
    let mut scan = Scan {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        line: 1,
        out: std::collections::HashMap::new(),
    };
    let _ = scan.value(String::new(), 0);
    scan.out
}

/// The schema crate's messages quote whole instances; keep them to one readable line.
fn schema_message(m: &str) -> String {
    let one_line = m.replace('\n', " ");
    if one_line.chars().count() > 240 {
        let cut: String = one_line.chars().take(240).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

/// The id of the case a pointer falls in, and the line where that case's id is written.
fn locate(value: &Value, text: &str, pointer: &str) -> (Option<String>, Option<usize>) {
    let mut parts = pointer.split('/').skip(1);
    if parts.next() != Some("cases") {
        return (None, None);
    }
    let Some(idx) = parts.next().and_then(|p| p.parse::<usize>().ok()) else {
        return (None, None);
    };
    let Some(id) = value["cases"][idx]["id"].as_str() else {
        return (None, None);
    };
    let needle = serde_json::to_string(id).unwrap_or_default();
    let line = text
        .lines()
        .position(|l| l.contains("\"id\"") && l.contains(&needle))
        .map(|n| n + 1);
    (Some(id.to_string()), line)
}

/// Checks the schema cannot express: template names that resolve to nothing, regexes
/// that do not compile, captures used before they exist. Returns (pointer, message).
fn check_case(case: &Case, raw: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut scope = Scope::default();
    for (name, gen) in &case.lets {
        let path = format!("/let/{}", escape_pointer(name));
        for (p, n) in template::names_with_paths(gen, &path) {
            if !scope.knows(&n) {
                problems.push((p, format!("unknown template name {{{{{n}}}}}")));
            }
        }
        if let Some(role) = gen
            .get("client_assertion")
            .and_then(|a| a.get("client"))
            .and_then(Value::as_str)
        {
            if !crate::profile::CLIENT_ROLES.contains(&role) {
                problems.push((
                    format!("{path}/client_assertion/client"),
                    format!("unknown client role {role:?}"),
                ));
            }
        }
        scope.add(name);
    }
    for (i, step) in case.steps.iter().enumerate() {
        let base = format!("/steps/{i}");
        let raw_step = &raw["steps"][i];
        for key in ["request", "login", "expect"] {
            if let Some(v) = raw_step.get(key) {
                for (p, n) in template::names_with_paths(v, &format!("{base}/{key}")) {
                    if !scope.knows(&n) {
                        problems.push((p, format!("unknown template name {{{{{n}}}}}")));
                    }
                }
            }
        }
        if let Some(l) = &step.login {
            if !crate::profile::CLIENT_ROLES.contains(&l.client.as_str()) {
                problems.push((
                    format!("{base}/login/client"),
                    format!("unknown client role {:?}", l.client),
                ));
            }
            if !crate::profile::USER_ROLES.contains(&l.user.as_str()) {
                problems.push((
                    format!("{base}/login/user"),
                    format!("unknown user role {:?}", l.user),
                ));
            }
        }
        let mut regexes = Vec::new();
        if let Some(e) = &step.expect {
            expect_problems(e, &format!("{base}/expect"), &mut regexes, &mut problems);
        }
        for (k, m) in &step.expect_count {
            regexes.push((
                format!("{base}/expect_count/{}/matches", escape_pointer(k)),
                m,
            ));
            if k.parse::<u16>().is_err() {
                problems.push((
                    format!("{base}/expect_count/{}", escape_pointer(k)),
                    format!("{k:?} is not an HTTP status"),
                ));
            }
        }
        for (path, m) in regexes {
            if let Some(re) = &m.matches {
                if !re.contains("{{") {
                    if let Err(e) = regex::Regex::new(re) {
                        problems.push((path, format!("bad regular expression: {e}")));
                    }
                }
            }
        }
        if step.cleanup && case.steps[i..].iter().any(|s| !s.cleanup) {
            problems.push((
                format!("{base}/cleanup"),
                "cleanup steps come last: a step after one would run only when nothing failed"
                    .into(),
            ));
        }
        if let Some(name) = &step.when {
            if !case.steps[..i].iter().any(|s| s.capture.contains_key(name)) {
                problems.push((
                    format!("{base}/when"),
                    format!("{name:?} is not captured by an earlier step"),
                ));
            }
        }
        if step.wait.is_some()
            && (step.expect.is_some() || !step.capture.is_empty() || !step.record.is_empty())
        {
            problems.push((
                format!("{base}/wait"),
                "a wait step sends nothing, so it can expect, capture or record nothing".into(),
            ));
        }
        if (step.concurrent || step.repeat.is_some()) && step.login.is_some() {
            problems.push((
                format!("{base}/repeat"),
                "a login step cannot be repeated".into(),
            ));
        }
        for r in &step.record {
            if !(r.starts_with('/')
                || r.starts_with("header:")
                || r.starts_with("location:")
                || r.is_empty())
            {
                problems.push((
                    format!("{base}/record"),
                    format!("{r:?} is neither a JSON pointer, header:NAME nor location:PARAM"),
                ));
            }
        }
        for (name, cap) in &step.capture {
            if let Capture::Json(p) = cap {
                if !p.is_empty() && !p.starts_with('/') {
                    problems.push((
                        format!("{base}/capture/{}/json", escape_pointer(name)),
                        format!("{p:?} is not a JSON pointer"),
                    ));
                }
            }
            scope.add(name);
        }
    }
    problems
}

pub(crate) fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Load-time checks of one expectation and its alternatives: JSON pointers, schema names,
/// and the regular expressions to compile (collected into `regexes`).
fn expect_problems<'e>(
    e: &'e Expect,
    at: &str,
    regexes: &mut Vec<(String, &'e Matcher)>,
    problems: &mut Vec<(String, String)>,
) {
    for (k, m) in &e.headers {
        regexes.push((format!("{at}/headers/{}/matches", escape_pointer(k)), m));
    }
    for (k, m) in e.json.iter() {
        regexes.push((format!("{at}/json/{}/matches", escape_pointer(k)), m));
        if !k.is_empty() && !k.starts_with('/') {
            problems.push((
                format!("{at}/json/{}", escape_pointer(k)),
                format!("{k:?} is not a JSON pointer (must start with /)"),
            ));
        }
    }
    if let Some(m) = &e.body {
        regexes.push((format!("{at}/body/matches"), m));
    }
    if let Some(l) = &e.location {
        for (k, m) in &l.query {
            regexes.push((
                format!("{at}/location/query/{}/matches", escape_pointer(k)),
                m,
            ));
        }
    }
    if let Some(s) = &e.schema {
        if !crate::spec::has_schema(s) {
            problems.push((
                format!("{at}/schema"),
                format!(
                    "{s:?} is not a component schema of the vendored spec ({})",
                    crate::spec::schema_names().join(", ")
                ),
            ));
        }
    }
    for (i, alternative) in e.any_of.iter().enumerate() {
        expect_problems(alternative, &format!("{at}/any_of/{i}"), regexes, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
  "cases": [
    {
      "id": "a.b.first",
      "title": "t",
      "level": "MUST",
      "refs": [{"doc": "RFC6749", "section": "5.1"}],
      "steps": [
        {
          "request": {"method": "GET", "path": "/oauth/authorize"},
          "expect": {
            "status": 400,
            "json": {"/errors/0/code": {"equals": "a\"b"}}
          }
        }
      ]
    },
    {"id": "a.b.second", "title": "t", "level": "MUST", "refs": [{"doc": "RFC6749", "section": "5.1"}],
     "steps": [{"request": {"method": "GET", "path": "/x"}, "expect": {"any_of": [{"status": 200}, {"status": 302}]}}]}
  ]
}
"#;

    #[test]
    fn every_value_has_the_line_it_is_written_on() {
        let lines = pointer_lines(FILE);
        let table = [
            ("", 1),
            ("/cases/0/id", 4),
            ("/cases/0/steps/0/request/method", 10),
            ("/cases/0/steps/0/expect/status", 12),
            ("/cases/0/steps/0/expect/json/~1errors~10~1code", 13),
            ("/cases/0/steps/0/expect/json/~1errors~10~1code/equals", 13),
            ("/cases/1/steps/0/expect/any_of/1/status", 19),
        ];
        for (pointer, line) in table {
            assert_eq!(lines.get(pointer), Some(&line), "{pointer}");
        }
    }

    fn reference(doc: &str, section: &str) -> Reference {
        Reference {
            doc: doc.into(),
            section: section.into(),
            quote: None,
        }
    }

    /// A case using most of the format: what the typed model writes, the loader reads back.
    fn rich_case() -> Case {
        let mut lets = serde_json::Map::new();
        lets.insert(
            "verifier".into(),
            serde_json::json!({"pkce_verifier": {"length": 64}}),
        );
        let login = Step {
            name: Some("login".into()),
            login: Some(Login {
                scope: Some("user_default offline_access".into()),
                state: Some("s1".into()),
                ..Login::new("confidential")
            }),
            capture: BTreeMap::from([("code".into(), Capture::LocationQuery("code".into()))]),
            expect: Some(
                Expect::default()
                    .with_location_query("code", Matcher::present())
                    .with_location_query("state", Matcher::equals("s1")),
            ),
            ..Step::default()
        };
        let mut form = serde_json::Map::new();
        form.insert("grant_type".into(), "authorization_code".into());
        form.insert("code".into(), "{{code}}".into());
        form.insert("code_verifier".into(), "{{verifier}}".into());
        let redeem = Step {
            name: Some("redeem".into()),
            request: Some(Request {
                method: "POST".into(),
                path: "/oauth/token".into(),
                headers: BTreeMap::from([("accept".into(), "application/json".into())]),
                form: Some(form),
                ..Request::default()
            }),
            expect: Some(
                Expect::status(200)
                    .with_schema("oauth-token-response")
                    .with_header("cache-control", Matcher::contains("no-store"))
                    .with_json(
                        "/expires_in",
                        Matcher {
                            min: Some(1.0),
                            ..Matcher::of_type("number")
                        },
                    )
                    .with_json("/scope", Matcher::not_contains("admin_classic")),
            ),
            capture: BTreeMap::from([("refresh".into(), Capture::Json("/refresh_token".into()))]),
            record: vec!["/token_type".into()],
            ..Step::default()
        };
        let pause = Step {
            wait: Some(Wait {
                lifetime: "refresh_token".into(),
                plus_seconds: 2,
            }),
            ..Step::default()
        };
        let race = Step {
            name: Some("race".into()),
            request: Some(Request {
                method: "POST".into(),
                path: "/oauth/token".into(),
                json: Some(
                    serde_json::json!({"grant_type": "refresh_token", "refresh_token": "{{refresh}}"}),
                ),
                ..Request::default()
            }),
            repeat: Some(5),
            concurrent: true,
            expect_count: BTreeMap::from([(
                "200".into(),
                Matcher {
                    max: Some(1.0),
                    ..Matcher::default()
                },
            )]),
            ..Step::default()
        };
        let mut case = Case::new(
            "token.typed.round_trip",
            "A typed case loads as it was built",
            Level::Must,
            vec![reference("RFC6749", "4.1.3")],
            vec![login, redeem, pause, race],
        );
        case.description = Some("Every part serializes to the case format.".into());
        case.needs = vec!["login".into()];
        case.destructive = true;
        case.lets = lets;
        case
    }

    fn file_of(case: Case) -> CaseFile {
        CaseFile {
            description: Some("built in a test".into()),
            cases: vec![case],
        }
    }

    #[test]
    fn a_typed_case_round_trips_through_the_loader_unchanged() {
        let file = file_of(rich_case());
        let written = serde_json::to_value(&file).expect("serializes");
        let text = serde_json::to_string_pretty(&file).expect("serializes");
        let loaded = parse_case_file(Path::new("typed.json"), &text).expect("the loader takes it");
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            serde_json::to_value(&loaded[0]).expect("serializes"),
            written["cases"][0]
        );
        // Defaults stay out of the file, and bookkeeping never enters it.
        let step = &written["cases"][0]["steps"][0];
        assert!(step["login"].get("user").is_none(), "{step}");
        assert!(step.get("concurrent").is_none(), "{step}");
        assert!(written["cases"][0].get("file").is_none());
        assert_eq!(
            written["cases"][0]["steps"][3]["expect_count"],
            serde_json::json!({"200": {"max": 1}})
        );
    }

    #[test]
    fn alternatives_serialize_as_the_schema_expects() {
        let expect = Expect {
            any_of: vec![
                Expect::status(200).with_json("/scope", Matcher::present()),
                Expect::status(&[400, 401][..]),
            ],
            ..Expect::default()
        };
        assert_eq!(
            serde_json::to_value(&expect).expect("serializes"),
            serde_json::json!({"any_of": [
                {"status": 200, "json": {"/scope": {"present": true}}},
                {"status": [400, 401]}
            ]})
        );
        let mut case = rich_case();
        case.steps[1].expect = Some(expect);
        let text = serde_json::to_string(&file_of(case)).expect("serializes");
        let loaded = parse_case_file(Path::new("any_of.json"), &text).expect("valid");
        assert_eq!(
            loaded[0].steps[1].expect.as_ref().map(|e| e.any_of.len()),
            Some(2)
        );
    }

    #[test]
    fn a_pointer_given_again_keeps_its_place() {
        let e = Expect::default()
            .with_json("/a", Matcher::of_type("string"))
            .with_json("/b", Matcher::of_type("string"))
            .with_json("/a", Matcher::equals("x"));
        let keys: Vec<&String> = e.json.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["/a", "/b"]);
        assert_eq!(e.json.0[0].1, Matcher::equals("x"));
    }

    /// The model loses nothing the catalogue's own files say: each case, loaded and
    /// serialized again, is the case its file holds.
    #[test]
    fn every_catalogue_case_serializes_back_to_its_file() {
        let mut files = Vec::new();
        let dir = Catalogue::default_dir();
        collect_files(&dir, &dir, &mut files).expect("the catalogue lists");
        assert!(!files.is_empty());
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable");
            let raw: Value = serde_json::from_str(&text).expect("JSON");
            let cases = parse_case_file(&f, &text).expect("the catalogue loads");
            for (i, c) in cases.iter().enumerate() {
                assert_eq!(
                    serde_json::to_value(c).expect("serializes"),
                    raw["cases"][i],
                    "{} case {}: the model writes it otherwise than its file (a field \
                     lost, or a default the file spells out)",
                    f.display(),
                    c.id
                );
            }
        }
    }

    #[test]
    fn the_writer_writes_only_what_loads() {
        let dir = std::env::temp_dir().join(format!("qoauth-case-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = write_case_file(&dir, "ok.json", &file_of(rich_case())).expect("written");
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
        parse_case_file(&path, &text).expect("loads");

        let mut broken = rich_case();
        broken.steps[1].request = None;
        let refused = write_case_file(&dir, "broken.json", &file_of(broken));
        assert!(
            matches!(refused, Err(WriteCaseError::Invalid(_))),
            "{refused:?}"
        );
        assert!(!dir.join("broken.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_case_names_the_file_and_line_of_a_matcher() {
        let cases = parse_case_file(Path::new("/repo/cases/token/x.json"), FILE).expect("valid");
        assert_eq!(
            cases[0].location("/steps/0/expect/json/~1errors~10~1code"),
            "cases/token/x.json:13"
        );
        // A pointer with no value of its own falls back to the nearest one that has.
        assert_eq!(
            cases[1].location("/steps/0/expect/any_of"),
            "cases/token/x.json:19"
        );
        assert_eq!(
            cases[1].location("/steps/0/expect/nothing/here"),
            "cases/token/x.json:19"
        );
    }
}
