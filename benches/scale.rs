//! Throughput at scale, as a new user meets it: the real binary applies against `desktag emulator`
//! (another process of the real binary, on loopback) answering in 30 ms and admitting 50
//! requests/s per credential, 429 beyond, like the real service. Each row is one `apply` run;
//! figures come from its JSON report and `/usr/bin/time` (peak RSS of the applying process).
//!
//! Scenarios (`cargo bench --bench scale -- SCENARIO [RUNS]`, all of them without one):
//! - `throughput`: 20,000 and 100,000 desktops × 3 new tags, five runs each. The ideal is
//!   ⌈N/1000⌉ list + ⌈N/100⌉ batch + ⌈N/1000⌉ read-back requests, none throttled.
//! - `faults`: 20,000 × 3 with `--fail-rate 0.05` (5 % of all requests answer 500).
//! - `bisect`: 20,000 × 3 with a tag the service rejects on 1 desktop in 10,000
//!   (`--reject-value`): the calls spent isolating each bad desktop.
//! - `projects`: two projects of 10,000 desktops each in one region under one credential, one
//!   emulator: their combined throttled share.
//! - `memory`: plan, then apply, of 100,000 desktops × 8 wanted tags against an emulator with
//!   no latency or limit: peak RSS and wall time of each.
//!
//! A bench binary, not criterion: one run is one long measurement; nothing is asserted. Needs
//! `/usr/bin/time`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The binary measured: this build's, or `DESKTAG_BENCH_BIN` (to compare with another build).
fn bin() -> String {
    std::env::var("DESKTAG_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_desktag").to_string())
}
#[path = "support/mod.rs"]
mod support;
use support::Emulator;

const LATENCY_MS: &str = "30";
const RATE_LIMIT: f64 = 50.0;
const TOKEN: &str = "bench-scale-token";
const REGION: &str = "bench-1";
/// The value the emulator rejects in the `bisect` scenario.
const BAD_VALUE: &str = "rejected-by-the-service";

fn project(k: usize) -> String {
    format!("{:032x}", k + 0xbe00)
}

fn id(k: usize, i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", k + 1, i)
}

/// The seed: `n` desktops in each of `projects` projects, each with one tag the manifests leave
/// alone. One project is written in the single-project format, which every emulator reads.
fn seed(projects: usize, n: usize) -> String {
    let (mut out, indent) = if projects == 1 {
        (format!("project_id: {}\ndesktops:\n", project(0)), "")
    } else {
        (String::from("projects:\n"), "    ")
    };
    for k in 0..projects {
        if projects > 1 {
            let _ = writeln!(out, "  - project_id: {}\n    desktops:", project(k));
        }
        for i in 0..n {
            let _ = writeln!(
                out,
                "{indent}  - {{id: {}, name: P{k}-WKS-{i:06}, tags: {{keep: x}}}}",
                id(k, i)
            );
        }
    }
    out
}

/// A manifest giving every desktop of project `k` `tags` new tags; `bad` desktops (by index)
/// also get a tag whose value the service rejects.
fn manifest(k: usize, tags: usize, bad: &[usize]) -> String {
    let names = [
        "env",
        "team",
        "cost-center",
        "owner",
        "tier",
        "app",
        "site",
        "os",
    ];
    let mut out = format!(
        "version: 1\nproject_id: {}\nregion: {REGION}\ndesktops:\n  - name: \"P{k}-WKS-*\"\n    tags: {{",
        project(k)
    );
    for (t, name) in names.iter().take(tags).enumerate() {
        let _ = write!(out, "{}{name}: v{t}", if t > 0 { ", " } else { "" });
    }
    out.push_str("}\n");
    for &i in bad {
        let _ = writeln!(
            out,
            "  - id: {}\n    tags: {{approval: {BAD_VALUE}}}",
            id(k, i)
        );
    }
    out
}

/// What the emulator answered, from its request log.
#[derive(Debug, Default)]
struct Served {
    requests: u64,
    throttled: u64,
    /// `GET …/desktops` (listing and reads by id).
    reads: u64,
    /// `…/desktops/batch-tags` writes.
    batch: u64,
    /// Per-desktop (`tags/action`) and single-tag writes.
    smaller: u64,
}

/// What the emulator logging to `log` answered so far.
fn served(log: &Path) -> Served {
    let mut served = Served::default();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let fields = &entry["fields"];
        if fields["message"] != "request" {
            continue;
        }
        served.requests += 1;
        if fields["status"] == 429 {
            served.throttled += 1;
        }
        let path = fields["path"].as_str().unwrap_or_default();
        match fields["method"].as_str().unwrap_or_default() {
            "GET" if path.ends_with("/desktops") => served.reads += 1,
            _ if path.ends_with("/batch-tags") => served.batch += 1,
            "POST" | "DELETE" if path.contains("/tags") => served.smaller += 1,
            _ => {}
        }
    }
    served
}

/// A scenario's files: seed, manifests, token.
struct Setup {
    dir: tempfile::TempDir,
    projects: usize,
    n: usize,
}

impl Setup {
    fn new(projects: usize, n: usize, tags: usize, bad_every: Option<usize>) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("token"), TOKEN).unwrap();
        std::fs::create_dir(dir.path().join("manifests")).unwrap();
        for k in 0..projects {
            let bad: Vec<usize> = match bad_every {
                Some(every) => (every / 2..n).step_by(every).collect(),
                None => Vec::new(),
            };
            std::fs::write(
                dir.path().join(format!("manifests/project-{k}.yaml")),
                manifest(k, tags, &bad),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("seed.yaml"), seed(projects, n)).unwrap();
        Setup { dir, projects, n }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn emulator(&self, extra: &[&str]) -> Emulator {
        Emulator::start(
            bin(),
            &self.path("seed.yaml"),
            &self.path("token"),
            extra,
            Some(&self.path("emulator.log")),
        )
    }

    /// The ideal request count of applying every project: list, batch, read back.
    fn ideal(&self) -> u64 {
        let n = self.n as u64;
        self.projects as u64 * (n.div_ceil(1000) * 2 + n.div_ceil(100))
    }
}

/// What one run did.
struct Run {
    wall: f64,
    peak_mb: f64,
    totals: serde_json::Value,
    /// Changes the report says were written per desktop or per tag.
    smaller_writes: u64,
    code: i32,
    /// What the emulator answered during the run.
    served: Served,
}

impl Run {
    fn get(&self, field: &str) -> u64 {
        self.totals[field].as_u64().unwrap_or(0)
    }
}

/// Runs `desktag ARGS` against `emulator` under `/usr/bin/time`; the JSON on stdout is the report
/// (or the plan).
fn run(setup: &Setup, emulator: &Emulator, args: &[&str]) -> Run {
    let before = served(&setup.path("emulator.log"));
    let rss = setup.path("rss");
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(bin())
        .args(["-qq"])
        .args(args)
        .arg("--token-file")
        .arg(setup.path("token"))
        .arg(setup.path("manifests"))
        .env(
            format!(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_{}",
                REGION.to_ascii_uppercase().replace('-', "_")
            ),
            &emulator.base_url,
        )
        .env_remove("DESKTAG_ENDPOINT")
        .stderr(Stdio::inherit())
        .output()
        .expect("run desktag");
    let wall = started.elapsed().as_secs_f64();
    let peak_kb: f64 = std::fs::read_to_string(&rss)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(f64::NAN);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let smaller_writes = json["projects"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["desktops"].as_array().into_iter().flatten())
        .flat_map(|d| d["changes"].as_array().into_iter().flatten())
        .filter(|c| c["via"] == "desktop" || c["via"] == "tag")
        .count() as u64;
    let after = served(&setup.path("emulator.log"));
    Run {
        wall,
        peak_mb: peak_kb / 1024.0,
        totals: json["totals"].clone(),
        smaller_writes,
        code: out.status.code().unwrap_or(-1),
        served: Served {
            requests: after.requests - before.requests,
            throttled: after.throttled - before.throttled,
            reads: after.reads - before.reads,
            batch: after.batch - before.batch,
            smaller: after.smaller - before.smaller,
        },
    }
}

const APPLY: &[&str] = &["apply", "--auto-approve", "--report-format", "json"];

fn header() {
    println!(
        "{:>8} {:>3} {:>8} {:>6} {:>6} {:>5} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>8} {:>4}",
        "desktops",
        "run",
        "answered",
        "ideal",
        "×ideal",
        "429s",
        "share",
        "reads",
        "batch",
        "smaller",
        "wall s",
        "×floor",
        "rebatch",
        "bisected",
        "exit"
    );
}

/// One run's line: what the emulator answered against the ideal, the 429s' share, the calls by
/// kind, the wall time against `answered ÷ 50`, and the report's ladder counts.
fn row(setup: &Setup, label: &str, r: &Run) {
    let s = &r.served;
    let ideal = setup.ideal();
    let floor = s.requests as f64 / RATE_LIMIT;
    println!(
        "{:>8} {label:>3} {:>8} {ideal:>6} {:>6.3} {:>5} {:>5.1}% {:>6} {:>7} {:>7} {:>7.2} {:>6.2} {:>7} {:>8} {:>4}   peak {:.0} MB, fallbacks {}, {} changes via desktop or tag",
        setup.n * setup.projects,
        s.requests,
        s.requests as f64 / ideal as f64,
        s.throttled,
        100.0 * s.throttled as f64 / s.requests.max(1) as f64,
        s.reads,
        s.batch,
        s.smaller,
        r.wall,
        r.wall / floor,
        r.get("rebatched"),
        r.get("bisected"),
        r.code,
        r.peak_mb,
        r.totals["fallbacks"],
        r.smaller_writes
    );
}

fn realistic(extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--latency".to_string(),
        LATENCY_MS.to_string(),
        "--rate-limit".to_string(),
        RATE_LIMIT.to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn scenario(setup: &Setup, emulator_args: &[String], runs: usize) {
    let extra: Vec<&str> = emulator_args.iter().map(String::as_str).collect();
    for k in 0..runs {
        // A fresh emulator each run: every desktop needs its tags again.
        let emulator = setup.emulator(&extra);
        let r = run(setup, &emulator, APPLY);
        row(setup, &(k + 1).to_string(), &r);
    }
}

fn throughput(runs: usize) {
    println!("\n## throughput: N desktops × 3 new tags, {LATENCY_MS} ms, {RATE_LIMIT} requests/s");
    header();
    for n in [20_000, 100_000] {
        scenario(&Setup::new(1, n, 3, None), &realistic(&[]), runs);
    }
}

fn faults(runs: usize) {
    println!("\n## faults: 20,000 × 3 new tags, --fail-rate 0.05 (every request)");
    header();
    scenario(
        &Setup::new(1, 20_000, 3, None),
        &realistic(&["--fail-rate", "0.05"]),
        runs,
    );
}

fn bisect(runs: usize) {
    println!("\n## bisect: 20,000 × 3 new tags, a rejected tag on 1 desktop in 10,000");
    header();
    let setup = Setup::new(1, 20_000, 3, Some(10_000));
    let extra = realistic(&["--reject-value", BAD_VALUE]);
    let bad = 2;
    let bound = 2 * (100f64.log2().ceil() as u64) + 2;
    for k in 0..runs {
        let emulator = setup.emulator(&extra.iter().map(String::as_str).collect::<Vec<_>>());
        let r = run(&setup, &emulator, APPLY);
        row(&setup, &(k + 1).to_string(), &r);
        println!(
            "    isolation: {} bisection calls for {bad} bad desktops = {:.1} per bad desktop (bound {bound}); {} changes failed",
            r.get("bisected"),
            r.get("bisected") as f64 / bad as f64,
            r.get("failed")
        );
    }
}

fn projects(runs: usize) {
    println!(
        "\n## projects: 2 × 10,000 desktops × 3 new tags, one region, one credential, one emulator"
    );
    header();
    scenario(&Setup::new(2, 10_000, 3, None), &realistic(&[]), runs);
}

fn memory(runs: usize) {
    println!("\n## memory: 100,000 desktops × 8 wanted tags, no latency or limit");
    let setup = Setup::new(1, 100_000, 8, None);
    for k in 0..runs {
        let emulator = setup.emulator(&[]);
        let plan = run(&setup, &emulator, &["plan", "--format", "json"]);
        let apply = run(&setup, &emulator, APPLY);
        println!(
            "run {}: plan {:.2} s, peak {:.0} MB (exit {}); apply {:.2} s, peak {:.0} MB, {} applied (exit {})",
            k + 1,
            plan.wall,
            plan.peak_mb,
            plan.code,
            apply.wall,
            apply.peak_mb,
            apply.get("applied"),
            apply.code
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runs = |default: usize| args.get(1).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("throughput") => throughput(runs(5)),
        Some("faults") => faults(runs(3)),
        Some("bisect") => bisect(runs(3)),
        Some("projects") => projects(runs(3)),
        Some("memory") => memory(runs(3)),
        _ => {
            throughput(5);
            faults(3);
            bisect(3);
            projects(3);
            memory(3);
        }
    }
}
