//! The user agent's part of the authorization code flow against the reference's test
//! identity provider: follow its redirects, keep its session cookie, submit its login and
//! consent forms, and stop at the client's redirect URI, whose URL (carrying `code` and
//! `state`) goes back to the application unopened.

use anyhow::{bail, Context as _};
use reqwest::header::LOCATION;
use url::Url;

use crate::tenant::LOGIN_HINT;

const MAX_STEPS: usize = 10;

/// What the walk reached and which pages of the IdP it had to go through.
#[derive(Debug)]
pub struct Callback {
    pub url: Url,
    /// The IdP showed its login form (no `login_hint`, or one naming nobody).
    pub signed_in_by_form: bool,
    /// The IdP asked for consent and the walk allowed it.
    pub consented: bool,
}

impl Callback {
    /// A query parameter of the callback URL (`code`, `state`, `error`, ...).
    pub fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Opens `authorize_url` in `browser` (a client that keeps cookies and follows no
/// redirects) and walks until a redirect to `redirect_uri` (same origin and path).
pub async fn authorize(
    browser: &reqwest::Client,
    authorize_url: &Url,
    redirect_uri: &str,
) -> anyhow::Result<Callback> {
    let target = Url::parse(redirect_uri).context("the redirect URI is not a URL")?;
    let mut signed_in_by_form = false;
    let mut consented = false;
    let mut resp = browser.get(authorize_url.clone()).send().await?;
    for _ in 0..MAX_STEPS {
        let here = resp.url().clone();
        let status = resp.status();
        if status.is_redirection() {
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{} answered {status} without a Location", here.path()))?;
            let next = here.join(loc).context("the Location is not a URL")?;
            if next.origin() == target.origin() && next.path() == target.path() {
                return Ok(Callback {
                    url: next,
                    signed_in_by_form,
                    consented,
                });
            }
            resp = browser.get(next).send().await?;
            continue;
        }
        let is_html = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/html"));
        if !(status == 200 && is_html) {
            bail!(
                "the authorize flow stopped at {} with HTTP {status}",
                here.path()
            );
        }
        let page = resp.text().await?;
        let form = Form::parse(&page)
            .with_context(|| format!("{} shows no form to submit", here.path()))?;
        let mut fields = form.hidden;
        match form.action.as_str() {
            "/oauth/consent" => {
                fields.push(("decision".into(), "allow".into()));
                consented = true;
            }
            "/oauth/login" => {
                fields.push(("login".into(), LOGIN_HINT.into()));
                signed_in_by_form = true;
            }
            other => bail!("{} shows an unexpected form (action {other})", here.path()),
        }
        let action = here.join(&form.action)?;
        resp = browser.post(action).form(&fields).send().await?;
    }
    bail!("the authorize flow did not reach {redirect_uri} within {MAX_STEPS} steps")
}

/// The one form of an IdP page: its action and hidden fields. The reference writes its
/// pages itself, so a small scanner of `<form ... action="...">` and
/// `<input type="hidden" name="..." value="...">` reads them reliably.
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
}

impl Form {
    fn parse(page: &str) -> Option<Form> {
        let form_tag = tag_after(page, "<form")?;
        let action = attr(form_tag, "action")?;
        let hidden = page
            .match_indices("<input")
            .filter_map(|(i, _)| tag_after(&page[i..], "<input"))
            .filter(|t| attr(t, "type").as_deref() == Some("hidden"))
            .filter_map(|t| Some((attr(t, "name")?, attr(t, "value").unwrap_or_default())))
            .collect();
        Some(Form { action, hidden })
    }
}

/// The text of the first tag starting with `open`, up to its `>`.
fn tag_after<'a>(page: &'a str, open: &str) -> Option<&'a str> {
    let start = page.find(open)?;
    let end = page[start..].find('>')?;
    Some(&page[start..start + end])
}

/// A double-quoted attribute of a tag, HTML entities decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_consent_form() {
        let page = "<form method=\"post\" action=\"/oauth/consent\">\
            <input type=\"hidden\" name=\"authorize_query\" value=\"a=1&amp;b=%22\">\
            <input type=\"hidden\" name=\"csrf\" value=\"x&lt;y\">\
            <button name=\"decision\" value=\"allow\">Allow</button></form>";
        let f = Form::parse(page).expect("a form");
        assert_eq!(f.action, "/oauth/consent");
        assert_eq!(
            f.hidden,
            vec![
                ("authorize_query".to_owned(), "a=1&b=%22".to_owned()),
                ("csrf".to_owned(), "x<y".to_owned()),
            ]
        );
    }

    #[test]
    fn a_page_without_a_form_has_none() {
        assert!(Form::parse("<p>nothing here</p>").is_none());
    }
}
