//! Hand-made plans and reports shared by the renderers' snapshot tests.

use std::collections::BTreeSet;

use crate::report::{
    ChangeReport, DesktopReport, DesktopResult, ErrorInfo, Outcome, Report, Totals, WriteMode,
};
use desktag_core::inventory::{Desktop, Inventory};
use desktag_core::plan::{plan, Change, KeyIgnore, KeyRules, Plan, Policy, Wanted};
use desktag_core::tags::CompactString;

fn desktop(id: &str, name: &str, tags: &[(&str, &str)]) -> Desktop {
    Desktop::new(id, name, tags)
}

fn want(id: &str, tags: &[(&str, &str)], absent: &[&str]) -> Wanted {
    Wanted {
        desktop_id: id.into(),
        tags: std::sync::Arc::new(
            tags.iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        ),
        absent: absent
            .iter()
            .map(|k| CompactString::from(*k))
            .collect::<BTreeSet<_>>(),
        sources: Default::default(),
    }
}

/// Create, overwrite, delete, unmanaged, ignored, `_sys_`, odd characters, a long (folded) diff,
/// a blocked desktop, an unchanged one and a not-found id.
pub(crate) fn sample_plan() -> Plan {
    let many: Vec<(String, String)> = (1..=9)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut many_wanted = many.clone();
    many_wanted.push(("env", "prod"));
    // A system tag (not counted by the cap) makes the diff long enough to fold.
    let mut many_current = many.clone();
    many_current.push(("_sys_image", "win11"));
    let inventory = Inventory::new([
        desktop(
            "d-01",
            "FIN-WKS-001",
            &[
                ("owner", "it"),
                ("legacy", "x"),
                ("cost-center", "CC-1001"),
                ("_sys_enterprise_project_id", "0"),
                ("ops-rota", "primary"),
            ],
        ),
        desktop(
            "d-02",
            "FIN_WKS*002 <b>|",
            &[
                ("legacy-owner", "bob"),
                ("odd key", "say \"hi\"\nthen | go"),
            ],
        ),
        desktop(
            "d-03",
            "OPS-WKS-003",
            &[
                ("a1", "1"),
                ("a2", "2"),
                ("a3", "3"),
                ("a4", "4"),
                ("a5", "5"),
                ("a6", "6"),
                ("a7", "7"),
                ("a8", "8"),
            ],
        ),
        desktop(
            "d-04",
            "ENG-WKS-001",
            &[("env", "dev"), ("owner", "engineering")],
        ),
        desktop("d-05", "ENG-LAP-001", &many_current),
    ]);
    let wanted = [
        want(
            "d-01",
            &[
                ("owner", "finance"),
                ("env", "dev"),
                ("cost-center", "CC-1001"),
            ],
            &[],
        ),
        want("d-02", &[("env", "prod")], &["legacy-owner"]),
        want(
            "d-03",
            &[("rota", "primary"), ("b1", "1"), ("b2", "2")],
            &[],
        ),
        want("d-04", &[("env", "dev"), ("owner", "engineering")], &[]),
        want("d-05", &many_wanted, &[]),
        want("missing-id", &[("env", "dev")], &[]),
    ];
    let keys = KeyRules {
        ignore: KeyIgnore::new(["ops-*"]).unwrap(),
        ..KeyRules::default()
    };
    let p = plan(
        &wanted,
        &inventory,
        &Policy::default(),
        &keys,
        "0123456789abcdef0123456789abcdef",
        "http://127.0.0.1:8080",
    );
    Plan {
        warnings: vec![desktag_core::plan::Warning {
            severity: "warning".into(),
            code: "unmatched-selector".into(),
            location: Some(desktag_core::diagnostic::Location::new(
                "finance.yaml",
                22,
                11,
            )),
            message: "name glob `FIN-LAP-*` matches no desktop in the project".into(),
            help: Some("check the spelling (names are case-sensitive), or remove the entry".into()),
        }],
        ..p
    }
}

fn ok(change: Change, attempts: u32) -> ChangeReport {
    ChangeReport {
        change,
        outcome: Outcome::Applied,
        via: Some(WriteMode::Batch),
        attempts,
        error: None,
    }
}

/// Applied, failed (with and without an HTTP status), skipped, unverified, blocked, unchanged.
pub(crate) fn sample_report() -> Report {
    let create = |k: &str, v: &str| Change::Create {
        key: k.into(),
        value: v.into(),
    };
    Report {
        project_id: "0123456789abcdef0123456789abcdef".into(),
        started_at: "2026-12-01T09:00:00Z".into(),
        finished_at: "2026-12-01T09:00:01.234Z".into(),
        endpoint: "http://127.0.0.1:8080".into(),
        write_mode: WriteMode::Batch,
        desktops: vec![
            DesktopReport {
                desktop_id: "d-01".into(),
                name: "FIN-WKS-001".into(),
                status: DesktopResult::Applied,
                reason: None,
                reason_kind: None,
                changes: vec![
                    ok(
                        Change::Overwrite {
                            key: "owner".into(),
                            old: "it".into(),
                            value: "finance".into(),
                        },
                        1,
                    ),
                    ok(create("env", "dev"), 3),
                ]
                .into(),
                policy_warnings: vec![],
            },
            DesktopReport {
                desktop_id: "d-02".into(),
                name: "FIN_WKS*002 <b>|".into(),
                status: DesktopResult::Failed,
                reason: Some("1 change failed".into()),
                reason_kind: None,
                changes: vec![
                    ok(
                        Change::Delete {
                            key: "legacy-owner".into(),
                            old: "bob".into(),
                        },
                        1,
                    ),
                    ChangeReport {
                        change: create("env", "prod"),
                        outcome: Outcome::Failed,
                        via: Some(WriteMode::Tag),
                        attempts: 5,
                        error: Some(Box::new(ErrorInfo {
                            status: Some(400),
                            error_code: Some("WKS.0210".into()),
                            error_msg: "The number of tags exceeds the limit | try later".into(),
                            request_id: Some("req-7f3a".into()),
                            error_detail: None,
                            encoded_authorization_message: None,
                            denial: None,
                        })),
                    },
                    ChangeReport {
                        change: create("tier", "gold"),
                        outcome: Outcome::Skipped,
                        via: None,
                        attempts: 0,
                        error: None,
                    },
                ]
                .into(),
                policy_warnings: vec![],
            },
            DesktopReport {
                desktop_id: "d-03".into(),
                name: "OPS-WKS-003".into(),
                status: DesktopResult::Blocked,
                reason: Some("would carry 11 tags, over the cap of 10".into()),
                reason_kind: Some(desktag_core::plan::BlockedKind::Cap),
                changes: vec![].into(),
                policy_warnings: vec![],
            },
            DesktopReport {
                desktop_id: "d-04".into(),
                name: "ENG-WKS-001".into(),
                status: DesktopResult::Unchanged,
                reason: None,
                reason_kind: None,
                changes: vec![].into(),
                policy_warnings: vec![],
            },
            DesktopReport {
                desktop_id: "d-05".into(),
                name: "ENG-LAP-001".into(),
                status: DesktopResult::Unverified,
                reason: Some(
                    "re-read tags differ from the plan: `env` is \"dev\", planned \"prod\"".into(),
                ),
                reason_kind: None,
                changes: vec![ok(create("env", "prod"), 1)].into(),
                policy_warnings: vec![],
            },
            DesktopReport {
                desktop_id: "d-06".into(),
                name: "LAB-01".into(),
                status: DesktopResult::Failed,
                reason: Some("1 change failed".into()),
                reason_kind: None,
                changes: vec![ChangeReport {
                    change: create("env", "lab"),
                    outcome: Outcome::Failed,
                    via: Some(WriteMode::Desktop),
                    attempts: 5,
                    error: Some(Box::new(ErrorInfo {
                        status: None,
                        error_code: None,
                        error_msg: "connection reset by peer".into(),
                        request_id: None,
                        error_detail: None,
                        encoded_authorization_message: None,
                        denial: None,
                    })),
                }]
                .into(),
                policy_warnings: vec![],
            },
        ],
        totals: Totals {
            applied: 4,
            failed: 2,
            skipped: 1,
            unverified: 1,
            blocked: 1,
            requests: 14,
            retries: 5,
            throttled: 2,
            achieved_rate: Some(11.3),
            rate_ceiling: Some(48.5),
            duration_ms: 1234,
            rebatched: 1,
            bisected: 2,
            fallbacks: crate::report::Fallbacks {
                rejected: 1,
                ..Default::default()
            },
        },
    }
}
