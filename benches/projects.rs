//! Many projects in one run, against a realistic service: K projects, each in its own region
//! (its own emulator process, 30 ms per response, 50 requests/s, 429 beyond), N desktops each
//! with 5 new tags. The real binary applies them all in one run (side by side, each project with
//! its own request rate) and, for comparison, one project per run (`--project-id`), as a script
//! looping over the projects would. Prints requests, 429s and wall time of both.
//!
//! `cargo bench --bench projects` (3 projects × 300 desktops, `--write-mode desktop`),
//! `cargo bench --bench projects -- 4 500 batch` for other sizes and modes. A bench binary, not
//! criterion: one run is one long measurement.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;
use support::Emulator;

const BIN: &str = env!("CARGO_BIN_EXE_desktag");
const LATENCY_MS: &str = "30";
const RATE_LIMIT: &str = "50";

fn project(k: usize) -> String {
    format!("{:032x}", k + 1)
}

fn region(k: usize) -> String {
    format!("bench-{}", k + 1)
}

fn id(k: usize, i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", k + 1, i)
}

/// Project k's N desktops, each with one tag.
fn seed_yaml(k: usize, n: usize) -> String {
    let mut out = format!("project_id: {}\ndesktops:\n", project(k));
    for i in 0..n {
        let _ = writeln!(
            out,
            "  - id: {}\n    name: P{k}-WKS-{i:05}\n    tags: {{keep: x}}",
            id(k, i)
        );
    }
    out
}

/// One document per project, in its region, each desktop selected by id with 5 new tags.
fn manifest_yaml(k: usize, n: usize) -> String {
    let mut out = format!(
        "version: 1\nproject_id: {}\nregion: {}\ndesktops:\n",
        project(k),
        region(k)
    );
    for i in 0..n {
        let _ = write!(
            out,
            "  - id: {}\n    tags: {{env: prod, app: app-{}, tier: gold, cost-center: CC-{k}, owner: team-{}}}\n",
            id(k, i),
            i % 50,
            i % 7
        );
    }
    out
}

/// What one `apply` run did.
struct Run {
    wall: Duration,
    requests: u64,
    throttled: u64,
    applied: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let projects = numbers.first().copied().unwrap_or(3);
    let n = numbers.get(1).copied().unwrap_or(300);
    let mode = args
        .iter()
        .find(|a| ["batch", "desktop", "tag"].contains(&a.as_str()))
        .cloned()
        .unwrap_or_else(|| "desktop".to_string());

    let together = measure(projects, n, &mode, false);
    let one_by_one = measure(projects, n, &mode, true);
    let line = |what: &str, r: &Run| {
        println!(
            "projects ({projects} × {n} desktops × 5 tags, --write-mode {mode}, {LATENCY_MS} ms, \
             {RATE_LIMIT} requests/s per region) {what}: {} applied, {} requests, {} throttled \
             ({:.1} %), {:.2} s wall",
            r.applied,
            r.requests,
            r.throttled,
            100.0 * r.throttled as f64 / r.requests.max(1) as f64,
            r.wall.as_secs_f64()
        )
    };
    line("in one run", &together);
    line("one project per run", &one_by_one);
    println!(
        "projects: one run is {:.2}× faster than one project per run",
        one_by_one.wall.as_secs_f64() / together.wall.as_secs_f64()
    );
}

/// Fresh emulators, then one `apply` of every project (or one per project, in turn).
fn measure(projects: usize, n: usize, mode: &str, one_by_one: bool) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, "bench-token").unwrap();
    std::fs::create_dir(dir.path().join("manifests")).unwrap();
    let mut emulators = Vec::new();
    for k in 0..projects {
        let seed = dir.path().join(format!("seed-{k}.yaml"));
        std::fs::write(&seed, seed_yaml(k, n)).unwrap();
        std::fs::write(
            dir.path().join(format!("manifests/project-{k}.yaml")),
            manifest_yaml(k, n),
        )
        .unwrap();
        emulators.push(Emulator::start(
            BIN,
            &seed,
            &token,
            &["--latency", LATENCY_MS, "--rate-limit", RATE_LIMIT],
            None,
        ));
    }
    let apply = |narrow: Option<String>| {
        let mut command = Command::new(BIN);
        command
            .args(["-q", "apply", "--auto-approve", "--write-mode", mode])
            .args(["--report-format", "json"])
            .arg("--token-file")
            .arg(&token);
        for (k, emulator) in emulators.iter().enumerate() {
            let variable = format!(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_{}",
                region(k).to_ascii_uppercase().replace('-', "_")
            );
            command.env(variable, &emulator.base_url);
        }
        if let Some(project) = narrow {
            command.args(["--project-id", &project]);
        }
        let out = command
            .arg(dir.path().join("manifests"))
            .env_remove("DESKTAG_ENDPOINT")
            .output()
            .expect("run apply");
        assert!(
            out.status.success(),
            "apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a JSON report")
    };
    let started = Instant::now();
    let reports = if one_by_one {
        (0..projects).map(|k| apply(Some(project(k)))).collect()
    } else {
        vec![apply(None)]
    };
    let wall = started.elapsed();
    let total = |field: &str| -> u64 {
        reports
            .iter()
            .map(|r| r["totals"][field].as_u64().unwrap_or(0))
            .sum()
    };
    Run {
        wall,
        requests: total("requests"),
        throttled: total("throttled"),
        applied: total("applied"),
    }
}
