//! Apply throughput, two profiles. A bench binary, not criterion: each run is one long
//! measurement, and the figures are printed, never asserted.
//!
//! - `loopback`: 10,000 tag writes over 2,000 desktops against the emulator on loopback, at
//!   concurrency 1, 8, 32 and 64, with 0 ms and 20 ms of emulator latency, in `tag` mode. Prints
//!   writes per second and the process's peak resident memory (client and emulator share the
//!   process, so this is an upper bound for desktag alone).
//! - `realistic`: the emulator answers in 30 ms and throttles at 50 requests per second, like the
//!   real service; 1,000 desktops each need 5 new tags. For each write mode: write requests, all
//!   requests, 429s, wall time, and the ideal time `requests ÷ 50`.
//!
//! `cargo bench --bench apply` (both), `cargo bench --bench apply -- realistic [MODE]`, or
//! `cargo bench --bench apply -- loopback [CONCURRENCY [LATENCY_MS]]`.

use std::time::{Duration, Instant};

use desktag::apply::{self, ApplyOptions, Progress, WriteMode};
use desktag_api::{Client, ClientOptions, Connection, Credentials};
use desktag_core::inventory::{Desktop, Inventory};
use desktag_core::plan::{self, Policy, Wanted};
use desktag_core::secret::Secret;
use desktag_emulator::{Auth, EmulatorConfig, Seed};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const DESKTOPS: usize = 2_000;
const WRITES_PER_DESKTOP: usize = 5;

fn seed() -> Seed {
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..DESKTOPS {
        yaml.push_str(&format!("  - id: bench-{i:05}\n    name: WKS-{i:05}\n"));
    }
    Seed::from_yaml(&yaml).expect("bench seed")
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn run(concurrency: usize, latency_ms: u64) -> (f64, Duration) {
    let ak = "BENCHAK0000000000001".to_string();
    let sk = Secret::new("bench-secret-key");
    let mut config = EmulatorConfig {
        seed: seed(),
        ..EmulatorConfig::default()
    };
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.auth = Auth::AkSk {
        ak: ak.clone(),
        sk: sk.clone(),
    };
    config.faults.latency = Duration::from_millis(latency_ms);
    let emu = desktag_emulator::spawn(config).await.expect("emulator");
    let connection = Connection {
        endpoint: url::Url::parse(&emu.base_url()).unwrap(),
        project_id: PROJECT.to_string(),
        credentials: Credentials::AkSk {
            ak: Secret::new(ak.clone()),
            sk: sk.clone(),
            security_token: None,
            origin: "bench",
        },
    };
    let options = ClientOptions {
        concurrency,
        ..ClientOptions::default()
    };
    let client = Client::new(connection, options).unwrap();

    let inventory: Inventory = client
        .list_desktops()
        .await
        .expect("list")
        .into_iter()
        .collect::<Vec<Desktop>>()
        .into_iter()
        .collect();
    let wanted: Vec<Wanted> = inventory
        .iter()
        .map(|d| Wanted {
            desktop_id: d.id.clone(),
            tags: std::sync::Arc::new(
                (0..WRITES_PER_DESKTOP)
                    .map(|k| (format!("key-{k}").into(), format!("value-{k}").into()))
                    .collect(),
            ),
            absent: Default::default(),
            sources: Default::default(),
        })
        .collect();
    let policy = Policy::default();
    let plan = plan::plan(
        &wanted,
        &inventory,
        &policy,
        &plan::KeyRules::default(),
        PROJECT,
        &emu.base_url(),
    );
    let writes = plan.summary.create;
    assert_eq!(writes, DESKTOPS * WRITES_PER_DESKTOP);

    let started = Instant::now();
    let report = apply::apply(
        plan,
        &client,
        &ApplyOptions {
            concurrency,
            progress: Progress::Off,
            write_mode: WriteMode::Tag,
            ..ApplyOptions::default()
        },
    )
    .await;
    let elapsed = started.elapsed();
    assert_eq!(report.totals.applied, writes, "every write applied");
    assert!(report.is_success());
    (writes as f64 / elapsed.as_secs_f64(), elapsed)
}

fn loopback(args: &[String]) {
    let concurrencies: Vec<usize> = match args.first().and_then(|a| a.parse().ok()) {
        Some(c) => vec![c],
        None => vec![1, 8, 32, 64],
    };
    let latencies: Vec<u64> = match args.get(1).and_then(|a| a.parse().ok()) {
        Some(l) => vec![l],
        None => vec![0, 20],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "apply: {} writes over {DESKTOPS} desktops",
        DESKTOPS * WRITES_PER_DESKTOP
    );
    println!(
        "{:>11} {:>10} {:>12} {:>10} {:>14} {:>12}",
        "concurrency", "latency", "writes/s", "seconds", "ideal c/lat", "peak RSS MB"
    );
    for &latency in &latencies {
        for &c in &concurrencies {
            let (rate, elapsed) = runtime.block_on(run(c, latency));
            let ideal = if latency > 0 {
                format!("{:.0}", c as f64 * 1000.0 / latency as f64)
            } else {
                "-".into()
            };
            println!(
                "{c:>11} {:>8}ms {rate:>12.0} {:>10.2} {ideal:>14} {:>12.1}",
                latency,
                elapsed.as_secs_f64(),
                peak_rss_mb()
            );
        }
    }
}

const REALISTIC_DESKTOPS: usize = 1_000;
const REALISTIC_TAGS: usize = 5;
const SERVICE_RATE: f64 = 50.0;

/// One write mode against the realistic service: (write requests, all requests, 429s, seconds).
async fn realistic_run(mode: WriteMode) -> (usize, usize, usize, f64) {
    let ak = "BENCHAK0000000000001".to_string();
    let sk = Secret::new("bench-secret-key");
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..REALISTIC_DESKTOPS {
        yaml.push_str(&format!("  - id: real-{i:05}\n    name: REAL-{i:05}\n"));
    }
    let mut config = EmulatorConfig {
        seed: Seed::from_yaml(&yaml).expect("bench seed"),
        ..EmulatorConfig::default()
    };
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.auth = Auth::AkSk {
        ak: ak.clone(),
        sk: sk.clone(),
    };
    config.faults.latency = Duration::from_millis(30);
    config.faults.rate_limit = Some(SERVICE_RATE);
    let emu = desktag_emulator::spawn(config).await.expect("emulator");
    let connection = Connection {
        endpoint: url::Url::parse(&emu.base_url()).unwrap(),
        project_id: PROJECT.to_string(),
        credentials: Credentials::AkSk {
            ak: Secret::new(ak),
            sk,
            security_token: None,
            origin: "bench",
        },
    };
    let client = Client::new(connection, ClientOptions::default()).unwrap();
    let inventory: Inventory = client
        .list_desktops()
        .await
        .expect("list")
        .into_iter()
        .collect();
    let wanted: Vec<Wanted> = inventory
        .iter()
        .map(|d| Wanted {
            desktop_id: d.id.clone(),
            tags: std::sync::Arc::new(
                (0..REALISTIC_TAGS)
                    .map(|k| (format!("key-{k}").into(), format!("value-{k}").into()))
                    .collect(),
            ),
            absent: Default::default(),
            sources: Default::default(),
        })
        .collect();
    let plan = plan::plan(
        &wanted,
        &inventory,
        &Policy::default(),
        &plan::KeyRules::default(),
        PROJECT,
        &emu.base_url(),
    );
    assert_eq!(plan.summary.create, REALISTIC_DESKTOPS * REALISTIC_TAGS);
    let before = emu.requests().len();
    let started = Instant::now();
    let report = apply::apply(
        plan,
        &client,
        &ApplyOptions {
            progress: Progress::Off,
            write_mode: mode,
            ..ApplyOptions::default()
        },
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(report.is_success(), "{mode}: {:?}", report.totals);
    let requests = emu.requests();
    let during = &requests[before..];
    let writes = during.iter().filter(|r| r.write).count();
    let throttled = during.iter().filter(|r| r.status == 429).count();
    (writes, during.len(), throttled, elapsed)
}

fn realistic(args: &[String]) {
    let modes: Vec<WriteMode> = match args.first().map(String::as_str) {
        Some("batch") => vec![WriteMode::Batch],
        Some("desktop") => vec![WriteMode::Desktop],
        Some("tag") => vec![WriteMode::Tag],
        _ => vec![WriteMode::Batch, WriteMode::Desktop, WriteMode::Tag],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "realistic service: {REALISTIC_DESKTOPS} desktops × {REALISTIC_TAGS} new tags, 30 ms latency, {SERVICE_RATE} requests/s"
    );
    println!(
        "{:>8} {:>8} {:>9} {:>6} {:>10} {:>10} {:>11}",
        "mode", "writes", "requests", "429s", "throttled", "seconds", "ideal s"
    );
    let mut seconds = Vec::new();
    for mode in modes {
        let (writes, requests, throttled, elapsed) = runtime.block_on(realistic_run(mode));
        println!(
            "{:>8} {writes:>8} {requests:>9} {throttled:>6} {:>9.1}% {elapsed:>10.2} {:>11.2}",
            mode.to_string(),
            throttled as f64 * 100.0 / requests.max(1) as f64,
            requests as f64 / SERVICE_RATE
        );
        seconds.push((mode, elapsed));
    }
    let time = |m: WriteMode| seconds.iter().find(|(x, _)| *x == m).map(|(_, s)| *s);
    if let (Some(batch), Some(tag)) = (time(WriteMode::Batch), time(WriteMode::Tag)) {
        println!("batch is {:.0}× faster than tag", tag / batch);
    }
    if let Some(tag) = time(WriteMode::Tag) {
        let ideal = (REALISTIC_DESKTOPS * REALISTIC_TAGS) as f64 / SERVICE_RATE;
        println!("tag takes {:.3}× of the ideal {ideal:.0} s", tag / ideal);
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.first().map(String::as_str) {
        Some("realistic") => realistic(&args[1..]),
        Some("loopback") => loopback(&args[1..]),
        _ => {
            realistic(&[]);
            loopback(&[]);
        }
    }
}
