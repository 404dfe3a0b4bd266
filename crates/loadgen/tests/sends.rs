//! `sends` end to end: the real binary's `mock-graph`, the in-memory fake server
//! forwarding replies to it, and the real binary's `sends` driving both.
#![allow(clippy::unwrap_used)]

mod support {
    pub mod fake_server;
}

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use support::fake_server::{self, Options};

const SECRET: &str = "test-app-secret";
const BIN: &str = env!("CARGO_BIN_EXE_switchboard-loadgen");

/// A `mock-graph` child process on a free port, stopped when dropped.
struct MockGraph {
    child: Child,
    url: String,
}

impl MockGraph {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["mock-graph", "--listen", "127.0.0.1:0", "-q"])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, url }
    }

    async fn stats(&self) -> Value {
        let body = reqwest::get(format!("{}/stats?by_to=1", self.url)).await.unwrap().text().await.unwrap();
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for MockGraph {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    code: i32,
    summary: Value,
    stderr: String,
}

async fn sends(server: &str, mock: &str, extra: &[&str]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(["sends", "--url", server, "--mock", mock, "--json"])
        .args(["--settle", "200ms", "--timeout", "20s"])
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
async fn every_reply_reaches_the_mock_once_and_in_order() {
    let mock = MockGraph::start(&["--fail-rate", "0.1"]);
    let mut opts = Options::new(SECRET);
    opts.graph_url = Some(mock.url.clone());
    let server = fake_server::start(opts).await.unwrap();
    let run =
        sends(&server.url(), &mock.url, &["--conversations", "7", "--messages", "300", "--concurrency", "4"]).await;
    let s = &run.summary;
    assert_eq!(run.code, 0, "{s}\n{}", run.stderr);
    assert_eq!(s["queue"]["accepted"], 300, "{s}");
    assert!(s["queue"]["accepted_per_s"].as_f64().unwrap() > 0.0, "{s}");
    assert!(s["queue"]["latency_ms"]["p50_ms"].as_f64().unwrap() > 0.0, "{s}");
    let d = &s["delivery"];
    assert_eq!(d["expected"], 300, "{s}");
    assert_eq!(d["received"], 300, "{s}");
    assert_eq!(d["exact"], true, "{s}");
    assert_eq!(d["missing"], 0, "{s}");
    assert_eq!(d["duplicates"], 0, "{s}");
    assert_eq!(d["out_of_order"], 0, "{s}");
    assert!(d["injected_failures"].as_u64().unwrap() > 0, "{s}");
    assert!(d["sends_per_s"].as_f64().unwrap() > 0.0, "{s}");
    assert!(d["total_s"].as_f64().unwrap() > 0.0, "{s}");
    let series: u64 = d["per_second"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(series, 300, "{s}");

    // The mock saw 7 recipients, 300/7 = 42 or 43 each.
    let stats = mock.stats().await;
    let by_to = stats["by_to"].as_object().unwrap();
    assert_eq!(by_to.len(), 7, "{stats}");
    assert!(by_to.values().all(|n| (42..=43).contains(&n.as_u64().unwrap())));
    assert!(run.stderr.contains("queueing 300 replies"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_sends_fail_the_run() {
    let mock = MockGraph::start(&[]);
    let mut opts = Options::new(SECRET);
    opts.graph_url = Some(mock.url.clone());
    opts.send_twice_every = Some(25);
    let server = fake_server::start(opts).await.unwrap();
    let run = sends(&server.url(), &mock.url, &["--conversations", "5", "--messages", "100", "-q"]).await;
    let s = &run.summary;
    assert_eq!(run.code, 1, "{s}\n{}", run.stderr);
    let d = &s["delivery"];
    assert_eq!(d["received"], 104, "{s}");
    assert_eq!(d["duplicates"], 4, "{s}");
    assert_eq!(d["exact"], false, "{s}");
    // A repeat of the last text is not an overtaking.
    assert_eq!(d["out_of_order"], 0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_sent_out_of_order_fails_the_run() {
    let mock = MockGraph::start(&[]);
    let mut opts = Options::new(SECRET);
    opts.graph_url = Some(mock.url.clone());
    opts.hold_back_every = Some(10);
    let server = fake_server::start(opts).await.unwrap();
    let run =
        sends(&server.url(), &mock.url, &["--conversations", "3", "--messages", "60", "--concurrency", "1", "-q"])
            .await;
    let s = &run.summary;
    assert_eq!(run.code, 1, "{s}\n{}", run.stderr);
    let d = &s["delivery"];
    // Everything arrived, but some late.
    assert_eq!(d["received"], 60, "{s}");
    assert_eq!(d["exact"], true, "{s}");
    assert!(d["out_of_order"].as_u64().unwrap() > 0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_that_is_not_running_is_a_setup_error() {
    let server = fake_server::start(Options::new(SECRET)).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = Command::new(BIN)
        .args(["sends", "--url", &server.url(), "-q"])
        .args(["--mock", &format!("http://127.0.0.1:{port}")])
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_API_TOKEN", "test-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("mock-graph"), "{stderr}");
}
