//! The emulator under abuse: what it refuses before reading a body, a body hash it must not
//! trust, slow clients and idle connections closed after their deadlines, the connection cap,
//! one emulator per state file, and AK/SK with a token accepted side by side.

use std::time::{Duration, Instant};

use desktag_api::sign::{self, Signable};
use desktag_core::secret::Secret;
use desktag_emulator::{Auth, EmulatorConfig, EmulatorHandle, Limits, Seed};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::emulator;

const PID: &str = "0123456789abcdef0123456789abcdef";
const AK: &str = "AKLIMITSTEST00000001";
const SK: &str = "limits-test-secret";

fn config(auth: Auth) -> EmulatorConfig {
    let seed = Seed::from_yaml(&format!(
        "project_id: {PID}\ndesktops:\n  - {{id: d1, name: D1}}\n  - {{id: d2, name: D2}}\n"
    ))
    .unwrap();
    EmulatorConfig {
        seed,
        auth,
        ..EmulatorConfig::default()
    }
}

fn aksk() -> Auth {
    Auth::AkSk {
        ak: AK.into(),
        sk: Secret::new(SK),
    }
}

fn short_limits() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

fn tags_of(emu: &EmulatorHandle, id: &str) -> Vec<String> {
    emu.desktops()
        .into_iter()
        .find(|d| d.id == id)
        .unwrap()
        .tags
        .keys()
        .map(|k| k.to_string())
        .collect()
}

/// Sends raw bytes and reads until the server closes the connection (or `wait` passes).
/// Sends `bytes` on a new connection and reads until the server closes it or `wait` passes:
/// the answer, how long it took, and whether the server closed the connection.
async fn raw(emu: &EmulatorHandle, bytes: &[u8], wait: Duration) -> (String, Duration, bool) {
    let mut tcp = TcpStream::connect(emu.local_addr()).await.unwrap();
    let started = Instant::now();
    tcp.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(wait, tcp.read_to_end(&mut out))
        .await
        .is_ok();
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
        closed,
    )
}

/// How long a test waits for the emulator to close a connection before giving up: a guard
/// against a hang, far beyond any timeout under test, not a time any test expects.
const PATIENCE: Duration = Duration::from_secs(60);

/// The headers of a POST to `path` signed like the SDK signs, plus `extra` signed headers.
fn signed_headers(
    host: &str,
    path: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("host".to_string(), host.to_string()),
        (
            "x-sdk-date".to_string(),
            sign::sdk_date(time::OffsetDateTime::now_utc()),
        ),
    ];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
    let auth = sign::authorization(
        AK,
        SK,
        &Signable {
            method: "POST",
            path,
            query: &[],
            headers: &headers,
            body,
        },
    );
    headers.push(("authorization".to_string(), auth));
    headers
}

async fn send(emu: &EmulatorHandle, path: &str, headers: &[(String, String)], body: &[u8]) -> u16 {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = http
        .post(format!("{}{path}", emu.base_url()))
        .body(body.to_vec());
    for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
        req = req.header(name, value);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_captured_request_with_a_swapped_body_and_an_unsigned_body_hash_is_401() {
    let emu = emulator::start(config(aksk())).await;
    let host = emu.local_addr().to_string();
    let path = format!("/v2/{PID}/desktops/d1/tags");
    let original = br#"{"tag":{"key":"env","value":"prod"}}"#;
    let forged = br#"{"tag":{"key":"owner","value":"mallory"}}"#;
    let captured = signed_headers(&host, &path, original, &[]);

    // The capture replayed with another body, claiming the original body's hash unsigned.
    let mut replay = captured.clone();
    replay.push((
        "x-sdk-content-sha256".to_string(),
        hex::encode(Sha256::digest(original)),
    ));
    assert_eq!(send(&emu, &path, &replay, forged).await, 401);
    assert_eq!(send(&emu, &path, &captured, forged).await, 401);
    assert!(tags_of(&emu, "d1").is_empty(), "nothing was written");

    // The capture as sent still works, and so does a signed body hash that is right.
    assert_eq!(send(&emu, &path, &captured, original).await, 204);
    let hash = hex::encode(Sha256::digest(forged));
    let honest = signed_headers(&host, &path, forged, &[("x-sdk-content-sha256", hash)]);
    assert_eq!(send(&emu, &path, &honest, forged).await, 204);
    // A signed body hash that is not the body's is refused, even with a valid signature.
    let lying = signed_headers(
        &host,
        &path,
        forged,
        &[(
            "x-sdk-content-sha256",
            hex::encode(Sha256::digest(original)),
        )],
    );
    assert_eq!(send(&emu, &path, &lying, forged).await, 401);
    assert_eq!(tags_of(&emu, "d1"), ["env", "owner"]);
}

#[tokio::test]
async fn an_unauthenticated_large_body_is_refused_before_it_is_read() {
    for auth in [aksk(), Auth::Token(Secret::new("tok"))] {
        let emu = emulator::start(config(auth)).await;
        // 100 MB announced, not one byte of it sent: the answer must come anyway.
        let head = format!(
            "POST /v2/{PID}/desktops/batch-tags HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
        );
        let (answer, ..) = raw(&emu, head.as_bytes(), Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(answer.contains(desktag_emulator::GW_AUTH), "{answer}");
    }
}

#[tokio::test]
async fn an_authenticated_body_over_the_cap_is_413_before_it_is_read() {
    let emu = emulator::start(config(Auth::Token(Secret::new("tok")))).await;
    let head = format!(
        "POST /v2/{PID}/desktops/batch-tags HTTP/1.1\r\nHost: x\r\nX-Auth-Token: tok\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        desktag_emulator::MAX_BODY_BYTES + 1
    );
    let (answer, ..) = raw(&emu, head.as_bytes(), Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn partial_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    let emu = emulator::start(EmulatorConfig {
        limits: short_limits(),
        ..config(Auth::None)
    })
    .await;
    let partial = format!("GET /v2/{PID}/desktops HTTP/1.1\r\nHost: x\r\n");
    // Closed by the server (not by the test's patience), and not before the timeout.
    let (answer, took, closed) = raw(&emu, partial.as_bytes(), PATIENCE).await;
    assert!(closed, "still open after {took:?}: {answer:?}");
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    // A whole request is answered, then the idle keep-alive connection is closed.
    let whole = format!("GET /v2/{PID}/desktops HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, took, closed) = raw(&emu, whole.as_bytes(), PATIENCE).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "still open after {took:?}");
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
}

#[tokio::test]
async fn a_body_that_trickles_is_cut_off_after_the_body_timeout() {
    let emu = emulator::start(EmulatorConfig {
        limits: short_limits(),
        ..config(Auth::None)
    })
    .await;
    let head = format!(
        "POST /v2/{PID}/desktops/d1/tags HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{{\"tag\""
    );
    let (answer, took, closed) = raw(&emu, head.as_bytes(), PATIENCE).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed, "still open after {took:?}");
    assert!(tags_of(&emu, "d1").is_empty());
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let emu = emulator::start(EmulatorConfig {
        limits: Limits {
            max_connections: 2,
            ..Limits::default()
        },
        ..config(Auth::None)
    })
    .await;
    let first = TcpStream::connect(emu.local_addr()).await.unwrap();
    let _second = TcpStream::connect(emu.local_addr()).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/v2/{PID}/desktops", emu.base_url());
    let waiting = http
        .get(&url)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(
        waiting.is_err(),
        "a third connection was served: {waiting:?}"
    );
    drop(first);
    let served = http
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn a_state_file_in_a_missing_directory_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("missing").join("state.yaml");
    let err = desktag_emulator::spawn(EmulatorConfig {
        state_file: Some(state),
        ..config(Auth::None)
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("missing") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn a_second_emulator_on_the_same_state_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    let with_state = || EmulatorConfig {
        state_file: Some(state.clone()),
        ..config(Auth::None)
    };
    let first = emulator::start(with_state()).await;
    let err = desktag_emulator::spawn(with_state())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("state.yaml") && err.contains("another emulator"),
        "{err}"
    );
    first.shutdown().await.unwrap();
    let again = desktag_emulator::spawn(with_state()).await;
    assert!(again.is_ok(), "the lock is released with the emulator");
}

#[tokio::test]
async fn with_ak_and_a_token_either_credential_is_accepted() {
    let emu = emulator::start(config(Auth::AkSkOrToken {
        ak: AK.into(),
        sk: Secret::new(SK),
        token: Secret::new("tok"),
    }))
    .await;
    let host = emu.local_addr().to_string();
    let path = format!("/v2/{PID}/desktops/d1/tags");
    let body = br#"{"tag":{"key":"env","value":"prod"}}"#;
    let token = [("x-auth-token".to_string(), "tok".to_string())];
    let bad_token = [("x-auth-token".to_string(), "nope".to_string())];
    assert_eq!(send(&emu, &path, &token, body).await, 204);
    assert_eq!(
        send(&emu, &path, &signed_headers(&host, &path, body, &[]), body).await,
        204
    );
    assert_eq!(send(&emu, &path, &bad_token, body).await, 401);
    assert_eq!(send(&emu, &path, &[], body).await, 401);
    // A request that carries a signature must have a valid one, token or not.
    let mut forged = signed_headers(&host, &path, b"{}", &[]);
    forged.extend(token.iter().cloned());
    assert_eq!(send(&emu, &path, &forged, body).await, 401);
}
