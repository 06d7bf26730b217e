//! What the generator knows about one target: its clients, users and scopes.
//!
//! Requests built only from protocol words never get past client authentication, so the
//! generator mixes in the target's real identifiers. The secrets are kept apart: they are
//! what the oracle looks for in responses, and what redaction replaces in saved cases.

use serde_json::Value;

/// Why a fixture or a profile gives no vocabulary.
#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("fixture is not JSON")]
    FixtureJson { source: serde_json::Error },
    /// Every request the generator builds for a client carries its id.
    #[error("fixture client without client_id")]
    ClientWithoutId,
    #[error("profile is not JSON")]
    ProfileJson { source: serde_json::Error },
}

/// One client of the target, under the role name the case files use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Role in case templates (`confidential`, `public`, ...), or the client id when unmapped.
    pub role: String,
    pub id: String,
    pub secrets: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
}

/// One user of the target, under the role name the case files use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub role: String,
    pub subject: String,
    pub user_id: String,
    pub email: String,
}

/// The target-specific half of the generator's alphabet, and the secrets the oracle guards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vocabulary {
    pub clients: Vec<ClientInfo>,
    pub users: Vec<UserInfo>,
    pub scopes: Vec<String>,
    /// Secrets that belong to no client (profile passwords, API keys): never in a response.
    pub extra_secrets: Vec<String>,
}

/// Role names of the default fixture's clients, as the profile names them.
const CLIENT_ROLES: &[(&str, &str)] = &[
    ("web-confidential", "confidential"),
    ("native-public", "public"),
    ("spa-consent", "consent"),
    ("web-impersonation", "impersonation"),
    ("web-assertion", "assertion"),
    ("web-limited", "limited"),
    ("web-allowance", "allowance"),
    ("web-capped", "capped"),
    ("web-admin", "admin"),
];

const USER_ROLES: &[(&str, &str)] = &[
    ("user-alice", "default"),
    ("user-bob", "other"),
    ("user-dave", "disabled"),
];

fn role_of(table: &[(&str, &str)], id: &str) -> String {
    table
        .iter()
        .find(|(known, _)| *known == id)
        .map_or_else(|| id.to_string(), |(_, role)| role.to_string())
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Vocabulary {
    /// Reads a reference fixture (the `suite/reference/fixtures` format). Only the fields the
    /// generator needs are read, so the loader's own validation stays the one authority.
    pub fn from_fixture_json(text: &str) -> Result<Self, VocabularyError> {
        let root: Value =
            serde_json::from_str(text).map_err(|source| VocabularyError::FixtureJson { source })?;
        let mut vocabulary = Vocabulary {
            scopes: strings(root.get("scopes")),
            ..Vocabulary::default()
        };
        for client in root
            .get("clients")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = client
                .get("client_id")
                .and_then(Value::as_str)
                .ok_or(VocabularyError::ClientWithoutId)?;
            vocabulary.clients.push(ClientInfo {
                role: role_of(CLIENT_ROLES, id),
                id: id.to_string(),
                secrets: strings(client.get("secrets")),
                redirect_uris: strings(client.get("redirect_uris")),
                scopes: strings(client.get("allowed_scopes")),
            });
        }
        for user in root
            .get("users")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = |name: &str| {
                user.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let user_id = field("id");
            vocabulary.users.push(UserInfo {
                role: role_of(USER_ROLES, &user_id),
                subject: field("subject"),
                email: field("email"),
                user_id,
            });
        }
        Ok(vocabulary)
    }

    /// Reads a suite profile (cases/profiles/profile.schema.json): the form a remote target
    /// is described in. Roles come from the profile's own keys.
    pub fn from_profile_json(text: &str) -> Result<Self, VocabularyError> {
        let root: Value =
            serde_json::from_str(text).map_err(|source| VocabularyError::ProfileJson { source })?;
        let text_of = |value: &Value, name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut vocabulary = Vocabulary {
            scopes: strings(root.pointer("/scopes/allowed")),
            ..Vocabulary::default()
        };
        vocabulary
            .scopes
            .extend(strings(root.pointer("/scopes/forbidden")));
        if let Some(clients) = root.get("clients").and_then(Value::as_object) {
            for (role, client) in clients {
                let secret = text_of(client, "secret");
                let redirect = text_of(client, "redirect_uri");
                let scope = text_of(client, "scope");
                vocabulary.clients.push(ClientInfo {
                    role: role.clone(),
                    id: text_of(client, "id"),
                    secrets: [secret].into_iter().filter(|s| !s.is_empty()).collect(),
                    redirect_uris: [redirect].into_iter().filter(|s| !s.is_empty()).collect(),
                    scopes: scope
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                });
            }
        }
        if let Some(users) = root.get("users").and_then(Value::as_object) {
            for (role, user) in users {
                vocabulary.users.push(UserInfo {
                    role: role.clone(),
                    subject: text_of(user, "subject"),
                    user_id: text_of(user, "user_id"),
                    email: text_of(user, "email"),
                });
            }
        }
        Ok(vocabulary)
    }

    /// The vocabulary of the shipped default fixture.
    pub fn default_fixture() -> Self {
        Self::from_fixture_json(DEFAULT_FIXTURE).expect("the shipped default fixture parses")
    }

    /// Every value that must never appear in a response or an unredacted case file.
    pub fn secrets(&self) -> Vec<&str> {
        self.clients
            .iter()
            .flat_map(|client| client.secrets.iter())
            .chain(self.extra_secrets.iter())
            .map(String::as_str)
            .filter(|secret| !secret.is_empty())
            .collect()
    }

    /// Every redirect URI registered for any client: the only places a redirect may leave to.
    pub fn redirect_uris(&self) -> Vec<&str> {
        self.clients
            .iter()
            .flat_map(|client| client.redirect_uris.iter())
            .map(String::as_str)
            .collect()
    }

    /// Identifiers the generator may put anywhere in a request (no secrets among them).
    pub fn public_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for client in &self.clients {
            words.push(client.id.clone());
            words.extend(client.redirect_uris.iter().cloned());
        }
        for user in &self.users {
            words.extend([
                user.subject.clone(),
                user.user_id.clone(),
                user.email.clone(),
            ]);
        }
        words.extend(self.scopes.iter().cloned());
        words.retain(|word| !word.is_empty());
        words
    }

    /// The case-file template that stands for a secret, so saved cases replay without it.
    pub fn secret_template(&self, secret: &str) -> Option<String> {
        for client in &self.clients {
            if let Some(index) = client.secrets.iter().position(|known| known == secret) {
                return Some(if index == 0 {
                    format!("{{{{clients.{}.secret}}}}", client.role)
                } else {
                    "[REDACTED]".to_string()
                });
            }
        }
        self.extra_secrets
            .iter()
            .any(|known| known == secret)
            .then(|| "[REDACTED]".to_string())
    }

    /// Expands the templates that [`Vocabulary::secret_template`] writes, for replay.
    pub fn expand_templates(&self, text: &str) -> String {
        let mut out = text.to_string();
        for client in &self.clients {
            if let Some(secret) = client.secrets.first() {
                out = out.replace(&format!("{{{{clients.{}.secret}}}}", client.role), secret);
            }
            out = out.replace(&format!("{{{{clients.{}.id}}}}", client.role), &client.id);
        }
        out
    }
}

/// The shipped default fixture, compiled in so fuzz targets need no file system.
pub const DEFAULT_FIXTURE: &str = include_str!("../../reference/fixtures/default.json");

#[cfg(test)]
mod tests {
    use super::*;

    /// A client without a role is named by its id in case templates, which no profile
    /// resolves: every client of the default fixture must have one.
    #[test]
    fn every_default_fixture_client_has_a_role() {
        for client in &Vocabulary::default_fixture().clients {
            assert_ne!(
                client.role, client.id,
                "{} has no role in CLIENT_ROLES",
                client.id
            );
        }
    }
}
