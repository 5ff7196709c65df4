//! The emulator at scale: against 100,000 desktops, a filtered read (`desktop_id=…` repeated 100
//! times) is a lookup, not a scan, and a list page of 1000 costs the same at any offset.
//! `cargo bench --bench emulator` prints the latency of one list page at offsets 0, 50,000 and
//! 99,000 and of a whole 100-page walk, then times one round of 100 filtered reads through the
//! router (no socket). A scan of 100,000 locked desktops per request would cost tens of
//! milliseconds each, a lookup well under one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use desktag_emulator::EmulatedDesktop as Desktop;
use desktag_emulator::{EmulatorConfig, EmulatorState, Seed};
use tower::ServiceExt;

const PID: &str = "0123456789abcdef0123456789abcdef";
const DESKTOPS: usize = 100_000;
const PAGE: usize = 1000;

async fn get_json(app: &axum::Router, uri: String) -> serde_json::Value {
    let req = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// 100 reads of 99 present ids and one absent id each; checks every answer.
async fn filtered_reads(app: &axum::Router) {
    for round in 0..100 {
        let mut query: Vec<String> = (0..99)
            .map(|i| format!("desktop_id=desk-{:06}", (round * 997 + i * 1009) % DESKTOPS))
            .collect();
        query.push("desktop_id=not-there".to_string());
        let json = get_json(app, format!("/v2/{PID}/desktops?{}", query.join("&"))).await;
        assert_eq!(json["total_count"], 99);
    }
}

/// One list page of `PAGE` desktops at `offset`; checks the count and the first id.
async fn list_page(app: &axum::Router, offset: usize) {
    let json = get_json(
        app,
        format!("/v2/{PID}/desktops?offset={offset}&limit={PAGE}"),
    )
    .await;
    assert_eq!(json["total_count"], DESKTOPS);
    let page = json["desktops"].as_array().unwrap();
    assert_eq!(page.len(), PAGE.min(DESKTOPS - offset));
    assert_eq!(page[0]["desktop_id"], format!("desk-{offset:06}"));
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, f: impl Fn() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

/// Prints the list-page latencies (median of 11 runs each) before criterion's own timings.
fn print_list_latency(runtime: &tokio::runtime::Runtime, app: &axum::Router) {
    println!("list pages of {PAGE} at {DESKTOPS} desktops (median of 11):");
    for offset in [0, DESKTOPS / 2, DESKTOPS - PAGE] {
        let took = median(11, || {
            let start = Instant::now();
            runtime.block_on(list_page(app, offset));
            start.elapsed()
        });
        println!(
            "  offset {offset:>6}: {:8.3} ms",
            took.as_secs_f64() * 1000.0
        );
    }
    let walk = median(11, || {
        let start = Instant::now();
        runtime.block_on(async {
            for offset in (0..DESKTOPS).step_by(PAGE) {
                list_page(app, offset).await;
            }
        });
        start.elapsed()
    });
    println!(
        "  all {} pages: {:8.3} ms",
        DESKTOPS / PAGE,
        walk.as_secs_f64() * 1000.0
    );
}

fn main() {
    let desktops: Vec<Desktop> = (0..DESKTOPS)
        .map(|i| {
            Desktop::new(
                &format!("desk-{i:06}"),
                &format!("W{i}"),
                &[("env", "prod")],
            )
        })
        .collect();
    let state = EmulatorState::new(EmulatorConfig {
        seed: Seed::single(PID, desktops),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let app = desktag_emulator::app(Arc::clone(&state));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    print_list_latency(&runtime, &app);
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    c.bench_function("100_filtered_reads_of_100_ids_on_100000_desktops", |b| {
        b.iter(|| runtime.block_on(filtered_reads(&app)))
    });
    c.bench_function("list_page_of_1000_at_offset_99000_of_100000", |b| {
        b.iter(|| runtime.block_on(list_page(&app, DESKTOPS - PAGE)))
    });
    c.final_summary();
}
