//! Deliberate rule breaks, used to measure how many of them the conformance suite detects
//! (the detection matrix, `reports/detection.md`). Each fault breaks exactly one rule, the
//! way real servers get it wrong.
//!
//! Everything here exists only with the `faults` cargo feature. Without it [`Faults`] is an
//! empty type and the [`fault!`] macro every hook goes through expands to `false`, so a
//! normal build carries no fault code at all.

/// `fault!(state, Name)`: whether fault `Name` is on for this server. The only way the
/// handlers consult the catalogue; without the `faults` feature it is the constant `false`.
#[cfg(feature = "faults")]
macro_rules! fault {
    ($s:expr, $f:ident) => {
        $s.faults.has($crate::faults::Fault::$f)
    };
}

#[cfg(not(feature = "faults"))]
macro_rules! fault {
    ($s:expr, $f:ident) => {
        $crate::faults::off(&$s)
    };
}

/// What `fault!` becomes without the feature: always false, inlined away.
#[cfg(not(feature = "faults"))]
#[inline(always)]
pub(crate) const fn off<T>(_: &T) -> bool {
    false
}

#[cfg(feature = "faults")]
pub use catalogue::{Fault, FaultKind, UnknownFault};

#[cfg(feature = "faults")]
mod catalogue {
    use std::fmt;

    /// What a fault is about.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum FaultKind {
        Security,
        Protocol,
        Robustness,
    }

    impl FaultKind {
        pub fn name(self) -> &'static str {
            match self {
                FaultKind::Security => "security",
                FaultKind::Protocol => "protocol",
                FaultKind::Robustness => "robustness",
            }
        }
    }

    macro_rules! catalogue {
        ($($variant:ident $name:literal $kind:ident $rule:literal $reference:literal;)+) => {
            /// One deliberate rule break. The table in `reports/detection.md` lists them
            /// with the rule each breaks and the cases that catch it.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
            pub enum Fault {
                $($variant,)+
            }

            impl Fault {
                /// Every fault, in catalogue order.
                pub const ALL: &'static [Fault] = &[$(Fault::$variant,)+];

                /// The name `--fault` takes.
                pub fn name(self) -> &'static str {
                    match self { $(Fault::$variant => $name,)+ }
                }

                pub fn kind(self) -> FaultKind {
                    match self { $(Fault::$variant => FaultKind::$kind,)+ }
                }

                /// The rule the fault breaks, in one line.
                pub fn rule(self) -> &'static str {
                    match self { $(Fault::$variant => $rule,)+ }
                }

                /// Where the rule is written (spec, RFC section, notes).
                pub fn reference(self) -> &'static str {
                    match self { $(Fault::$variant => $reference,)+ }
                }
            }
        };
    }

    catalogue! {
        // Security.
        OpenRedirect "open-redirect" Security
            "authorize redirects to a redirect_uri that is not registered for the client"
            "RFC 6749 4.1.2.1, RFC 9700 4.1.3";
        UnknownClientRedirect "unknown-client-redirect" Security
            "authorize with an unknown client_id redirects instead of answering 400"
            "RFC 6749 4.1.2.1; spec GET /oauth/authorize 400";
        RedirectPrefixMatch "redirect-prefix-match" Security
            "redirect_uri compared by prefix instead of exact string equality"
            "RFC 9700 4.1.3, RFC 6749 3.1.2.3";
        PkceNotEnforced "pkce-not-enforced" Security
            "the token endpoint does not compare code_verifier with the code_challenge"
            "RFC 7636 4.6";
        PkcePlainAccepted "pkce-plain-accepted" Security
            "code_challenge_method=plain is accepted"
            "RFC 9700 2.1.1; notes ambiguity 5 (S256 only)";
        CodeReusable "code-reusable" Security
            "an authorization code can be redeemed more than once"
            "RFC 6749 4.1.2 (single use)";
        CodeReplayKeepsTokens "code-replay-keeps-tokens" Security
            "a replayed code is refused but the tokens issued from it stay valid"
            "RFC 6749 4.1.2 (SHOULD revoke)";
        CodeNotBoundToClient "code-not-bound-to-client" Security
            "a code issued to one client is redeemed by another"
            "RFC 6749 4.1.3";
        RedirectUriNotChecked "redirect-uri-not-checked" Security
            "the token endpoint ignores a redirect_uri that differs from the authorization request"
            "RFC 6749 4.1.3";
        RefreshReusable "refresh-reusable" Security
            "a rotated refresh token keeps working"
            "RFC 9700 4.14.2";
        RefreshNotRotated "refresh-not-rotated" Security
            "a refresh answers without a new refresh token"
            "RFC 9700 4.14.2; notes ambiguity 8 (always rotated)";
        RefreshReuseKeepsFamily "refresh-reuse-keeps-family" Security
            "reuse of a rotated refresh token is refused but the family is not revoked"
            "RFC 9700 4.14.2";
        RefreshScopeEscalation "refresh-scope-escalation" Security
            "a refresh grants scopes beyond the original grant"
            "RFC 6749 6 (scope MUST NOT include any scope not originally granted)";
        ScopeAllowListIgnored "scope-allow-list-ignored" Security
            "client_credentials and impersonation grant any declared scope, on the allow list or not"
            "RFC 6749 3.3 (the server may narrow, never widen); spec oauth-client-credentials-request scope";
        PkceDowngradeAccepted "pkce-downgrade-accepted" Security
            "a code issued without a code_challenge is redeemed with any code_verifier"
            "RFC 9700 2.1.1 (a code_verifier only if a code_challenge was sent)";
        CodeNeverExpires "code-never-expires" Security
            "an authorization code is redeemed after its lifetime"
            "RFC 6749 4.1.2 (the code MUST expire shortly after it is issued)";
        RefreshNeverExpires "refresh-never-expires" Security
            "a refresh token is accepted after its lifetime"
            "RFC 9700 4.14.2 (refresh tokens SHOULD expire)";
        PageFramable "page-framable" Security
            "the login and consent pages may be framed: no X-Frame-Options, no CSP frame-ancestors"
            "RFC 9700 4.16 (clickjacking)";
        RefreshAssertionUnverified "refresh-assertion-unverified" Security
            "the refresh grant takes a client assertion without verifying it"
            "RFC 7523 3 (MUST reject an invalid signature); RFC 6749 6 (authenticate the client)";
        RefreshClientNotBound "refresh-client-not-bound" Security
            "a refresh token is accepted from a client it was not issued to"
            "RFC 6749 6, 10.4";
        AssertionAudSkipped "assertion-aud-skipped" Security
            "a client assertion's aud is not checked"
            "RFC 7523 3 (aud MUST identify the authorization server)";
        AssertionExpSkipped "assertion-exp-skipped" Security
            "an expired client assertion is accepted"
            "RFC 7523 3 (exp)";
        AssertionJtiSkipped "assertion-jti-skipped" Security
            "a client assertion's jti may be replayed"
            "RFC 7523 3 (jti replay protection); notes ambiguity 14";
        AssertionSignatureSkipped "assertion-signature-skipped" Security
            "a client assertion's signature is not verified"
            "RFC 7523 3 (the JWT MUST be digitally signed)";
        AlgNoneAccepted "alg-none-accepted" Security
            "an unsigned client assertion (alg none) is accepted"
            "RFC 7523 3, RFC 8725 3.1";
        RevocationNoop "revocation-noop" Security
            "revocation answers 200 but the token keeps working"
            "RFC 7009 2.1";
        RevokeRefreshKeepsAccess "revoke-refresh-keeps-access" Security
            "revoking a refresh token leaves its access tokens valid"
            "RFC 7009 2.1 (SHOULD also invalidate access tokens of the same grant)";
        DisabledUserAllowed "disabled-user-allowed" Security
            "a disabled user can still be impersonated"
            "spec POST /oauth/token 403; notes section 2";
        DisabledUserCodeRedeemed "disabled-user-code-redeemed" Security
            "a code issued before its user was disabled is still redeemed"
            "spec POST /oauth/token 403 (user is disabled)";
        DisabledUserRefreshes "disabled-user-refreshes" Security
            "a refresh token of a user disabled since keeps working"
            "spec POST /oauth/token 403 (user is disabled)";
        ImpersonationWithoutGrant "impersonation-without-grant" Security
            "a client without the impersonation grant can impersonate users"
            "spec urn:qlik:oauth:user-impersonation; RFC 6749 5.2 unauthorized_client";
        PublicClientCredentials "public-client-credentials" Security
            "a public client obtains tokens with client_credentials"
            "RFC 6749 4.4 (confidential clients only)";
        ConfidentialWithoutSecret "confidential-without-secret" Security
            "a confidential client redeems a code without authenticating"
            "RFC 6749 3.2.1, 4.1.3";
        MultipleClientAuth "multiple-client-auth" Security
            "a request using more than one client authentication method is accepted"
            "RFC 6749 2.3";
        SecretEchoed "secret-echoed" Security
            "a failed client authentication echoes the presented secret in the error"
            "RFC 6749 10.3, 2.3.1";
        StateDropped "state-dropped" Security
            "the successful authorization redirect omits state"
            "RFC 6749 4.1.2 (state REQUIRED if present in the request)";
        // Protocol.
        NarrowedScopeUnstated "narrowed-scope-unstated" Protocol
            "a scope request beyond the allow list is narrowed, and the answer leaves scope out"
            "RFC 6749 3.3, 5.1 (scope REQUIRED when it differs from the request)";
        TokenCapIgnored "token-cap-ignored" Protocol
            "tokens past the client's cap are issued"
            "spec POST /oauth/token 403 (maximum number of tokens)";
        TierBelowAllowance "tier-below-allowance" Protocol
            "rate limits at a quarter of the documented tiers: 250 a minute for authorize, 25 for token and revoke"
            "spec GET /oauth/authorize x-qlik-tier; spec POST /oauth/revoke x-qlik-tier";
        ErrorRedirectDropsState "error-redirect-drops-state" Protocol
            "error redirects omit state"
            "RFC 6749 4.1.2.1";
        ErrorRedirect307 "error-redirect-307" Protocol
            "authorize redirects with 307, which would replay a POSTed login form"
            "RFC 9700 4.12";
        BasicFailureNoChallenge "basic-failure-no-challenge" Protocol
            "a failed Basic authentication gets 400 without WWW-Authenticate"
            "RFC 6749 5.2 (401 with WWW-Authenticate when the client used Authorization)";
        ErrorStatus200 "error-status-200" Protocol
            "invalid_request errors are answered with HTTP 200"
            "RFC 6749 5.2; spec POST /oauth/token 400";
        EnvelopeWithoutErrors "envelope-without-errors" Protocol
            "error bodies are bare RFC 6749 objects without the errors array"
            "spec Errors schema; notes section 1 (clients throw on errors)";
        StatusAsNumber "status-as-number" Protocol
            "errors[].status is a JSON number instead of a string"
            "spec Error schema (status: string); notes section 2";
        NoCacheControl "no-cache-control" Protocol
            "token responses lack Cache-Control: no-store"
            "RFC 6749 5.1";
        MissingExpiresIn "missing-expires-in" Protocol
            "token responses lack expires_in"
            "spec oauth-token-response; RFC 6749 5.1 (RECOMMENDED)";
        TokenTypeWrong "token-type-wrong" Protocol
            "token_type is not bearer"
            "RFC 6749 5.1, RFC 6750; spec oauth-token-response";
        TokenContentTypeText "token-content-type-text" Protocol
            "token responses are labelled text/plain"
            "RFC 6749 5.1 (application/json)";
        ExpiresAtNotDateTime "expires-at-not-date-time" Protocol
            "expires_at is Unix seconds in a string instead of a date-time"
            "spec oauth-token-response (expires_at format date-time)";
        NoPragma "no-pragma" Protocol
            "token responses lack Pragma: no-cache"
            "RFC 6749 5.1 (as well as the Pragma response header field with a value of no-cache)";
        RevokeSuccessEmpty "revoke-success-empty" Protocol
            "a successful revocation answers 200 with an empty body and no media type"
            "spec POST /oauth/revoke 200 (application/json)";
        RevokeHintTrusted "revoke-hint-trusted" Protocol
            "revocation looks for the token only where token_type_hint says"
            "RFC 7009 2.1 (it MUST extend its search across all of its supported token types)";
        LookupFieldDefaulted "lookup-field-defaulted" Protocol
            "impersonation without user_lookup.field looks the value up as a subject"
            "spec oauth-user-impersonation-request (user_lookup field required)";
        AssertionOnlyForClientCredentials "assertion-only-for-client-credentials" Protocol
            "a client assertion authenticates client_credentials requests only, not code redemptions"
            "spec oauth-authorization-code-request (client_assertion); RFC 7523 2.2";
        RefreshForClientCredentials "refresh-for-client-credentials" Protocol
            "client_credentials responses include a refresh token"
            "RFC 6749 4.4.3 (SHOULD NOT be included)";
        FormRefused "form-refused" Protocol
            "form-urlencoded token bodies are refused with 415"
            "RFC 6749 4.1.3, 3.2; spec requestBody";
        JsonRefused "json-refused" Protocol
            "JSON token bodies are refused with 415"
            "spec requestBody application/json; notes section 1 ([API] sends JSON)";
        UnknownParamsRejected "unknown-params-rejected" Protocol
            "unknown token request parameters are refused"
            "RFC 6749 3.2 (MUST ignore unrecognized request parameters)";
        DuplicateParamsAccepted "duplicate-params-accepted" Protocol
            "a repeated token request parameter is accepted (last copy wins)"
            "RFC 6749 3.2 (MUST NOT be included more than once)";
        RevokeUnknown400 "revoke-unknown-400" Protocol
            "revoking an unknown token answers 400"
            "RFC 7009 2.2 (invalid tokens do not cause an error)";
        DiscoveryMissingFields "discovery-missing-fields" Protocol
            "discovery metadata lacks token_endpoint and revocation_endpoint"
            "RFC 8414 2";
        MethodNotAllowedBare "method-not-allowed-bare" Protocol
            "405 answers have an empty body instead of an Errors envelope"
            "spec Errors; notes section 1 (clients parse the envelope on every status)";
        // Robustness.
        PanicOnJsonArray "panic-on-json-array" Robustness
            "a token body that is a JSON array crashes the handler (500)"
            "spec POST /oauth/token 400 (malformed bodies are client errors)";
        ServerErrorOnLongScope "500-on-long-scope" Robustness
            "a very long scope parameter gets 500"
            "RFC 6749 5.2 invalid_scope; spec POST /oauth/token 400";
        ServerErrorOnMissingState "500-on-missing-state" Robustness
            "an authorization request without state crashes the handler (500)"
            "RFC 9110 15.6; spec GET /oauth/authorize parameters (state required: a client error, never a server one)";
        SlowToken "slow-token" Robustness
            "client_credentials answers take longer than a client's timeout"
            "spec x-qlik-tier (interactive endpoints); harness request timeout";
        HangingRevoke "hanging-revoke" Robustness
            "the revocation endpoint never answers"
            "RFC 7009 2.2 (the server responds)";
        CodeRedemptionRace "code-redemption-race" Robustness
            "concurrent redemptions of one code can all succeed (check then mark, not atomic)"
            "RFC 6749 4.1.2 (single use), RFC 9700 4.2.4";
    }

    impl fmt::Display for Fault {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    /// A `--fault` name that is not in the catalogue.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UnknownFault(pub String);

    impl fmt::Display for UnknownFault {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "unknown fault {:?}; known: ", self.0)?;
            for (i, fault) in Fault::ALL.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(fault.name())?;
            }
            Ok(())
        }
    }

    impl std::error::Error for UnknownFault {}

    impl std::str::FromStr for Fault {
        type Err = UnknownFault;
        fn from_str(s: &str) -> Result<Fault, UnknownFault> {
            Fault::ALL
                .iter()
                .copied()
                .find(|f| f.name() == s)
                .ok_or_else(|| UnknownFault(s.to_owned()))
        }
    }
}

/// The set of enabled faults; empty (and zero-sized) without the `faults` feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    #[cfg(feature = "faults")]
    bits: u128,
}

#[cfg(feature = "faults")]
impl Faults {
    /// A set holding the given faults.
    pub fn of<I: IntoIterator<Item = Fault>>(faults: I) -> Faults {
        let mut set = Faults::default();
        for f in faults {
            set.bits |= 1u128 << (f as u32);
        }
        set
    }

    /// Parses `--fault` names.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(
        names: I,
    ) -> Result<Faults, UnknownFault> {
        let faults = names
            .into_iter()
            .map(|n| n.as_ref().parse::<Fault>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Faults::of(faults))
    }

    /// Whether a fault is on.
    #[inline]
    pub fn has(&self, f: Fault) -> bool {
        self.bits & (1u128 << (f as u32)) != 0
    }

    /// The enabled faults, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        Fault::ALL.iter().copied().filter(|f| self.has(*f))
    }
}
