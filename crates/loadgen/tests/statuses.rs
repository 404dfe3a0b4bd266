//! `mock-graph --status-webhook`: every accepted send is followed by Meta's signed `sent`
//! status webhook, carrying the send's callback data, to a live one of the given servers.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

const SECRET: &str = "test-app-secret";
const BIN: &str = env!("CARGO_BIN_EXE_switchboard-loadgen");

/// What the receiving server got: (path, signature header, body).
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A server that answers every POST 200 and keeps it.
async fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let kept = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let kept = kept.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let signature = req
                            .headers()
                            .get("x-hub-signature-256")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        kept.lock().unwrap().push((path, signature, body));
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (url, received)
}

/// A port nothing listens on.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

struct MockGraph {
    child: Child,
    url: String,
}

impl MockGraph {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["mock-graph", "--listen", "127.0.0.1:0", "-q"])
            .args(extra)
            .env("SWITCHBOARD_APP_SECRET", SECRET)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
        Self { child, url }
    }

    async fn send(&self, to: &str, callback_data: &str) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/v25.0/100000000000001/messages", self.url))
            .json(&json!({"messaging_product": "whatsapp", "to": to, "type": "text",
                          "text": {"body": "hi"}, "biz_opaque_callback_data": callback_data}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["messages"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats?by_to=1", self.url)).await.unwrap().json().await.unwrap()
    }
}

impl Drop for MockGraph {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signed(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn wait_for(received: &Received, n: usize) {
    for _ in 0..100 {
        if received.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} statuses received, expected {n}", received.lock().unwrap().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_sends_are_followed_by_signed_sent_statuses_to_a_live_server() {
    let (live, received) = receiver().await;
    let dead = dead_url().await;
    let mock = MockGraph::start(&["--status-webhook", &dead, "--status-webhook", &live, "--status-delay", "50ms"]);

    // The first status tries the dead server first, then the live one.
    let first = mock.send("+999001", "sb:m1").await;
    let second = mock.send("999002", "sb:m2").await;
    let again = mock.send("999002", "sb:m3").await;
    wait_for(&received, 3).await;

    let mut statuses = Vec::new();
    for (path, signature, body) in received.lock().unwrap().iter() {
        assert_eq!(path, "/webhooks/whatsapp");
        assert_eq!(signature, &signed(body), "signed with the app secret");
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["object"], "whatsapp_business_account");
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["metadata"]["phone_number_id"], "100000000000001");
        let status = value["statuses"][0].clone();
        assert_eq!(status["status"], "sent");
        assert!(status["timestamp"].as_str().unwrap().parse::<u64>().is_ok(), "{status}");
        statuses.push(status);
    }
    statuses.sort_by_key(|s| s["biz_opaque_callback_data"].as_str().unwrap().to_owned());
    let got: Vec<_> = statuses
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["recipient_id"].as_str().unwrap().to_owned(),
                s["biz_opaque_callback_data"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (first, "999001".to_owned(), "sb:m1".to_owned()),
            (second, "999002".to_owned(), "sb:m2".to_owned()),
            (again, "999002".to_owned(), "sb:m3".to_owned()),
        ]
    );

    let stats = mock.stats().await;
    assert_eq!(stats["statuses_posted"], 3, "{stats}");
    // Round-robin: statuses 1 and 3 went to the dead server first.
    assert_eq!(stats["statuses_refused"], 2, "{stats}");
    assert_eq!(stats["statuses_given_up"], 0, "{stats}");
    // Sends per recipient, to read duplicates from.
    assert_eq!(stats["by_to"], json!({"999001": 1, "999002": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_nobody_takes_are_given_up_and_no_status_without_the_flag() {
    let dead = dead_url().await;
    let mock = MockGraph::start(&["--status-webhook", &dead, "--status-delay", "0ms", "--status-retry-for", "200ms"]);
    mock.send("999001", "sb:m1").await;
    let mut stats = mock.stats().await;
    for _ in 0..60 {
        if stats["statuses_given_up"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = mock.stats().await;
    }
    assert_eq!(stats["statuses_given_up"], 1, "{stats}");
    assert_eq!(stats["statuses_posted"], 0, "{stats}");
    assert!(stats["statuses_refused"].as_u64().unwrap() >= 1, "{stats}");

    let quiet = MockGraph::start(&[]);
    quiet.send("999001", "sb:m1").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = quiet.stats().await;
    assert_eq!((stats["received"].clone(), stats["statuses_posted"].clone()), (json!(1), json!(0)));
}
