//! Temporary credentials as the identity services hand them out, and when to renew them. Pure:
//! the answers are byte slices, the clock is an argument. Parsing never quotes a secret.

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::connection::Credentials;
use desktag_core::secret::Secret;

/// Credentials with the time they stop working (`None`: they do not expire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub credentials: Credentials,
    pub expires_at: Option<OffsetDateTime>,
    /// When they were obtained: refresh timing is a fraction of the lifetime.
    pub obtained_at: OffsetDateTime,
    /// Counts renewals: a refresh asked for generation `n` is done only once.
    pub generation: u64,
}

/// Renew at most this long before expiry (and earlier for short lifetimes: at half-life).
pub const REFRESH_AHEAD: Duration = Duration::minutes(15);

impl Lease {
    /// When a renewal is due: `REFRESH_AHEAD` before expiry, or at half the lifetime when that is
    /// shorter (a 2-second key is renewed after 1 s). `None` for credentials that do not expire.
    pub fn refresh_at(&self) -> Option<OffsetDateTime> {
        let expires = self.expires_at?;
        let lifetime = expires - self.obtained_at;
        let ahead = (lifetime / 2i32).min(REFRESH_AHEAD).max(Duration::ZERO);
        Some(expires - ahead)
    }

    pub fn due(&self, now: OffsetDateTime) -> bool {
        self.refresh_at().is_some_and(|at| now >= at)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    credential: Option<Fields>,
    #[serde(default)]
    credentials: Option<Fields>,
}

/// The two spellings in use: IAM and ECS metadata (`access`, `secret`, `securitytoken`,
/// `expires_at`), Pod Identity (`accessKeyId`, `secretAccessKey`, `securityToken`, `expiration`).
#[derive(Deserialize)]
struct Fields {
    #[serde(default, alias = "accessKeyId")]
    access: Option<String>,
    #[serde(default, alias = "secretAccessKey")]
    secret: Option<String>,
    #[serde(default, alias = "securityToken")]
    securitytoken: Option<String>,
    #[serde(default, alias = "expiration")]
    expires_at: Option<String>,
}

/// Parses `{"credential":{…}}` or `{"credentials":{…}}` into temporary AK/SK credentials named
/// `origin`. `Err` says which field is missing or malformed, never its value.
pub fn parse_temporary(
    body: &[u8],
    origin: &'static str,
    now: OffsetDateTime,
) -> Result<Lease, String> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not the expected JSON ({})",
            e.classify_name()
        )
    })?;
    let fields = envelope
        .credential
        .or(envelope.credentials)
        .ok_or("the answer has no `credential` or `credentials` object")?;
    let field = |value: Option<String>, name: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| format!("the answer has no `{name}`"))
    };
    let ak = field(fields.access, "access")?;
    let sk = field(fields.secret, "secret")?;
    let token = field(fields.securitytoken, "securitytoken")?;
    let expires = field(fields.expires_at, "expires_at")?;
    let expires_at = parse_expiry(&expires)
        .ok_or_else(|| format!("its expiry `{expires}` is not an RFC 3339 time"))?;
    let visible = |v: &str| v.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !(visible(&ak) && visible(&sk) && visible(&token)) {
        return Err("the answer holds credentials that cannot be sent in HTTP headers".into());
    }
    Ok(Lease {
        credentials: Credentials::AkSk {
            ak: Secret::new(ak),
            sk: Secret::new(sk),
            security_token: Some(Secret::new(token)),
            origin,
        },
        expires_at: Some(expires_at),
        obtained_at: now,
        generation: 0,
    })
}

/// `2026-01-02T03:04:05Z`, with or without fractional seconds or an offset.
pub fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// Formats an expiry for logs and `doctor`: RFC 3339, whole seconds, UTC.
pub fn format_expiry(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

/// The GitHub Actions ID-token answer: `{"value":"<jwt>"}`.
pub fn parse_actions_token(body: &[u8]) -> Result<Secret, String> {
    #[derive(Deserialize)]
    struct Answer {
        value: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not the expected JSON ({})",
            e.classify_name()
        )
    })?;
    answer
        .value
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret::new(v.trim().to_string()))
        .ok_or_else(|| "the answer has no `value`".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn iam_and_metadata_answers_parse() {
        let body = br#"{"credential":{"access":"TMPAK","secret":"TMPSK","securitytoken":"TOK","expires_at":"2027-01-15T08:00:00.000000Z"}}"#;
        let lease = parse_temporary(body, "test", now()).unwrap();
        assert_eq!(
            format_expiry(lease.expires_at.unwrap()),
            "2027-01-15T08:00:00Z"
        );
        assert!(matches!(
            lease.credentials,
            Credentials::AkSk { ref ak, security_token: Some(ref t), .. } if ak.expose() == "TMPAK" && t.expose() == "TOK"
        ));
    }

    #[test]
    fn pod_identity_answers_parse() {
        let body = br#"{"credentials":{"accessKeyId":"A","secretAccessKey":"S","securityToken":"T","expiration":"2027-01-15T08:00:00Z"}}"#;
        assert!(parse_temporary(body, "test", now()).is_ok());
    }

    #[test]
    fn bad_answers_say_what_is_missing_without_quoting_secrets() {
        let body = br#"{"credential":{"access":"A","secret":"SUPERSECRET","expires_at":"x"}}"#;
        let err = parse_temporary(body, "test", now()).unwrap_err();
        assert!(err.contains("securitytoken"), "{err}");
        assert!(!err.contains("SUPERSECRET"));
        let body = br#"{"credential":{"access":"A","secret":"S","securitytoken":"T","expires_at":"tomorrow"}}"#;
        assert!(parse_temporary(body, "test", now())
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(parse_temporary(b"<html>", "test", now()).is_err());
        assert!(parse_temporary(b"{}", "test", now()).is_err());
    }

    #[test]
    fn refresh_is_due_at_half_life_or_fifteen_minutes_ahead() {
        let lease = |secs: i64| Lease {
            credentials: Credentials::Token {
                token: Secret::new("t"),
                origin: "t".into(),
            },
            expires_at: Some(now() + Duration::seconds(secs)),
            obtained_at: now(),
            generation: 0,
        };
        assert_eq!(lease(2).refresh_at(), Some(now() + Duration::seconds(1)));
        assert!(!lease(2).due(now()));
        assert!(lease(2).due(now() + Duration::seconds(1)));
        assert_eq!(
            lease(6 * 3600).refresh_at(),
            Some(now() + Duration::seconds(6 * 3600) - REFRESH_AHEAD)
        );
        let forever = Lease {
            expires_at: None,
            ..lease(1)
        };
        assert!(!forever.due(now() + Duration::days(1000)));
    }

    #[test]
    fn the_actions_answer_gives_the_value() {
        assert_eq!(
            parse_actions_token(br#"{"value":"jwt"}"#).unwrap().expose(),
            "jwt"
        );
        assert!(parse_actions_token(br#"{"count":1}"#).is_err());
    }
}
