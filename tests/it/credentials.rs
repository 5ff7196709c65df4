//! The credential chain end to end: the real binary against the emulator's identity side, one
//! test per source (environment in its three name families, the SDK profile file, OIDC from a
//! token file and from a stand-in Actions endpoint, Pod Identity, ECS metadata), precedence,
//! failures that name their source, a run that outlives its credentials, the project looked up
//! from the region, and no secret, static or temporary, in any output.

use std::time::Duration;

use desktag_core::secret::Secret;
use desktag_emulator::{EmulatorConfig, EmulatorHandle, Identity};

use crate::support::{
    emulator_with, manifests, path_str, small_seed, Desktag, Ran, AK, SK, SMALL_MANIFEST,
};

const ID_TOKEN: &str = "eyJ-test-id-token-0123456789";
const POD_TOKEN: &str = "pod-service-account-token-0123456789";
const ACTIONS_REQUEST_TOKEN: &str = "actions-request-token-0123456789";

fn identity_emulator(
    configure: impl FnOnce(&mut EmulatorConfig),
) -> (tokio::runtime::Runtime, EmulatorHandle) {
    emulator_with(small_seed(), |config| {
        config.identity = Identity {
            id_token: Some(Secret::new(ID_TOKEN)),
            pod_token: Some(Secret::new(POD_TOKEN)),
            actions_request_token: Some(Secret::new(ACTIONS_REQUEST_TOKEN)),
            ..Identity::default()
        };
        configure(config);
    })
}

/// `plan -v` of the small manifest against `emu`, with no credentials but what `env` sets.
fn plan(emu: &EmulatorHandle, env: &[(&str, &str)]) -> Ran {
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let mut desktag = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
        .args(["plan", "-v", path_str(dir.path())]);
    for (name, value) in env {
        desktag = desktag.env(name, value);
    }
    desktag.run()
}

/// How many requests went to `path`.
fn calls(emu: &EmulatorHandle, path: &str) -> usize {
    emu.requests().iter().filter(|r| r.path == path).count()
}

/// Neither the static secrets nor any temporary one the emulator issued is in the output.
#[track_caller]
fn assert_no_secret(emu: &EmulatorHandle, ran: &Ran) {
    let mut secrets: Vec<String> = emu
        .issued_secrets()
        .iter()
        .map(|s| s.expose().to_string())
        .collect();
    secrets.extend([SK, ID_TOKEN, POD_TOKEN, ACTIONS_REQUEST_TOKEN].map(str::to_string));
    for secret in secrets {
        for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
            assert!(!text.contains(&secret), "a secret is in {name}:\n{text}");
        }
    }
}

/// `apply` of the small manifest under OIDC keys, one single-tag write at a time (so a run lasts
/// several of the emulator's answers), `-v`.
fn slow_oidc_apply(emu: &EmulatorHandle) -> Ran {
    let id_token = token_file(ID_TOKEN);
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", id_token.path())
        .args([
            "apply",
            "--auto-approve",
            "--write-mode",
            "tag",
            "--concurrency",
            "1",
            "-v",
            path_str(dir.path()),
        ])
        .run()
}

fn token_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn each_environment_family_signs_requests() {
    let (_rt, emu) = identity_emulator(|_| {});
    for (ak, sk, origin) in [
        (
            "HUAWEICLOUD_SDK_AK",
            "HUAWEICLOUD_SDK_SK",
            "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK",
        ),
        (
            "HW_ACCESS_KEY",
            "HW_SECRET_KEY",
            "HW_ACCESS_KEY/HW_SECRET_KEY",
        ),
        (
            "HUAWEI_CLOUD_ACCESS_KEY_ID",
            "HUAWEI_CLOUD_SECRET_ACCESS_KEY",
            "HUAWEI_CLOUD_ACCESS_KEY_ID/HUAWEI_CLOUD_SECRET_ACCESS_KEY",
        ),
    ] {
        let ran = plan(&emu, &[(ak, AK), (sk, SK)]).code(0);
        assert!(ran.stderr.contains(origin), "{origin}: {}", ran.stderr);
        assert_no_secret(&emu, &ran);
    }
}

#[test]
fn the_profile_file_is_read_from_home_or_its_variable() {
    let (_rt, emu) = identity_emulator(|_| {});
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".huaweicloud")).unwrap();
    std::fs::write(
        home.path().join(".huaweicloud/credentials"),
        format!("[basic]\nak = {AK}\nsk = {SK}\n"),
    )
    .unwrap();
    let ran = plan(&emu, &[("HOME", path_str(home.path()))]).code(0);
    assert!(
        ran.stderr.contains("the SDK profile file"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("HW_ACCESS_KEY/HW_SECRET_KEY: not set"),
        "{}",
        ran.stderr
    );
    assert_no_secret(&emu, &ran);

    let moved = token_file(&format!("[basic]\nak = {AK}\nsk = wrong-secret\n"));
    let ran = plan(
        &emu,
        &[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", path_str(moved.path()))],
    )
    .code(1);
    assert!(ran.stderr.contains("401"), "{}", ran.stderr);
}

#[test]
fn oidc_from_a_token_file_exchanges_it_for_temporary_keys() {
    let (_rt, emu) = identity_emulator(|_| {});
    let id_token = token_file(&format!("{ID_TOKEN}\n"));
    let ran = plan(
        &emu,
        &[
            ("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(id_token.path())),
        ],
    )
    .code(0);
    assert!(
        ran.stderr.contains("HUAWEICLOUD_SDK_ID_TOKEN_FILE"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("obtained temporary credentials"),
        "{}",
        ran.stderr
    );
    assert_eq!(calls(&emu, "/v3.0/OS-AUTH/id-token/tokens"), 1);
    assert_eq!(calls(&emu, "/v3.0/OS-CREDENTIAL/securitytokens"), 1);
    assert_no_secret(&emu, &ran);
}

#[test]
fn inside_actions_desktag_requests_the_runner_id_token_itself() {
    let (_rt, emu) = identity_emulator(|config| config.identity.id_token = None);
    let ran = plan(
        &emu,
        &[
            ("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator"),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                &format!("{}/actions/id-token?api-version=2.0", emu.base_url()),
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ACTIONS_REQUEST_TOKEN),
            ("DESKTAG_OIDC_AUDIENCE", "desktag-ci"),
        ],
    )
    .code(0);
    assert!(
        ran.stderr.contains("GitHub Actions ID token"),
        "{}",
        ran.stderr
    );
    let asked = emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/actions/id-token")
        .expect("the Actions endpoint was asked");
    assert!(
        asked.query.contains("audience=desktag-ci"),
        "{}",
        asked.query
    );
    assert_no_secret(&emu, &ran);
}

#[test]
fn pod_identity_gives_temporary_keys() {
    let (_rt, emu) = identity_emulator(|_| {});
    let token = token_file(POD_TOKEN);
    let uri = format!("{}/v1/pod-identity/credentials", emu.base_url());
    let ran = plan(
        &emu,
        &[
            ("HC_CONTAINER_CREDENTIALS_FULL_URI", &uri),
            (
                "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                path_str(token.path()),
            ),
        ],
    )
    .code(0);
    assert!(ran.stderr.contains("CCE Pod Identity"), "{}", ran.stderr);
    assert_eq!(calls(&emu, "/v1/pod-identity/credentials"), 1);
    assert_no_secret(&emu, &ran);
}

#[test]
fn ecs_metadata_is_the_last_source() {
    let (_rt, emu) = identity_emulator(|_| {});
    let ran = plan(&emu, &[("DESKTAG_METADATA_ENDPOINT", &emu.base_url())]).code(0);
    assert!(ran.stderr.contains("ECS metadata"), "{}", ran.stderr);
    assert!(ran.stderr.contains("CCE Pod Identity (HC_CONTAINER_CREDENTIALS_FULL_URI): HC_CONTAINER_CREDENTIALS_FULL_URI is not set"), "{}", ran.stderr);
    assert_eq!(calls(&emu, "/meta-data/latest/api/token"), 1);
    assert_eq!(calls(&emu, "/openstack/latest/securitykey"), 1);
    assert_no_secret(&emu, &ran);
}

#[test]
fn keys_in_the_environment_beat_oidc_pod_identity_and_metadata() {
    let (_rt, emu) = identity_emulator(|_| {});
    let id_token = token_file(ID_TOKEN);
    let pod = token_file(POD_TOKEN);
    let uri = format!("{}/v1/pod-identity/credentials", emu.base_url());
    let everything = [
        ("HW_ACCESS_KEY", AK),
        ("HW_SECRET_KEY", SK),
        ("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator"),
        ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(id_token.path())),
        ("HC_CONTAINER_CREDENTIALS_FULL_URI", &uri),
        (
            "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            path_str(pod.path()),
        ),
        ("DESKTAG_METADATA_ENDPOINT", &emu.base_url()),
    ];
    let ran = plan(&emu, &everything).code(0);
    assert!(
        ran.stderr.contains("HW_ACCESS_KEY/HW_SECRET_KEY"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        emu.requests()
            .iter()
            .filter(|r| !r.path.starts_with("/v2/"))
            .count(),
        0
    );
    // Without the keys, OIDC wins over Pod Identity and metadata.
    let ran = plan(&emu, &everything[2..]).code(0);
    assert!(
        ran.stderr.contains("HUAWEICLOUD_SDK_ID_TOKEN_FILE"),
        "{}",
        ran.stderr
    );
    assert_eq!(calls(&emu, "/v1/pod-identity/credentials"), 0);
    assert_eq!(calls(&emu, "/openstack/latest/securitykey"), 0);
    // Without OIDC, Pod Identity wins over metadata.
    let ran = plan(&emu, &everything[4..]).code(0);
    assert!(ran.stderr.contains("CCE Pod Identity"), "{}", ran.stderr);
    assert_eq!(calls(&emu, "/openstack/latest/securitykey"), 0);
}

#[test]
fn a_refused_source_is_a_clear_error_naming_it() {
    let (_rt, emu) = identity_emulator(|config| config.identity.metadata_agency = false);
    let bad = token_file("not-the-id-token");
    let ran = plan(
        &emu,
        &[
            ("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator"),
            ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", path_str(bad.path())),
        ],
    )
    .code(1);
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(
            "no credentials from OIDC (HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE)"
        ),
        "{last}"
    );
    assert!(last.contains("401"), "{last}");
    assert!(!ran.stderr.contains("not-the-id-token"), "{}", ran.stderr);

    let ran = plan(
        &emu,
        &[
            (
                "HC_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/v1/pod-identity/credentials", emu.base_url()),
            ),
            (
                "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                path_str(bad.path()),
            ),
        ],
    )
    .code(1);
    assert!(
        ran.stderr.contains("no credentials from CCE Pod Identity"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("403"), "{}", ran.stderr);

    let ran = plan(&emu, &[("DESKTAG_METADATA_ENDPOINT", &emu.base_url())]).code(1);
    assert!(
        ran.stderr.contains("no credentials from ECS metadata"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("agency"), "{}", ran.stderr);

    let ran = plan(&emu, &[("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator")]).code(1);
    assert!(ran.stderr.contains("id-token: write"), "{}", ran.stderr);
}

#[test]
fn with_no_source_the_error_lists_what_was_tried() {
    let (_rt, emu) = identity_emulator(|_| {});
    let ran = plan(&emu, &[]).code(1);
    let last = ran.stderr.lines().last().unwrap_or_default();
    for tried in [
        "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK: not set",
        "HUAWEI_CLOUD_ACCESS_KEY_ID/HUAWEI_CLOUD_SECRET_ACCESS_KEY: not set",
        "OIDC: HUAWEICLOUD_SDK_IDP_ID is not set",
        "the SDK profile file: /nonexistent/desktag-test-home/.huaweicloud/credentials does not exist",
        "ECS metadata: DESKTAG_METADATA_ENDPOINT=off",
    ] {
        assert!(last.contains(tried), "{tried} missing: {last}");
    }
}

#[test]
fn a_run_that_outlives_its_credentials_renews_them_and_converges() {
    // Keys live 2 s; 250 ms per answer and one request at a time make the apply take several
    // seconds, so the keys are renewed during the run.
    let (_rt, emu) = identity_emulator(|config| {
        config.identity.lifetime = Duration::from_secs(2);
        config.faults.latency = Duration::from_millis(250);
    });
    let ran = slow_oidc_apply(&emu).code(0);
    let exchanges = calls(&emu, "/v3.0/OS-CREDENTIAL/securitytokens");
    assert!(
        exchanges >= 2,
        "the keys were never renewed: {}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("renewed the temporary credentials"),
        "{}",
        ran.stderr
    );
    // Every change written exactly once: and B-1 each get env and cost-center.
    assert_eq!(emu.writes(), 6, "{:?}", emu.requests());
    assert_no_secret(&emu, &ran);
    let again = plan(&emu, &[("HW_ACCESS_KEY", AK), ("HW_SECRET_KEY", SK)]).code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[test]
fn the_project_id_is_looked_up_from_the_region() {
    let (_rt, emu) = identity_emulator(|config| {
        config.identity.extra_projects = vec![
            ("eu-west-101".into(), "aaaa".into()),
            ("eu-west-101".into(), "bbbb".into()),
        ];
    });
    let manifest = SMALL_MANIFEST.replace("project_id: 0123456789abcdef0123456789abcdef\n", "");
    let dir = manifests(&[("m.yaml", &manifest)]);
    let run = |region: &str| {
        Desktag::new()
            .env("DESKTAG_ENDPOINT", emu.base_url())
            .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
            .env("HW_ACCESS_KEY", AK)
            .env("HW_SECRET_KEY", SK)
            .args(["plan", "-v", "--region", region, path_str(dir.path())])
            .run()
    };
    let ran = run("cn-north-4").code(0);
    assert!(
        ran.stderr.contains("looked up the project of the region"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.contains("to create"), "{}", ran.stdout);
    let ran = run("ap-southeast-1").code(1);
    assert!(
        ran.stderr.contains("no project named `ap-southeast-1`"),
        "{}",
        ran.stderr
    );
    let ran = run("eu-west-101").code(1);
    assert!(
        ran.stderr.contains("2 projects named `eu-west-101`"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--project-id"), "{}", ran.stderr);
}

#[test]
fn a_401_saying_the_credentials_expired_renews_them_and_resends_without_repeating_a_write() {
    // The keys stop working after 1 s but claim to last an hour, so only the service's 401
    // (APIGW.0307) tells the client to renew.
    let (_rt, emu) = identity_emulator(|config| {
        config.identity.lifetime = Duration::from_secs(1);
        config.identity.claimed_lifetime = Some(Duration::from_secs(3600));
        config.faults.latency = Duration::from_millis(250);
    });
    let ran = slow_oidc_apply(&emu).code(0);
    let expired = emu
        .requests()
        .iter()
        .filter(|r| r.error_code.as_deref() == Some(desktag_emulator::GW_TOKEN_EXPIRED))
        .count();
    assert!(expired >= 1, "no request met expired keys: {}", ran.stderr);
    assert!(
        ran.stderr
            .contains("the service says the credentials expired"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 6, "{:?}", emu.requests());
    assert_no_secret(&emu, &ran);
}

#[test]
fn concurrent_renewals_of_one_lease_fetch_once() {
    use desktag_api::credentials::{Fetch, Fetcher, Keys};
    use desktag_api::ClientOptions;
    let (rt, emu) = identity_emulator(|_| {});
    let base = url::Url::parse(&emu.base_url()).unwrap();
    let keys = rt.block_on(async {
        let fetcher = Fetcher::new(&ClientOptions::default()).unwrap();
        std::sync::Arc::new(
            Keys::fetch(Fetch::Metadata { base }, fetcher)
                .await
                .unwrap(),
        )
    });
    assert_eq!(calls(&emu, "/openstack/latest/securitykey"), 1);
    let generations = rt.block_on(async {
        let renewals = (0..16).map(|_| {
            let keys = std::sync::Arc::clone(&keys);
            tokio::spawn(async move { keys.renew(0).await.unwrap().generation })
        });
        futures::future::join_all(renewals).await
    });
    assert!(
        generations.iter().all(|g| *g.as_ref().unwrap() == 1),
        "{generations:?}"
    );
    assert_eq!(calls(&emu, "/openstack/latest/securitykey"), 2);
    assert_eq!(keys.renewals(), 1);
}

#[test]
fn a_refusal_shows_its_detail_and_is_decoded_on_request() {
    let (_rt, emu) = identity_emulator(|config| {
        config.identity.deny = vec!["workspace:desktops:list".into()];
    });
    let keys = [("HW_ACCESS_KEY", AK), ("HW_SECRET_KEY", SK)];
    let ran = plan(&emu, &keys).code(1);
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(last.contains("403"), "{last}");
    assert!(
        last.contains("an explicit deny in an identity policy refuses workspace:desktops:list"),
        "{last}"
    );
    assert!(last.contains("--decode-denials"), "{last}");
    assert!(
        !last.contains("EMU1."),
        "the encoded message is for machines: {last}"
    );

    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_STS_ENDPOINT", emu.base_url())
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .args(["plan", "--decode-denials", path_str(dir.path())])
        .run()
        .code(1);
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(
            "denied: action workspace:desktops:list denied by policy desktag-emulator-deny"
        ),
        "{last}"
    );
    assert_eq!(calls(&emu, "/v5/decode-authorization-message"), 1);
}

#[test]
fn the_json_report_keeps_the_encoded_refusal() {
    let (_rt, emu) = identity_emulator(|config| {
        config.identity.deny = vec!["workspace:desktops:tag".into()];
    });
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_STS_ENDPOINT", emu.base_url())
        .env("HW_ACCESS_KEY", AK)
        .env("HW_SECRET_KEY", SK)
        .args([
            "apply",
            "--auto-approve",
            "--write-mode",
            "tag",
            "--decode-denials",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(
        ran.stdout
            .contains("\"encoded_authorization_message\": \"EMU1."),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("\"error_detail\": \"an explicit deny"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains(
            "\"denial\": \"action workspace:desktops:tag denied by policy desktag-emulator-deny\""
        ),
        "{}",
        ran.stdout
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn a_saved_plan_is_applied_later_with_fresh_temporary_keys_and_holds_no_secret() {
    let (_rt, emu) = identity_emulator(|_| {});
    let id_token = token_file(ID_TOKEN);
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let out = tempfile::tempdir().unwrap();
    let plan_file = out.path().join("plan.json");
    let report_file = out.path().join("report.json");
    let oidc = |d: Desktag| {
        d.env("DESKTAG_ENDPOINT", emu.base_url())
            .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.base_url())
            .env("HUAWEICLOUD_SDK_IDP_ID", "desktag-emulator")
            .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", id_token.path())
    };
    let planned = oidc(Desktag::new())
        .args(["plan", "--out", path_str(&plan_file), path_str(dir.path())])
        .run()
        .code(0);
    let applied = oidc(Desktag::new())
        .args([
            "apply",
            "--auto-approve",
            "--plan",
            path_str(&plan_file),
            "--report-format",
            "json",
            "--report",
            path_str(&report_file),
        ])
        .run()
        .code(0);
    // Each run exchanged the ID token for keys of its own.
    assert_eq!(calls(&emu, "/v3.0/OS-CREDENTIAL/securitytokens"), 2);
    assert!(emu.writes() > 0);
    assert_no_secret(&emu, &planned);
    assert_no_secret(&emu, &applied);
    let files = [
        std::fs::read_to_string(&plan_file).unwrap(),
        std::fs::read_to_string(&report_file).unwrap(),
    ];
    for secret in emu.issued_secrets() {
        for file in &files {
            assert!(!file.contains(secret.expose()));
        }
    }
    for file in &files {
        assert!(!file.contains(ID_TOKEN));
    }
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_clear_error() {
    let (_rt, emu) = identity_emulator(|_| {});
    let not_pem = token_file("this is not a certificate");
    for (path, says) in [
        (
            "/nonexistent/ca.pem",
            "cannot read the CA file /nonexistent/ca.pem",
        ),
        (path_str(not_pem.path()), "holds no PEM certificate"),
    ] {
        let ran = plan(
            &emu,
            &[
                ("HW_ACCESS_KEY", AK),
                ("HW_SECRET_KEY", SK),
                ("SSL_CERT_FILE", path),
            ],
        )
        .code(1);
        assert!(ran.stderr.contains(says), "{says}: {}", ran.stderr);
    }
}
