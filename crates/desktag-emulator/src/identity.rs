//! The emulator's identity side, so every credential source desktag reads can be tested offline:
//! the IAM OIDC exchange (`POST /v3.0/OS-AUTH/id-token/tokens`, then
//! `POST /v3.0/OS-CREDENTIAL/securitytokens`), CCE Pod Identity (`POST /v1/pod-identity/credentials`),
//! the ECS metadata service (`PUT /meta-data/latest/api/token`, `GET /openstack/latest/securitykey`),
//! a stand-in for the GitHub Actions ID-token endpoint (`GET /actions/id-token`), the IAM
//! project lookup (`GET /v3/projects?name=`), and STS `POST /v5/decode-authorization-message`
//! for the encoded reasons of the refusals `Identity::deny` asks for. Temporary keys live for `Identity::lifetime`; the
//! tag API refuses them afterwards (401 `APIGW.0307`). Decisions are pure: the clock is an
//! argument.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde::Deserialize;
use time::OffsetDateTime;

use desktag_core::secret::Secret;

use super::auth::Auth;
use super::errors::{ServiceError, GW_AUTH};

/// The gateway's "the token must be updated": temporary credentials that expired.
pub const GW_TOKEN_EXPIRED: &str = "APIGW.0307";
/// IAM's refusal of an ID token, a token or a Pod Identity or Actions request.
pub const IAM_REFUSED: &str = "IAM.0001";
/// Characters in an issued security token: above 4 KB, as STS tokens may be.
pub const SECURITY_TOKEN_CHARS: usize = 4608;

/// How the identity side behaves.
#[derive(Debug, Clone)]
pub struct Identity {
    /// How long temporary keys (and the unscoped tokens of the OIDC exchange) live.
    pub lifetime: Duration,
    /// The lifetime the answers claim, when it differs from `lifetime`: keys then stop working
    /// before the client expects, as with a clock skew or a revoked session, so the client must
    /// renew on the service's 401.
    pub claimed_lifetime: Option<Duration>,
    /// The identity provider the OIDC exchange accepts (`X-Idp-Id`).
    pub idp_id: String,
    /// The ID token the exchange accepts; `None`: any non-empty one.
    pub id_token: Option<Secret>,
    /// The `Authorization` Pod Identity requires; `None`: any non-empty one.
    pub pod_token: Option<Secret>,
    /// The bearer token the Actions ID-token endpoint requires; `None`: any non-empty one.
    pub actions_request_token: Option<Secret>,
    /// Whether the metadata service hands out keys (the ECS has an agency).
    pub metadata_agency: bool,
    /// The region whose name `GET /v3/projects?name=` maps to the seed's first project (the
    /// others are reached by id).
    pub region: String,
    /// More projects the lookup lists, as (region name, project id): a name listed twice gives
    /// two matches.
    pub extra_projects: Vec<(String, String)>,
    /// IAM actions refused with a 403 whose encoded reason the STS endpoint decodes, e.g.
    /// `workspace:desktops:batchTag`.
    pub deny: Vec<String>,
}

/// The policy the emulator names as the one that denied a call.
pub const DENY_POLICY: &str = "desktag-emulator-deny";
/// Prefix of the emulator's encoded authorization messages.
const ENCODED_PREFIX: &str = "EMU1.";

/// The refusal of `action` by a deny rule: 403, with `error_detail` and an
/// `encoded_authorization_message` that `POST /v5/decode-authorization-message` decodes.
pub(crate) fn denied(action: &str, project_id: &str) -> ServiceError {
    let reason = serde_json::json!({
        "allowed": false,
        "action": action,
        "policy": DENY_POLICY,
        "effect": "Deny",
        "resource": format!("workspace:*:{project_id}:desktop:*"),
    });
    let mut error = ServiceError::service(
        StatusCode::FORBIDDEN,
        "WKS.0403",
        format!("Policy doesn't allow {action} to be performed."),
    );
    error.extra = vec![
        (
            "error_detail",
            format!("an explicit deny in an identity policy refuses {action}"),
        ),
        (
            "encoded_authorization_message",
            format!("{ENCODED_PREFIX}{}", hex::encode(reason.to_string())),
        ),
    ];
    error
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            lifetime: Duration::from_secs(3600),
            claimed_lifetime: None,
            idp_id: "desktag-emulator".to_string(),
            id_token: None,
            pod_token: None,
            actions_request_token: None,
            metadata_agency: true,
            region: "cn-north-4".to_string(),
            extra_projects: Vec::new(),
            deny: Vec::new(),
        }
    }
}

/// Temporary keys issued and not yet forgotten.
#[derive(Debug, Clone)]
pub(crate) struct TempKey {
    pub sk: Secret,
    pub security_token: Secret,
    pub expires_at: OffsetDateTime,
}

/// What the identity side has issued.
#[derive(Debug, Default)]
pub(crate) struct Issued {
    keys: Mutex<HashMap<String, TempKey>>,
    tokens: Mutex<HashMap<String, OffsetDateTime>>,
    metadata_sessions: Mutex<Vec<String>>,
}

/// Which identity API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityOp {
    IdTokenExchange,
    SecurityTokens,
    PodIdentity,
    MetadataToken,
    MetadataSecurityKey,
    ActionsIdToken,
    ListProjects,
    DecodeAuthorization,
}

impl IdentityOp {
    pub(crate) fn route(method: &Method, path: &str) -> Option<IdentityOp> {
        Some(match (method, path) {
            (&Method::POST, "/v3.0/OS-AUTH/id-token/tokens") => IdentityOp::IdTokenExchange,
            (&Method::POST, "/v3.0/OS-CREDENTIAL/securitytokens") => IdentityOp::SecurityTokens,
            (&Method::POST, "/v1/pod-identity/credentials") => IdentityOp::PodIdentity,
            (&Method::PUT, "/meta-data/latest/api/token") => IdentityOp::MetadataToken,
            (&Method::GET, "/openstack/latest/securitykey") => IdentityOp::MetadataSecurityKey,
            (&Method::GET, "/actions/id-token") => IdentityOp::ActionsIdToken,
            (&Method::GET, "/v3/projects") => IdentityOp::ListProjects,
            (&Method::POST, "/v5/decode-authorization-message") => IdentityOp::DecodeAuthorization,
            _ => return None,
        })
    }

    /// Whether the request must be signed like a tag API call (the project lookup is).
    pub(crate) fn signed(self) -> bool {
        matches!(
            self,
            IdentityOp::ListProjects | IdentityOp::DecodeAuthorization
        )
    }
}

/// An identity request as received.
#[derive(Clone, Copy)]
pub(crate) struct IdentityRequest<'a> {
    pub headers: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

/// An answer of the identity side.
pub(crate) struct IdentityReply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub content_type: &'static str,
}

impl IdentityReply {
    fn json(status: StatusCode, value: serde_json::Value) -> IdentityReply {
        IdentityReply {
            status,
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
            content_type: "application/json",
        }
    }
}

fn refused(message: impl Into<String>) -> ServiceError {
    ServiceError::service(StatusCode::UNAUTHORIZED, IAM_REFUSED, message)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn matches(expected: &Option<Secret>, given: &str) -> bool {
    !given.trim().is_empty()
        && expected
            .as_ref()
            .is_none_or(|e| constant_time_eq(e.expose().as_bytes(), given.trim().as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_hex(chars: usize) -> String {
    let mut out = String::with_capacity(chars + 32);
    while out.len() < chars {
        out.push_str(&format!("{:032x}", rand::random::<u128>()));
    }
    out.truncate(chars);
    out
}

/// IAM's form, `2026-01-02T03:04:05.000000Z` (the SDKs parse exactly this).
fn rfc3339(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

impl Issued {
    fn issue_key(&self, identity: &Identity, now: OffsetDateTime) -> (String, TempKey) {
        let ak = format!("TMP{}", random_hex(17).to_ascii_uppercase());
        let key = TempKey {
            sk: Secret::new(random_hex(40)),
            security_token: Secret::new(random_hex(SECURITY_TOKEN_CHARS)),
            expires_at: now + identity.lifetime,
        };
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        // Forget keys long expired, so a long-running emulator does not grow without bound.
        keys.retain(|_, k| k.expires_at + time::Duration::hours(1) > now);
        keys.insert(ak.clone(), key.clone());
        (ak, key)
    }

    /// Every temporary secret issued (secret keys and security tokens), for tests that check
    /// no output holds one.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.values()
            .flat_map(|k| [k.sk.clone(), k.security_token.clone()])
            .collect()
    }

    /// The temporary key with this access key, if one was issued.
    pub(crate) fn key(&self, ak: &str) -> Option<TempKey> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(ak)
            .cloned()
    }

    /// The auth a request signed with a temporary access key must pass, or why it is refused:
    /// an unknown access key is `None` (the configured auth decides); a known one must carry
    /// its security token and be unexpired.
    pub(crate) fn auth_for(
        &self,
        headers: &[(String, String)],
        now: OffsetDateTime,
    ) -> Result<Option<Auth>, ServiceError> {
        let Some(access) = header(headers, "authorization")
            .and_then(desktag_api::sign::parse_authorization)
            .map(|p| p.access)
        else {
            return Ok(None);
        };
        let Some(key) = self.key(&access) else {
            return Ok(None);
        };
        let given = header(headers, "x-security-token").unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), key.security_token.expose().as_bytes()) {
            return Err(ServiceError::gateway(
                StatusCode::UNAUTHORIZED,
                GW_AUTH,
                "Incorrect IAM authentication information: the X-Security-Token does not belong to the access key",
            ));
        }
        if now >= key.expires_at {
            return Err(ServiceError::gateway(
                StatusCode::UNAUTHORIZED,
                GW_TOKEN_EXPIRED,
                "The token must be updated: the security token has expired",
            ));
        }
        Ok(Some(Auth::AkSk {
            ak: access,
            sk: key.sk,
        }))
    }

    fn temp_credential(&self, identity: &Identity, now: OffsetDateTime) -> serde_json::Value {
        let (ak, key) = self.issue_key(identity, now);
        let claimed = identity
            .claimed_lifetime
            .map_or(key.expires_at, |lifetime| now + lifetime);
        serde_json::json!({
            "access": ak,
            "secret": key.sk.expose(),
            "securitytoken": key.security_token.expose(),
            "expires_at": rfc3339(claimed),
        })
    }

    /// Answers one identity request (after the signature check, for signed ones).
    pub(crate) fn answer(
        &self,
        op: IdentityOp,
        identity: &Identity,
        project_id: &str,
        request: &IdentityRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<IdentityReply, ServiceError> {
        let IdentityRequest {
            headers,
            query,
            body,
        } = *request;
        match op {
            IdentityOp::IdTokenExchange => self.exchange_id_token(identity, headers, body, now),
            IdentityOp::SecurityTokens => self.security_tokens(identity, body, now),
            IdentityOp::PodIdentity => self.pod_identity(identity, headers, now),
            IdentityOp::MetadataToken => Ok(self.metadata_token()),
            IdentityOp::MetadataSecurityKey => self.metadata_security_key(identity, headers, now),
            IdentityOp::ActionsIdToken => actions_id_token(identity, headers, query),
            IdentityOp::DecodeAuthorization => decode_authorization(body),
            IdentityOp::ListProjects => Ok(list_projects(identity, project_id, query)),
        }
    }

    /// `POST /v3.0/OS-AUTH/id-token/tokens`: an ID token of the configured provider for an
    /// unscoped token (in `X-Subject-Token`).
    fn exchange_id_token(
        &self,
        identity: &Identity,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<IdentityReply, ServiceError> {
        #[derive(Deserialize)]
        struct In {
            auth: InAuth,
        }
        #[derive(Deserialize)]
        struct InAuth {
            id_token: InToken,
        }
        #[derive(Deserialize)]
        struct InToken {
            id: String,
        }
        let idp = header(headers, "x-idp-id").unwrap_or_default();
        if idp != identity.idp_id {
            return Err(ServiceError::service(
                StatusCode::NOT_FOUND,
                IAM_REFUSED,
                format!("identity provider `{idp}` does not exist"),
            ));
        }
        let input: In = serde_json::from_slice(body)
            .map_err(|e| ServiceError::bad_request(format!("invalid request body: {e}")))?;
        if !matches(&identity.id_token, &input.auth.id_token.id) {
            return Err(refused("the ID token is invalid or expired"));
        }
        let token = random_hex(64);
        let expires = now + identity.lifetime;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), expires);
        let mut reply = IdentityReply::json(
            StatusCode::CREATED,
            serde_json::json!({"token": {
                "methods": ["mapped"],
                "expires_at": rfc3339(expires),
                "issued_at": rfc3339(now),
            }}),
        );
        reply.headers.push(("X-Subject-Token", token));
        Ok(reply)
    }

    /// `POST /v3.0/OS-CREDENTIAL/securitytokens`: a live unscoped token for temporary keys.
    fn security_tokens(
        &self,
        identity: &Identity,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<IdentityReply, ServiceError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ServiceError::bad_request(format!("invalid request body: {e}")))?;
        let identity_in = &value["auth"]["identity"];
        if identity_in["methods"] != serde_json::json!(["token"]) {
            return Err(ServiceError::bad_request(
                "auth.identity.methods must be [\"token\"]",
            ));
        }
        let token = identity_in["token"]["id"].as_str().unwrap_or_default();
        let valid = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .is_some_and(|expires| now < *expires);
        if !valid {
            return Err(refused("the token is invalid or expired"));
        }
        Ok(IdentityReply::json(
            StatusCode::CREATED,
            serde_json::json!({"credential": self.temp_credential(identity, now)}),
        ))
    }

    /// `POST /v1/pod-identity/credentials`: temporary keys for the service account token.
    fn pod_identity(
        &self,
        identity: &Identity,
        headers: &[(String, String)],
        now: OffsetDateTime,
    ) -> Result<IdentityReply, ServiceError> {
        let given = header(headers, "authorization").unwrap_or_default();
        if !matches(&identity.pod_token, given) {
            return Err(ServiceError::service(
                StatusCode::FORBIDDEN,
                IAM_REFUSED,
                "the service account token is not accepted",
            ));
        }
        let c = self.temp_credential(identity, now);
        Ok(IdentityReply::json(
            StatusCode::OK,
            serde_json::json!({"credentials": {
                "accessKeyId": c["access"],
                "secretAccessKey": c["secret"],
                "securityToken": c["securitytoken"],
                "expiration": c["expires_at"],
            }}),
        ))
    }

    /// `PUT /meta-data/latest/api/token`: a new metadata session token, as plain text.
    fn metadata_token(&self) -> IdentityReply {
        let session = random_hex(48);
        self.metadata_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session.clone());
        IdentityReply {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: session.into_bytes(),
            content_type: "text/plain",
        }
    }

    /// `GET /openstack/latest/securitykey`: temporary keys of the ECS agency; a session token,
    /// when given, must be one this service issued.
    fn metadata_security_key(
        &self,
        identity: &Identity,
        headers: &[(String, String)],
        now: OffsetDateTime,
    ) -> Result<IdentityReply, ServiceError> {
        if let Some(given) = header(headers, "x-metadata-token") {
            let known = self
                .metadata_sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|s| s == given);
            if !known {
                return Err(refused("the X-Metadata-Token is invalid"));
            }
        }
        if !identity.metadata_agency {
            return Err(ServiceError::service(
                StatusCode::NOT_FOUND,
                IAM_REFUSED,
                "Please configure Cloud Service Agency first",
            ));
        }
        Ok(IdentityReply::json(
            StatusCode::OK,
            serde_json::json!({"credential": self.temp_credential(identity, now)}),
        ))
    }
}

/// `GET /actions/id-token`: the stand-in of the GitHub Actions ID-token endpoint, for the
/// runner's bearer token; the ID token is the configured one, or one naming the audience.
fn actions_id_token(
    identity: &Identity,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> Result<IdentityReply, ServiceError> {
    let given = header(headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !matches(&identity.actions_request_token, given) {
        return Err(refused("the request token is not accepted"));
    }
    let audience = query
        .iter()
        .find(|(k, _)| k == "audience")
        .map(|(_, v)| v.as_str())
        .unwrap_or("https://github.com");
    let value = match &identity.id_token {
        Some(token) => token.expose().to_string(),
        None => format!("emulated-id-token.{}", desktag_api::sign::encode(audience)),
    };
    Ok(IdentityReply::json(
        StatusCode::OK,
        serde_json::json!({"count": value.len(), "value": value}),
    ))
}

/// `POST /v5/decode-authorization-message`: the reason inside an encoded message of `denied`.
fn decode_authorization(body: &[u8]) -> Result<IdentityReply, ServiceError> {
    #[derive(Deserialize)]
    struct In {
        encoded_message: String,
    }
    let input: In = serde_json::from_slice(body)
        .map_err(|e| ServiceError::bad_request(format!("invalid request body: {e}")))?;
    let decoded = input
        .encoded_message
        .strip_prefix(ENCODED_PREFIX)
        .and_then(|hex_text| hex::decode(hex_text).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ServiceError::bad_request("the encoded message is not one this service issued")
        })?;
    Ok(IdentityReply::json(
        StatusCode::OK,
        serde_json::json!({ "decoded_message": decoded }),
    ))
}

/// `GET /v3/projects?name=`: the seed's first project (named after `Identity::region`) and the extra
/// ones, filtered by name when one is given.
fn list_projects(
    identity: &Identity,
    project_id: &str,
    query: &[(String, String)],
) -> IdentityReply {
    let name = query
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str());
    let all = std::iter::once((identity.region.as_str(), project_id)).chain(
        identity
            .extra_projects
            .iter()
            .map(|(r, p)| (r.as_str(), p.as_str())),
    );
    let projects: Vec<serde_json::Value> = all
        .filter(|(region, _)| name.is_none_or(|n| n == *region))
        .map(|(region, id)| serde_json::json!({"id": id, "name": region, "enabled": true}))
        .collect();
    IdentityReply::json(StatusCode::OK, serde_json::json!({"projects": projects}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn signed_by(ak: &str, token: &str) -> Vec<(String, String)> {
        vec![
            (
                "authorization".into(),
                format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature=00"),
            ),
            ("x-security-token".into(), token.into()),
        ]
    }

    #[test]
    fn issued_keys_are_enforced_until_they_expire() {
        let identity = Identity {
            lifetime: Duration::from_secs(2),
            ..Identity::default()
        };
        let issued = Issued::default();
        let (ak, key) = issued.issue_key(&identity, now());
        assert!(key.security_token.expose().len() > 4096);
        let headers = signed_by(&ak, key.security_token.expose());
        assert!(matches!(
            issued.auth_for(&headers, now()),
            Ok(Some(Auth::AkSk { .. }))
        ));
        let err = issued
            .auth_for(&headers, now() + time::Duration::seconds(2))
            .unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (401, GW_TOKEN_EXPIRED));
        let err = issued
            .auth_for(&signed_by(&ak, "other"), now())
            .unwrap_err();
        assert_eq!(err.code, GW_AUTH);
        assert!(issued
            .auth_for(&signed_by("STATICAK", ""), now())
            .unwrap()
            .is_none());
    }

    #[test]
    fn the_oidc_exchange_needs_the_provider_and_a_live_token() {
        let identity = Identity {
            id_token: Some(Secret::new("good")),
            ..Identity::default()
        };
        let issued = Issued::default();
        let idp = vec![("X-Idp-Id".to_string(), identity.idp_id.clone())];
        let body = br#"{"auth":{"id_token":{"id":"bad"}}}"#;
        let err = issued
            .answer(
                IdentityOp::IdTokenExchange,
                &identity,
                "p",
                &IdentityRequest {
                    headers: &idp,
                    query: &[],
                    body,
                },
                now(),
            )
            .err()
            .unwrap();
        assert_eq!(err.status.as_u16(), 401);
        let body = br#"{"auth":{"id_token":{"id":"good"}}}"#;
        let reply = issued
            .answer(
                IdentityOp::IdTokenExchange,
                &identity,
                "p",
                &IdentityRequest {
                    headers: &idp,
                    query: &[],
                    body,
                },
                now(),
            )
            .ok()
            .unwrap();
        let token = reply.headers[0].1.clone();
        let exchange = serde_json::json!({"auth":{"identity":{"methods":["token"],"token":{"id":token,"duration_seconds":900}}}});
        let reply = issued
            .answer(
                IdentityOp::SecurityTokens,
                &identity,
                "p",
                &IdentityRequest {
                    headers: &[],
                    query: &[],
                    body: exchange.to_string().as_bytes(),
                },
                now(),
            )
            .ok()
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert!(value["credential"]["access"]
            .as_str()
            .unwrap()
            .starts_with("TMP"));
        let late = issued.answer(
            IdentityOp::SecurityTokens,
            &identity,
            "p",
            &IdentityRequest {
                headers: &[],
                query: &[],
                body: exchange.to_string().as_bytes(),
            },
            now() + time::Duration::hours(2),
        );
        assert!(late.is_err());
    }

    #[test]
    fn the_project_lookup_filters_by_name() {
        let identity = Identity {
            extra_projects: vec![
                ("eu-west-101".into(), "p2".into()),
                ("eu-west-101".into(), "p3".into()),
            ],
            ..Identity::default()
        };
        let issued = Issued::default();
        let list = |name: &str| {
            let reply = issued
                .answer(
                    IdentityOp::ListProjects,
                    &identity,
                    "p1",
                    &IdentityRequest {
                        headers: &[],
                        query: &[("name".into(), name.into())],
                        body: b"",
                    },
                    now(),
                )
                .ok()
                .unwrap();
            let value: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            value["projects"].as_array().unwrap().len()
        };
        assert_eq!(list("cn-north-4"), 1);
        assert_eq!(list("eu-west-101"), 2);
        assert_eq!(list("ap-southeast-1"), 0);
    }
}
