//! `plan` end to end at scale: the real binary reads N desktops selected by id from the emulator
//! (another process of the real binary, on loopback) and writes the JSON plan. Prints the list
//! requests the emulator served, the wall time and the peak RSS of the `plan` process.
//!
//! `cargo bench --bench plan_e2e` (100,000 desktops, plain and with templates + policy),
//! `cargo bench --bench plan_e2e -- 10000`, or `… -- 100000 governance` for the second only.
//! A bench binary, not criterion: one run is one long measurement. Needs `/usr/bin/time`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const BIN: &str = env!("CARGO_BIN_EXE_desktag");

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let only_governance = args.iter().any(|a| a == "governance");
    if !only_governance {
        measure(n, false);
    }
    measure(n, true);
}

/// One run of `plan` against a fresh emulator process, printed as one line.
fn measure(n: usize, governance: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write bench input");
        path
    };
    let seed = write("seed.yaml", &seed_yaml(n));
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    write("manifests/desktops.yaml", &manifest_yaml(n, governance));
    let token = write("token", "bench-token");
    let emulator_log = dir.path().join("emulator.log");

    let mut emulator = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "emulator",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--seed")
        .arg(&seed)
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&emulator_log).unwrap())
        .spawn()
        .expect("start the emulator");
    let mut base_url = String::new();
    BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut base_url)
        .expect("the emulator prints its base URL");
    let base_url = base_url.trim().to_string();
    let before = requests(&emulator_log);

    let out = dir.path().join("plan.json");
    let started = Instant::now();
    let run = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(BIN)
        .args([
            "plan",
            "--format",
            "json",
            "--endpoint",
            &base_url,
            "--project-id",
            PROJECT,
        ])
        .arg("--token-file")
        .arg(&token)
        .arg("--out")
        .arg(&out)
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
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        matches!(run.status.code(), Some(0 | 2)),
        "plan failed: {stderr}"
    );
    let plan_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "plan_e2e{}: {n} desktops selected by id: {served} list requests, {:.2} s wall, {:.0} MB peak RSS (plan process), {:.1} MB JSON plan",
        if governance { " (templates + policy)" } else { "" },
        wall.as_secs_f64(),
        peak_kb / 1024.0,
        plan_bytes as f64 / 1e6
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
