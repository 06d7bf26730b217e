//! Qlik's `Errors` envelope as an error type of the `oauth2` crate.
//!
//! The crate's stock clients ([`oauth2::basic::BasicClient`]) expect error bodies in the
//! RFC 6749 5.2 shape, `{"error": "invalid_client", ...}`. A Qlik tenant, and so the
//! reference, answers with `{"errors": [{"code", "title", "detail", "status"}], "traceId"}`
//! and puts the RFC name in `errors[0].meta.error`. The stock client then cannot read the
//! body and reports [`oauth2::RequestTokenError::Parse`]. The crate is generic over its
//! error type, so an application talking to Qlik plugs this one in and gets
//! [`oauth2::RequestTokenError::ServerResponse`] with the RFC name again.

use std::fmt;

use oauth2::basic::{BasicErrorResponseType, BasicTokenIntrospectionResponse, BasicTokenResponse};
use oauth2::{EndpointNotSet, ErrorResponse, StandardRevocableToken};
use serde::{Deserialize, Serialize};

/// The envelope of a failed request (spec `#/components/schemas/Errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QlikErrors {
    pub errors: Vec<QlikError>,
    #[serde(rename = "traceId", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// One error of the envelope. `status` is a string, as the real service sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QlikError {
    pub code: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<QlikErrorMeta>,
}

/// Where the reference names the RFC 6749 5.2 / RFC 7009 2.2.1 error behind its Qlik code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QlikErrorMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<BasicErrorResponseType>,
}

impl QlikErrors {
    /// The RFC error name of the first error, typed as the crate's stock clients type it.
    pub fn rfc_error(&self) -> Option<&BasicErrorResponseType> {
        self.errors.first()?.meta.as_ref()?.error.as_ref()
    }

    pub fn first(&self) -> Option<&QlikError> {
        self.errors.first()
    }
}

/// Status, code and title of each error: what a log may show (the reference never puts a
/// submitted value in `detail` either, but a foreign server might).
impl fmt::Display for QlikErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for e in &self.errors {
            write!(f, "{sep}{} {} {}", e.status, e.code, e.title)?;
            if let Some(name) = self.rfc_error().filter(|_| sep.is_empty()) {
                write!(f, " ({name})")?;
            }
            sep = "; ";
        }
        Ok(())
    }
}

impl ErrorResponse for QlikErrors {}

/// The crate's client with the Qlik envelope as its error type, both for token requests
/// and for revocation; everything else as in [`oauth2::basic::BasicClient`].
pub type QlikClient<
    HasAuthUrl = EndpointNotSet,
    HasRevocationUrl = EndpointNotSet,
    HasTokenUrl = EndpointNotSet,
> = oauth2::Client<
    QlikErrors,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    QlikErrors,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    HasRevocationUrl,
    HasTokenUrl,
>;
