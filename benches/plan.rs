//! Load + validate + plan for 1,000 / 10,000 / 100,000 desktops with 8 tags each, the YAML
//! generated here. `DESKTAG_BENCH_ONCE=N cargo bench --bench plan` runs one pass over N desktops
//! and exits, for measuring peak memory with `/usr/bin/time -v`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, Criterion, SamplingMode};
use desktag_core::inventory::{Desktop, Inventory};
use desktag_core::manifest::{self, LoadOptions};
use desktag_core::plan::{self, Policy};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn id(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i)
}

/// One document per 1,000 desktops: 2 defaults + 6 tags per id entry = 8 wanted tags each.
fn manifest_yaml(n: usize) -> String {
    let mut out = String::with_capacity(n * 200);
    for chunk in 0..n.div_ceil(1000) {
        let _ = write!(
            out,
            "---\nversion: 1\nproject_id: {PROJECT}\ndefaults:\n  cost-center: CC-{chunk}\n  owner: team-{chunk}\ndesktops:\n"
        );
        for i in chunk * 1000..((chunk + 1) * 1000).min(n) {
            let _ = write!(
                out,
                "  - id: {}\n    tags:\n      env: prod\n      app: app-{}\n      tier: gold\n      os: linux\n      site: dc-{}\n      rack: r{}\n",
                id(i),
                i % 50,
                i % 3,
                i % 40
            );
        }
    }
    out
}

/// Every desktop already carries 5 tags, 3 of them as wanted, so plans have creates and overwrites.
fn inventory(n: usize) -> Inventory {
    (0..n)
        .map(|i| Desktop {
            id: id(i),
            name: format!("WKS-{i:06}").into(),
            user: None,
            enterprise_project_id: None,
            status: "ACTIVE".into(),
            tags: [
                ("env", "dev".to_string()),
                ("app", format!("app-{}", i % 50)),
                ("tier", "gold".to_string()),
                ("os", "linux".to_string()),
                ("legacy", "x".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        })
        .collect()
}

fn pipeline(yaml: &str, inventory: &Inventory) -> usize {
    let loaded = manifest::load_str("bench.yaml", yaml, &LoadOptions::default());
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics.first());
    let policy = Policy::default();
    let resolution = plan::resolve(&loaded.manifest, inventory, &policy);
    // A run plans with the inventory it read; here each iteration copies the one built once.
    let place = plan::Place {
        project_id: PROJECT,
        endpoint: "bench",
    };
    let (plan, _) = plan::plan_all(
        resolution.wanted,
        inventory.clone(),
        &policy,
        &resolution.keys,
        place,
    );
    plan.summary.create + plan.summary.overwrite
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_validate_plan");
    group.sampling_mode(SamplingMode::Flat);
    for n in [1_000usize, 10_000, 100_000] {
        let yaml = manifest_yaml(n);
        let inv = inventory(n);
        group.sample_size(if n >= 100_000 { 10 } else { 20 });
        group.bench_function(format!("{n}_desktops"), |b| {
            b.iter(|| black_box(pipeline(&yaml, &inv)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(n) = std::env::var("DESKTAG_BENCH_ONCE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let started = std::time::Instant::now();
        let yaml = manifest_yaml(n);
        let inv = inventory(n);
        let generated = started.elapsed();
        let started = std::time::Instant::now();
        let changes = pipeline(&yaml, &inv);
        println!(
            "{n} desktops ({} MB of YAML, generated in {generated:?}): load+validate+plan {:?}, {changes} changes",
            yaml.len() / 1_000_000,
            started.elapsed()
        );
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
