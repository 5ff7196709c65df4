//! One rate budget per endpoint and credentials: two clients of one run against one emulator
//! that limits requests per user share one adaptive rate, so together they stay under the
//! limit. Counters only (the emulator's request log and the clients' statistics), no timing.

use desktag_api::{Client, ClientOptions, Connection, Credentials};
use futures::StreamExt;

use crate::support::emulator::{config, start};
use crate::support::{seed_yaml, AK, SK};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";
const DESK: &str = "77777777-0000-0000-0000-000000000001";

fn client(base_url: &str, options: ClientOptions) -> Client {
    let connection = Connection {
        endpoint: url::Url::parse(base_url).unwrap(),
        project_id: PROJECT.to_string(),
        credentials: Credentials::AkSk {
            ak: AK.to_string().into(),
            sk: SK.to_string().into(),
            security_token: None,
            origin: "the test",
        },
    };
    Client::new(connection, options).unwrap()
}

/// `calls` tag writes, eight at a time (apply's default concurrency).
async fn write(client: &Client, calls: usize) {
    futures::stream::iter(0..calls)
        .map(|i| async move {
            client
                .create_tag(DESK, &format!("k{}", i % 10), "v")
                .await
                .expect("every write lands in the end")
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_of_one_run_under_one_credential_share_the_budget_and_stay_under_the_limit() {
    let seed = seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: {DESK}\n    name: B-1\n"
    ));
    let emu = start(config(seed, |c| {
        c.faults.rate_limit = Some(100.0);
        c.faults.latency = std::time::Duration::from_millis(30);
    }))
    .await;
    // One run's options, cloned per project as the CLI does.
    let options = ClientOptions::default();
    let one = client(&emu.base_url(), options.clone());
    let two = client(&emu.base_url(), options.clone());
    assert_eq!(
        options.budgets.len(),
        1,
        "one endpoint, one credential: one budget"
    );

    futures::join!(write(&one, 300), write(&two, 300));

    let requests = emu.requests();
    let throttled = requests.iter().filter(|r| r.status == 429).count() as u64;
    let (a, b) = (one.stats(), two.stats());
    assert_eq!(a.requests + b.requests, requests.len() as u64);
    assert_eq!(
        a.throttled + b.throttled,
        throttled,
        "each client counts its own 429s"
    );
    assert_eq!(a.rate, b.rate, "one rate for both");
    let share = throttled as f64 / requests.len() as f64;
    assert!(
        share < 0.05,
        "{throttled} of {} requests throttled (one: {a:?}, two: {b:?})",
        requests.len()
    );
}
