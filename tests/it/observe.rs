//! Cron observability end to end: `--metrics FILE` writes the Prometheus text format (the last
//! success carried over when a run fails) and `--notify URL` posts one summary after changes and
//! nothing when in sync; a webhook that cannot be reached is a warning, not a failed run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::{emulator_with, manifests, path_str, small_seed, Desktag, SMALL_MANIFEST};

/// Parses the Prometheus text format strictly enough to catch a broken file: every sample is
/// `name{labels} value` with a float value, and its metric was declared with `# TYPE`.
fn samples(text: &str) -> Vec<(String, String, f64)> {
    let mut typed = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split(' ');
            typed.insert(words.next().unwrap().to_string());
            assert_eq!(words.next(), Some("gauge"), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let (name, labels) = series.split_once('{').unwrap_or_else(|| panic!("{line}"));
        assert!(labels.ends_with('}'), "{line}");
        assert!(typed.contains(name), "{name} has no # TYPE");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        out.push((
            name.to_string(),
            labels.trim_end_matches('}').to_string(),
            value,
        ));
    }
    out
}

fn value(samples: &[(String, String, f64)], name: &str) -> Option<f64> {
    samples.iter().find(|(n, ..)| n == name).map(|(.., v)| *v)
}

#[test]
fn metrics_parse_and_keep_the_last_success_when_a_run_fails() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let metrics = dir.path().join("desktag.prom");
    let m = path_str(dir.path().join("m.yaml").as_path()).to_string();
    Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--metrics",
            path_str(&metrics),
            &m,
        ])
        .run()
        .code(0);
    let first = samples(&std::fs::read_to_string(&metrics).unwrap());
    let applied = first
        .iter()
        .find(|(n, ..)| n == "desktag_changes_applied")
        .unwrap();
    assert_eq!(
        applied.1,
        format!("command=\"apply\",project=\"{}\"", crate::support::PROJECT)
    );
    assert_eq!(applied.2, 6.0);
    assert_eq!(value(&first, "desktag_project_up"), Some(1.0));
    assert!(value(&first, "desktag_requests").unwrap() > 0.0);
    let success = value(&first, "desktag_last_success_timestamp_seconds").unwrap();
    assert_eq!(
        value(&first, "desktag_last_run_timestamp_seconds"),
        Some(success)
    );

    // The service is gone: the run fails, the last success stays where it was.
    Desktag::new()
        .env("DESKTAG_ENDPOINT", "http://127.0.0.1:1")
        .env("HUAWEICLOUD_SDK_AK", crate::support::AK)
        .env("HUAWEICLOUD_SDK_SK", crate::support::SK)
        .args([
            "apply",
            "--auto-approve",
            "--max-attempts",
            "1",
            "--metrics",
            path_str(&metrics),
            &m,
        ])
        .run()
        .code(1);
    let second = samples(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(value(&second, "desktag_last_run_exit_code"), Some(1.0));
    assert_eq!(
        value(&second, "desktag_last_success_timestamp_seconds"),
        Some(success)
    );
    assert!(value(&second, "desktag_last_run_timestamp_seconds").unwrap() >= success);
}

/// A webhook on 127.0.0.1 that answers 200 and keeps every body it is sent.
fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hook/secret-token",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok();
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

#[test]
fn a_notification_is_sent_after_changes_and_not_when_in_sync() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let (url, bodies) = webhook();
    let apply = || {
        Desktag::new()
            .against(&emu)
            .args([
                "apply",
                "--auto-approve",
                "-v",
                "--notify",
                &url,
                path_str(dir.path()),
            ])
            .run()
            .code(0)
    };
    let first = apply();
    assert!(
        !first.stderr.contains("secret-token"),
        "the URL is never logged"
    );
    {
        let sent = bodies.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(
            body["text"],
            "desktag apply: 6 applied, 6 planned, 0 failed, 0 blocked"
        );
        assert_eq!(body["totals"]["applied"], 6);
        assert_eq!(body["projects"][0]["project_id"], crate::support::PROJECT);
    }
    apply();
    assert_eq!(bodies.lock().unwrap().len(), 1, "in sync: nothing sent");
}

#[test]
fn a_webhook_that_cannot_be_reached_is_a_warning_not_a_failure() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--notify",
            "http://127.0.0.1:1/hook/secret-token",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    assert!(
        ran.stderr.contains("the notification could not be sent"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("secret-token"), "{}", ran.stderr);
    assert!(emu.writes() > 0);
}
