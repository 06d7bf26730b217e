//! The case catalogue: every `*.json` under `cases/` (except profiles, the vendored spec
//! and the schema), validated against `case.schema.json` before anything runs, so a bad
//! file fails at load time with its path, the case id and the field rather than mid-run.

use crate::result::{Level, Reference};
use crate::template::{self, Scope};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Deserialize)]
pub struct CaseFile {
    pub cases: Vec<Case>,
}

/// One scenario, as the case file states it (templates not yet rendered).
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub level: Level,
    /// `qlik`: the case checks the real service's own choice among several the RFCs allow,
    /// judged only for a profile that asks for that fidelity.
    #[serde(default)]
    pub fidelity: Option<crate::profile::Fidelity>,
    pub refs: Vec<Reference>,
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub destructive: bool,
    /// Ordered: a binding may use those before it.
    #[serde(default, rename = "let")]
    pub lets: serde_json::Map<String, Value>,
    pub steps: Vec<Step>,
    /// The file the case came from, for messages.
    #[serde(skip)]
    pub file: PathBuf,
}

impl Case {
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

#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub request: Option<Request>,
    #[serde(default)]
    pub login: Option<Login>,
    #[serde(default)]
    pub repeat: Option<u32>,
    #[serde(default)]
    pub concurrent: bool,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    pub expect_count: BTreeMap<String, Matcher>,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    #[serde(default)]
    pub record: Vec<String>,
}

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

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Request {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_query: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<serde_json::Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub follow_redirects: bool,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Login {
    pub client: String,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

fn default_user() -> String {
    "default".into()
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSet>,
    #[serde(default)]
    pub headers: BTreeMap<String, Matcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// JSON pointer -> matcher, in file order.
    #[serde(default)]
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

/// JSON-pointer matchers keep the file's order, so the first finding is the first the
/// author wrote.
pub type Vec1Map = indexmap_like::OrderedMap<Matcher>;

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum StatusSet {
    One(u16),
    Many(Vec<u16>),
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

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct LocationExpect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_redirect_uri: Option<String>,
    #[serde(default)]
    pub query: BTreeMap<String, Matcher>,
}

/// A predicate on one observed value; every given property must hold.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
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

    #[derive(Debug, Clone)]
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
    for (i, mut c) in parsed.cases.into_iter().enumerate() {
        c.file = file.to_path_buf();
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

fn escape_pointer(s: &str) -> String {
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
