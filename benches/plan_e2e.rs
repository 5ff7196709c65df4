//! `plan` and `apply` end to end at scale: the real binary reads N desktops selected by id from
//! the emulator (another process of the real binary, on loopback), and writes the JSON plan, or
//! applies it in batch mode and writes the JSON report. Prints the requests the emulator served,
//! the wall time and the peak RSS of the `desktag` process.
//!
//! `cargo bench --bench plan_e2e` runs every case at 100,000 desktops: `plain` (4 wanted tags),
//! `governance` (plus templates and a policy), `wide` (`plan` with 8 wanted tags, 6 of them new)
//! and `apply` (`apply --write-mode batch` of the `wide` manifests). Name cases to run only those,
//! give a number for another scale and `runs=N` to repeat each: `… -- 10000 wide apply runs=3`.
//! `PLAN_E2E_BIN=/path/to/desktag` measures another build (an older release, for a before and
//! after). A bench binary, not criterion: one run is one long measurement. Needs `/usr/bin/time`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "support/mod.rs"]
mod support;
use support::Emulator;

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
/// The binary measured: this build's, or `PLAN_E2E_BIN`.
fn bin() -> std::ffi::OsString {
    std::env::var_os("PLAN_E2E_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_desktag").into())
}

fn id(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i)
}

/// N desktops with 3 tags each; a tenth of them carry the planned values already.
fn seed_yaml(n: usize) -> String {
    let mut out = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..n {
        let env = if i % 10 == 0 { "prod" } else { "dev" };
        let _ = writeln!(
            out,
            "  - id: {}\n    name: WKS-{i:06}\n    user: user{i}\n    tags: {{env: {env}, os: linux, legacy: x{}}}",
            id(i),
            i % 7
        );
    }
    out
}

/// One document per 1,000 desktops, each desktop selected by id with 4 wanted tags. With
/// `governance`, each document also gives every desktop its owner from a template
/// (`${desktop.user_name}`) and carries a policy every desktop is checked against.
fn manifest_yaml(n: usize, governance: bool) -> String {
    let mut out = String::with_capacity(n * 120);
    for chunk in 0..n.div_ceil(1000) {
        let _ = write!(
            out,
            "---\nversion: 1\nproject_id: {PROJECT}\ndefaults:\n  cost-center: CC-{chunk}\n"
        );
        if governance {
            let _ = write!(
                out,
                "  owner: \"${{desktop.user_name}}\"\npolicy:\n  required: [owner, env]\n  allowed: {{env: [prod, dev], cost-center: [\"CC-*\"]}}\n  key_case: lower\n"
            );
        }
        out.push_str("desktops:\n");
        for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
            let _ = write!(
                out,
                "  - id: {}\n    tags:\n      env: prod\n      app: app-{}\n      tier: gold\n",
                id(i),
                i % 50
            );
        }
    }
    out
}

/// One document per 1,000 desktops, each desktop selected by id with 8 wanted tags: 3 from the
/// document's defaults, 5 of its own. `os` is what every desktop carries already and `env` what a
/// tenth do; the other 6 are new to every desktop (`asset` differs on each).
fn wide_manifest_yaml(n: usize) -> String {
    let mut out = String::with_capacity(n * 160);
    for chunk in 0..n.div_ceil(1000) {
        let _ = write!(
            out,
            "---\nversion: 1\nproject_id: {PROJECT}\ndefaults:\n  cost-center: CC-{chunk}\n  team: platform\n  backup: daily\ndesktops:\n"
        );
        for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
            let _ = write!(
                out,
                "  - id: {}\n    tags:\n      env: prod\n      os: linux\n      app: app-{}\n      tier: gold\n      asset: A-{i:06}\n",
                id(i),
                i % 50
            );
        }
    }
    out
}

/// A bench case: which manifests, and `plan` or `apply`.
#[derive(Clone, Copy, PartialEq)]
enum Case {
    Plain,
    Governance,
    Wide,
    Apply,
}

impl Case {
    const ALL: [(Case, &'static str); 4] = [
        (Case::Plain, "plain"),
        (Case::Governance, "governance"),
        (Case::Wide, "wide"),
        (Case::Apply, "apply"),
    ];

    fn manifest(self, n: usize) -> String {
        match self {
            Case::Plain => manifest_yaml(n, false),
            Case::Governance => manifest_yaml(n, true),
            Case::Wide | Case::Apply => wide_manifest_yaml(n),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Case::Plain => "plan, 4 wanted tags",
            Case::Governance => "plan, 4 wanted tags + templates + policy",
            Case::Wide => "plan, 8 wanted tags",
            Case::Apply => "apply --write-mode batch, 8 wanted tags",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let runs: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("runs=")?.parse().ok())
        .unwrap_or(1);
    let named: Vec<Case> = Case::ALL
        .iter()
        .filter(|(_, name)| args.iter().any(|a| a == name))
        .map(|(case, _)| *case)
        .collect();
    let cases = if named.is_empty() {
        Case::ALL.iter().map(|(case, _)| *case).collect()
    } else {
        named
    };
    for case in cases {
        for _ in 0..runs {
            measure(n, case);
        }
    }
}

/// One run of `plan` or `apply` against a fresh emulator process, printed as one line.
fn measure(n: usize, case: Case) {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write bench input");
        path
    };
    let seed = write("seed.yaml", &seed_yaml(n));
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    write("manifests/desktops.yaml", &case.manifest(n));
    let token = write("token", "bench-token");
    let emulator_log = dir.path().join("emulator.log");

    let emulator = Emulator::start(bin(), &seed, &token, &[], Some(&emulator_log));
    let base_url = emulator.base_url.clone();
    let before = requests(&emulator_log);

    let out = dir.path().join("out.json");
    let command: &[&str] = if case == Case::Apply {
        &[
            "apply",
            "--auto-approve",
            "--write-mode",
            "batch",
            "--report-format",
            "json",
            "--report",
        ]
    } else {
        &["plan", "--format", "json", "--out"]
    };
    let started = Instant::now();
    let run = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin())
        .args(command)
        .arg(&out)
        .args(["--endpoint", &base_url, "--project-id", PROJECT])
        .arg("--token-file")
        .arg(&token)
        .arg(dir.path().join("manifests"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run plan under /usr/bin/time");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let peak_kb: f64 = stderr
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let served = requests(&emulator_log) - before;
    drop(emulator);
    assert!(
        matches!(run.status.code(), Some(0 | 2)),
        "{} failed: {stderr}",
        command[0]
    );
    let out_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "plan_e2e ({}): {n} desktops selected by id: {served} requests, {:.2} s wall, {:.0} MB peak RSS ({} process), {:.1} MB JSON {}",
        case.label(),
        wall.as_secs_f64(),
        peak_kb / 1024.0,
        command[0],
        out_bytes as f64 / 1e6,
        if case == Case::Apply { "report" } else { "plan" },
    );
}

/// Requests the emulator has logged so far (one JSON line each).
fn requests(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"message\":\"request\""))
        .count()
}
