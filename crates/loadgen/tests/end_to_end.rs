//! Runs the real binary against an in-memory fake server, briefly.
#![allow(clippy::unwrap_used)]

mod support {
    pub mod fake_server;
}

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::fake_server::{self, Options};

const SECRET: &str = "test-app-secret";

struct Run {
    code: i32,
    summary: Value,
    stderr: String,
}

async fn loadgen(url: &str, extra: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard-loadgen"));
    cmd.args(["webhooks", "--url", url, "--json", "--warmup", "200ms"])
        .args(extra)
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_API_TOKEN", "test-token")
        .env_remove("SWITCHBOARD_PHONE_NUMBER_ID");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}\nstderr:\n{stderr}"));
    Run { code: out.status.code().unwrap(), summary, stderr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_run_is_acknowledged_and_verified() {
    let server = fake_server::start(Options::new(SECRET)).await.unwrap();
    let run = loadgen(
        &server.url(),
        &["--duration", "1s", "--concurrency", "4", "--contacts", "7", "--messages-per-webhook", "3", "--verify"],
    )
    .await;
    let s = &run.summary;
    assert_eq!(run.code, 0, "{s}\n{}", run.stderr);
    assert_eq!(s["mode"], "closed");
    assert!(s.get("start_lag_ms").is_none(), "{s}");
    let acked = s["acknowledged"].as_u64().unwrap();
    assert!(acked > 10, "{s}");
    assert_eq!(s["sent"].as_u64().unwrap(), acked);
    assert_eq!(s["errors"], 0);
    assert!(s["latency_ms"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(s["acked_messages_per_s"].as_f64().unwrap() > s["acked_webhooks_per_s"].as_f64().unwrap());
    let v = &s["verify"];
    let expected = (acked + s["warmup"]["acknowledged"].as_u64().unwrap()) * 3;
    assert_eq!(v["expected"].as_u64().unwrap(), expected, "{s}");
    assert_eq!(v["stored_once"].as_u64().unwrap(), expected, "{s}");
    assert_eq!(v["missing"], 0);
    assert_eq!(v["duplicated"], 0);
    assert_eq!(v["conversations"], 7);
    // Progress lines went to stderr.
    assert!(run.stderr.contains("acked"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_keeps_the_schedule_and_verify_waits_for_slow_ingest() {
    let mut opts = Options::new(SECRET);
    opts.ingest_delay = Some(Duration::from_millis(1500));
    let server = fake_server::start(opts).await.unwrap();
    let run =
        loadgen(&server.url(), &["--duration", "1s", "--rate", "300", "--verify", "--verify-timeout", "20s"]).await;
    let s = &run.summary;
    assert_eq!(run.code, 0, "{s}\n{}", run.stderr);
    assert_eq!(s["mode"], "open");
    let sent = s["sent"].as_u64().unwrap();
    assert!((290..=310).contains(&sent), "{s}");
    assert_eq!(s["slot_waits"], 0, "{s}");
    assert_eq!(s["unsent"], 0, "{s}");
    assert_eq!(s["start_lag_ms"]["count"].as_u64().unwrap(), sent, "{s}");
    assert_eq!(s["verify"]["missing"], 0, "{s}");
    assert!(s["verify"]["passes"].as_u64().unwrap() >= 2, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_and_duplicated_messages_fail_verification() {
    let mut opts = Options::new(SECRET);
    opts.lose_every = Some(10);
    opts.duplicate_every = Some(7);
    let server = fake_server::start(opts).await.unwrap();
    let run =
        loadgen(&server.url(), &["--duration", "500ms", "--concurrency", "2", "--verify", "--verify-timeout", "2s"])
            .await;
    let s = &run.summary;
    assert_eq!(run.code, 1, "{s}\n{}", run.stderr);
    let v = &s["verify"];
    assert!(v["missing"].as_u64().unwrap() > 0, "{s}");
    assert!(v["duplicated"].as_u64().unwrap() > 0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_counted_as_401s_and_fails_the_run() {
    let server = fake_server::start(Options::new("another-secret")).await.unwrap();
    let run = loadgen(&server.url(), &["--duration", "300ms", "--concurrency", "2"]).await;
    let s = &run.summary;
    assert_eq!(run.code, 2, "{s}");
    assert_eq!(s["acknowledged"], 0);
    assert!(s["other_status"]["401"].as_u64().unwrap() > 0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_counted_as_connect_errors() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run =
        loadgen(&format!("http://127.0.0.1:{port}"), &["--duration", "200ms", "--concurrency", "1", "--timeout", "1s"])
            .await;
    let s = &run.summary;
    assert_eq!(run.code, 2, "{s}");
    assert!(s["errors_by_kind"]["connect"].as_u64().unwrap() > 0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_ends_the_open_loop_on_time_with_unsent_requests_counted() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let run = loadgen(&url, &["--duration", "1s", "--rate", "100", "--max-in-flight", "10", "--timeout", "1s"]).await;
    let s = &run.summary;
    assert!(started.elapsed() < Duration::from_secs(6), "{s}");
    assert_eq!(run.code, 2, "{s}");
    // 10 requests fill every slot during warm-up, time out after 1s, and the next 10
    // (still warm-up by their schedule) hold the slots past the end: the measured
    // second's 100 requests are counted as never sent.
    assert!(s["slot_waits"].as_u64().unwrap() > 0, "{s}");
    let sent = s["sent"].as_u64().unwrap();
    assert_eq!(s["unsent"].as_u64().unwrap() + sent, 100, "{s}");
    assert!(s["unsent"].as_u64().unwrap() >= 90, "{s}");
}
