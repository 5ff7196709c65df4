//! Request authentication as the API gateway does it: SDK-HMAC-SHA256 signatures verified with
//! `desktag_api::sign` over the received bytes, with the gateway's 15-minute `X-Sdk-Date` window,
//! or an `X-Auth-Token` compared in constant time. `check_head` needs only the headers, so a
//! request is refused before its body is read; `check` adds the signature over the body. Only a
//! signed `X-Sdk-Content-Sha256` may stand in for the body's hash, and then it must be that hash.
//! Pure: the clock is an argument.

use axum::http::StatusCode;

use sha2::{Digest, Sha256};

use desktag_api::sign::{self, Signable};
use desktag_core::secret::Secret;

use super::errors::{ServiceError, GW_AUTH, GW_EXPIRED};

/// How clients must authenticate.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Everything is accepted. Unsafe outside tests on loopback.
    #[default]
    None,
    /// `Authorization: SDK-HMAC-SHA256 Access=<ak>, …` signed with `sk`.
    AkSk { ak: String, sk: Secret },
    /// `X-Auth-Token` must equal this token.
    Token(Secret),
    /// Either credential: a request with an `Authorization` header must carry a valid
    /// signature, any other one the token.
    AkSkOrToken {
        ak: String,
        sk: Secret,
        token: Secret,
    },
}

/// The header a client may use to state the body's hash instead of the verifier computing it.
const CONTENT_SHA256: &str = "x-sdk-content-sha256";

/// How far `X-Sdk-Date` may be from the server's clock.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(15);

/// A request as received, for verification.
pub(crate) struct Received<'a> {
    pub method: &'a str,
    /// The raw (percent-encoded) path.
    pub path: &'a str,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// Every header received.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn denied(message: &str) -> ServiceError {
    ServiceError::gateway(
        StatusCode::UNAUTHORIZED,
        GW_AUTH,
        format!("Incorrect IAM authentication information: {message}"),
    )
}

/// The credential a request presents, for the per-credential rate limit: its access key
/// (`ak:AK`, when it carries a signature), else a digest of its `X-Auth-Token` (`token:…`; the
/// token itself is not kept), else `""` (no credential). Only keys the auth accepted, unless the
/// emulator runs without auth.
pub(crate) fn credential_key(headers: &[(String, String)]) -> String {
    if let Some(parsed) = header(headers, "authorization").and_then(sign::parse_authorization) {
        return format!("ak:{}", parsed.access);
    }
    match header(headers, "x-auth-token") {
        Some(token) => format!(
            "token:{}",
            hex::encode(&Sha256::digest(token.as_bytes())[..16])
        ),
        None => String::new(),
    }
}

/// What a request must prove, given its headers.
enum Credential<'a> {
    Open,
    Token(&'a Secret),
    Signature { ak: &'a str, sk: &'a Secret },
}

fn credential<'a>(auth: &'a Auth, headers: &[(String, String)]) -> Credential<'a> {
    match auth {
        Auth::None => Credential::Open,
        Auth::Token(token) => Credential::Token(token),
        Auth::AkSk { ak, sk } => Credential::Signature { ak, sk },
        Auth::AkSkOrToken { ak, sk, token } => {
            if header(headers, "authorization").is_some() {
                Credential::Signature { ak, sk }
            } else {
                Credential::Token(token)
            }
        }
    }
}

/// Everything that can be checked before the body arrives: the token, or the signature's
/// access key, signed headers and date. Refuses with a 401 in the gateway's shape.
pub(crate) fn check_head(
    auth: &Auth,
    headers: &[(String, String)],
    now: time::OffsetDateTime,
) -> Result<(), ServiceError> {
    match credential(auth, headers) {
        Credential::Open => Ok(()),
        Credential::Token(token) => match header(headers, "x-auth-token") {
            None => Err(denied("the request has no X-Auth-Token header")),
            Some(given) if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) => Ok(()),
            Some(_) => Err(denied("the X-Auth-Token is invalid")),
        },
        Credential::Signature { ak, .. } => check_signed_head(ak, headers, now).map(|_| ()),
    }
}

/// Accepts the whole request (headers and body) or says why not (a 401 in the gateway's shape).
pub(crate) fn check(
    auth: &Auth,
    req: &Received<'_>,
    now: time::OffsetDateTime,
) -> Result<(), ServiceError> {
    match credential(auth, req.headers) {
        Credential::Signature { ak, sk } => check_signature(ak, sk, req, now),
        _ => check_head(auth, req.headers, now),
    }
}

fn check_signed_head(
    ak: &str,
    headers: &[(String, String)],
    now: time::OffsetDateTime,
) -> Result<sign::ParsedAuthorization, ServiceError> {
    let header_value = header(headers, "authorization")
        .ok_or_else(|| denied("the request has no Authorization header"))?;
    let parsed = sign::parse_authorization(header_value).ok_or_else(|| {
        denied("the Authorization header is not `SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`")
    })?;
    if parsed.access != ak {
        return Err(denied("the access key (Access=) is unknown"));
    }
    if !parsed.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err(denied("X-Sdk-Date must be one of the SignedHeaders"));
    }
    if let Some(missing) = parsed
        .signed_headers
        .iter()
        .find(|h| header(headers, h).is_none())
    {
        return Err(denied(&format!(
            "the signed header `{missing}` is not in the request"
        )));
    }
    let date = header(headers, "x-sdk-date").unwrap_or_default();
    let date = sign::parse_sdk_date(date)
        .ok_or_else(|| denied("X-Sdk-Date is not in the form YYYYMMDDTHHMMSSZ"))?;
    if (now - date).abs() > MAX_CLOCK_SKEW {
        return Err(ServiceError::gateway(
            StatusCode::UNAUTHORIZED,
            GW_EXPIRED,
            "Incorrect app authentication information: signature expired",
        ));
    }
    Ok(parsed)
}

fn check_signature(
    ak: &str,
    sk: &Secret,
    req: &Received<'_>,
    now: time::OffsetDateTime,
) -> Result<(), ServiceError> {
    let parsed = check_signed_head(ak, req.headers, now)?;
    // The body's hash is what was received, unless a signed X-Sdk-Content-Sha256 says it (then
    // it must be right). An unsigned one is dropped: anyone could have put it there.
    let content_hash_signed = parsed
        .signed_headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case(CONTENT_SHA256));
    if content_hash_signed {
        let declared = header(req.headers, CONTENT_SHA256).unwrap_or_default();
        let actual = hex::encode(Sha256::digest(req.body));
        if !declared.trim().eq_ignore_ascii_case(&actual) {
            return Err(denied(
                "X-Sdk-Content-Sha256 is not the SHA-256 of the body",
            ));
        }
    }
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(n, _)| content_hash_signed || !n.eq_ignore_ascii_case(CONTENT_SHA256))
        .cloned()
        .collect();
    let signable = Signable {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: &headers,
        body: req.body,
    };
    if sign::verify(sk.expose(), &parsed, &signable) {
        Ok(())
    } else {
        Err(denied("verify aksk signature fail"))
    }
}

/// Compares without an early exit, so the time taken does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKTEST";
    const SK: &str = "sk-test-secret";

    fn signed(date: &str, body: &[u8]) -> Vec<(String, String)> {
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:9".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("x-sdk-date".to_string(), date.to_string()),
        ];
        let auth = sign::authorization(
            AK,
            SK,
            &Signable {
                method: "POST",
                path: "/v2/p/desktops/d/tags",
                query: &[],
                headers: &headers,
                body,
            },
        );
        headers.push(("authorization".to_string(), auth));
        headers
    }

    fn received<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> Received<'a> {
        Received {
            method: "POST",
            path: "/v2/p/desktops/d/tags",
            query: &[],
            headers,
            body,
        }
    }

    fn aksk() -> Auth {
        Auth::AkSk {
            ak: AK.into(),
            sk: Secret::new(SK),
        }
    }

    #[test]
    fn a_fresh_signature_is_accepted_and_a_tampered_body_is_not() {
        let now = time::OffsetDateTime::now_utc();
        let h = signed(&sign::sdk_date(now), b"{}");
        assert!(check(&aksk(), &received(&h, b"{}"), now).is_ok());
        let err = check(&aksk(), &received(&h, b"{ }"), now).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (401, GW_AUTH));
        assert!(err.message.contains("verify aksk signature fail"));
    }

    #[test]
    fn a_date_outside_fifteen_minutes_is_expired() {
        let now = time::OffsetDateTime::now_utc();
        let h = signed(&sign::sdk_date(now - time::Duration::minutes(16)), b"");
        let err = check(&aksk(), &received(&h, b""), now).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (401, GW_EXPIRED));
        let h = signed(&sign::sdk_date(now + time::Duration::minutes(14)), b"");
        assert!(check(&aksk(), &received(&h, b""), now).is_ok());
    }

    #[test]
    fn missing_or_foreign_credentials_are_rejected() {
        let now = time::OffsetDateTime::now_utc();
        let err = check(&aksk(), &received(&[], b""), now).unwrap_err();
        assert!(err.message.contains("no Authorization"));
        let other = Auth::AkSk {
            ak: "OTHER".into(),
            sk: Secret::new(SK),
        };
        let h = signed(&sign::sdk_date(now), b"");
        assert!(check(&other, &received(&h, b""), now)
            .unwrap_err()
            .message
            .contains("access key"));
    }

    #[test]
    fn token_auth_compares_the_header() {
        let auth = Auth::Token(Secret::new("tok-123"));
        let now = time::OffsetDateTime::now_utc();
        let ok = vec![("X-Auth-Token".to_string(), "tok-123".to_string())];
        let bad = vec![("X-Auth-Token".to_string(), "tok-124".to_string())];
        assert!(check(&auth, &received(&ok, b""), now).is_ok());
        let err = check(&auth, &received(&bad, b""), now).unwrap_err();
        assert_eq!(err.status.as_u16(), 401);
        assert!(!err.message.contains("tok-12"));
        assert!(check(&auth, &received(&[], b""), now).is_err());
        assert!(check(&Auth::None, &received(&[], b""), now).is_ok());
    }

    #[test]
    fn constant_time_eq_compares_lengths_and_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn the_rate_limit_key_is_the_access_key_or_a_token_digest_never_the_token() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let signed = h(&[(
            "Authorization",
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=00",
        )]);
        assert_eq!(credential_key(&signed), "ak:AK1");
        let token = credential_key(&h(&[("X-Auth-Token", "very-secret-token")]));
        assert!(
            token.starts_with("token:") && !token.contains("secret"),
            "{token}"
        );
        assert_eq!(
            token,
            credential_key(&h(&[("x-auth-token", "very-secret-token")]))
        );
        assert_ne!(token, credential_key(&h(&[("X-Auth-Token", "another")])));
        assert_eq!(credential_key(&h(&[("Host", "x")])), "");
        assert_eq!(credential_key(&h(&[("Authorization", "Basic abc")])), "");
    }
}
