//! `desktag doctor` end to end: one screen per project, exit 0 when a plan would work, 1 with the
//! first fix, and never a secret.

use std::time::Duration;

use desktag_core::secret::Secret;
use desktag_emulator::Identity;

use crate::support::{
    emulator_with, manifests, path_str, small_seed, Desktag, AK, SK, SMALL_MANIFEST,
};

const ID_TOKEN: &str = "doctor-id-token-0123456789";

#[test]
fn doctor_shows_every_check_for_oidc_credentials_and_exits_0() {
    let (_rt, emu) = emulator_with(small_seed(), |config| {
        config.identity = Identity {
            id_token: Some(Secret::new(ID_TOKEN)),
            lifetime: Duration::from_secs(900),
            ..Identity::default()
        };
    });
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), ID_TOKEN).unwrap();
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let before = format!("{:?}", emu.desktops());
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", token.path())
        .env("HTTPS_PROXY", "http://user:proxypass@proxy.example:3128")
        .args(["doctor", path_str(dir.path())])
        .run()
        .code(0);
    let out = &ran.stdout;
    assert!(
        out.contains("project 0123456789abcdef0123456789abcdef"),
        "{out}"
    );
    assert!(out.contains("ok   endpoint"), "{out}");
    assert!(out.contains("(DESKTAG_ENDPOINT)"), "{out}");
    assert!(
        out.contains(
            "ok   credentials  OIDC (HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE)"
        ),
        "{out}"
    );
    assert!(out.contains("temporary, expires "), "{out}");
    assert!(
        out.contains("--   proxy        none (loopback endpoint)"),
        "{out}"
    );
    assert!(out.contains("ok   clock"), "{out}");
    assert!(out.contains("ok   signed read  GET /v2/0123456789abcdef0123456789abcdef/desktops?limit=1: 3 desktops"), "{out}");
    assert!(out.contains("ok   batch writes allowed"), "{out}");
    assert!(out.contains("Everything a plan needs works."), "{out}");
    // The batch probe is an empty batch: nothing changed.
    assert_eq!(format!("{:?}", emu.desktops()), before);
    for secret in emu.issued_secrets() {
        assert!(!out.contains(secret.expose()) && !ran.stderr.contains(secret.expose()));
    }
    assert!(
        !out.contains(ID_TOKEN) && !out.contains("proxypass"),
        "{out}"
    );
}

#[test]
fn doctor_names_the_first_fix_when_the_keys_are_rejected() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", "not-the-secret-key")
        .args(["doctor", "--project-id", "0123456789abcdef0123456789abcdef"])
        .run()
        .code(1);
    assert!(
        ran.stdout
            .contains("the project of the flags and environment"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("FAIL signed read"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("1 of 1 project cannot be planned yet."),
        "{}",
        ran.stdout
    );
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: doctor: the credentials were rejected"),
        "{last}"
    );
    assert!(
        !ran.stdout.contains("not-the-secret-key") && !ran.stderr.contains("not-the-secret-key")
    );
}

#[test]
fn doctor_fails_on_missing_credentials_and_an_unreachable_endpoint() {
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", "http://127.0.0.1:9")
        .args(["doctor", "--project-id", "p1"])
        .run()
        .code(1);
    assert!(
        ran.stdout.contains("fix: no credentials: tried, in order"),
        "{}",
        ran.stdout
    );
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(last.contains("error: doctor: no credentials"), "{last}");

    // Port 9 (discard) is closed on loopback: nothing listens.
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", "http://127.0.0.1:9")
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .args(["doctor", "--project-id", "p1", "--timeout", "2"])
        .run()
        .code(1);
    assert!(ran.stdout.contains("FAIL signed read"), "{}", ran.stdout);
    assert!(ran.stdout.contains("HTTPS_PROXY"), "{}", ran.stdout);
}

/// `doctor` against an emulator whose IAM policy denies `action`, with STS beside it.
fn doctor_denied(
    action: &str,
) -> (
    tokio::runtime::Runtime,
    desktag_emulator::EmulatorHandle,
    crate::support::Ran,
) {
    let (rt, emu) = emulator_with(small_seed(), |config| {
        config.identity.deny = vec![action.into()];
    });
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_STS_ENDPOINT", emu.base_url())
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .args(["doctor", "--project-id", "0123456789abcdef0123456789abcdef"])
        .run();
    (rt, emu, ran)
}

#[test]
fn doctor_decodes_a_refusal() {
    let (_rt, _emu, ran) = doctor_denied("workspace:desktops:list");
    let ran = ran.code(1);
    assert!(ran.stdout.contains("FAIL signed read"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("action workspace:desktops:list denied by policy desktag-emulator-deny"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("fix: grant the identity the workspace:desktops:list"),
        "{}",
        ran.stdout
    );
}

#[test]
fn doctor_notes_refused_batch_calls_without_failing() {
    let (_rt, emu, ran) = doctor_denied("workspace:desktops:batchTag");
    let ran = ran.code(0);
    assert!(ran.stdout.contains("--   batch writes"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("action workspace:desktops:batchTag denied by policy desktag-emulator-deny"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("apply will write per desktop"),
        "{}",
        ran.stdout
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn doctor_names_a_refused_credential_source() {
    let (_rt, emu) = emulator_with(small_seed(), |config| {
        config.identity.id_token = Some(Secret::new(ID_TOKEN));
    });
    let token = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token.path(), "an-expired-id-token").unwrap();
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", token.path())
        .args(["doctor", "--project-id", "0123456789abcdef0123456789abcdef"])
        .run()
        .code(1);
    assert!(
        ran.stdout.contains(
            "FAIL credentials  OIDC (HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE)"
        ),
        "{}",
        ran.stdout
    );
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("the ID token is invalid or expired"),
        "{last}"
    );
    assert!(
        !ran.stdout.contains("an-expired-id-token") && !ran.stderr.contains("an-expired-id-token")
    );
}

#[test]
fn doctor_blames_the_clock_when_it_is_off_by_more_than_fifteen_minutes() {
    let (_rt, emu) = emulator_with(small_seed(), |config| {
        config.clock_offset = time::Duration::minutes(20);
    });
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .args(["doctor", "--project-id", "0123456789abcdef0123456789abcdef"])
        .run()
        .code(1);
    assert!(ran.stdout.contains("FAIL clock"), "{}", ran.stdout);
    assert!(ran.stdout.contains("FAIL signed read"), "{}", ran.stdout);
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(last.contains("set this machine's clock right"), "{last}");
}
