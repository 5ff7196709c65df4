//! The emulator at scale: a filtered read (`desktop_id=…` repeated 100 times) against 100,000
//! desktops is a lookup, not a scan. `cargo bench --bench emulator` times one round of 100
//! filtered reads through the router (no socket); a scan of 100,000 locked desktops per request
//! would cost tens of milliseconds each, a lookup well under one.

use std::sync::Arc;

use criterion::Criterion;
use desktag_emulator::EmulatedDesktop as Desktop;
use desktag_emulator::{EmulatorConfig, EmulatorState, Seed};
use tower::ServiceExt;

const PID: &str = "0123456789abcdef0123456789abcdef";
const DESKTOPS: usize = 100_000;

/// 100 reads of 99 present ids and one absent id each; checks every answer.
async fn filtered_reads(app: &axum::Router) {
    for round in 0..100 {
        let mut query: Vec<String> = (0..99)
            .map(|i| format!("desktop_id=desk-{:06}", (round * 997 + i * 1009) % DESKTOPS))
            .collect();
        query.push("desktop_id=not-there".to_string());
        let req = axum::http::Request::builder()
            .uri(format!("/v2/{PID}/desktops?{}", query.join("&")))
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["total_count"], 99);
    }
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
        seed: Seed {
            project_id: PID.to_string(),
            desktops,
        },
        ..EmulatorConfig::default()
    })
    .unwrap();
    let app = desktag_emulator::app(Arc::clone(&state));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut c = Criterion::default().configure_from_args().sample_size(10);
    c.bench_function("100_filtered_reads_of_100_ids_on_100000_desktops", |b| {
        b.iter(|| runtime.block_on(filtered_reads(&app)))
    });
    c.final_summary();
}
