//! Drives `mock-graph` as hard as it can, to measure the mock's own ceiling.
//!
//! `cargo run --release -p switchboard-loadgen --example graph_client -- [URL] [CONNECTIONS] [SECONDS]`
//!
//! Defaults: `http://127.0.0.1:9900`, 64 keep-alive connections, 5 seconds, one thread.
//! Each connection posts Meta-shaped text sends (`load bench <n>`, 200 recipients
//! round-robin) back to back; prints sends answered per second.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:9900".to_owned());
    let connections: u64 = args.next().map_or(64, |c| c.parse().unwrap());
    let seconds: f64 = args.next().map_or(5.0, |s| s.parse().unwrap());
    let authority = url.trim_start_matches("http://").trim_end_matches('/').to_owned();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let ok = Arc::new(AtomicU64::new(0));
        let other = Arc::new(AtomicU64::new(0));
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (ok, other, next, authority) =
                (ok.clone(), other.clone(), next.clone(), authority.clone());
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                while Instant::now() < end {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let body = format!(
                        r#"{{"messaging_product":"whatsapp","recipient_type":"individual","to":"99912340{:03}","type":"text","text":{{"preview_url":false,"body":"load bench {n}"}}}}"#,
                        n % 200
                    );
                    let req = hyper::Request::post("/v25.0/100000000000001/messages")
                        .header("host", &authority)
                        .header("content-type", "application/json")
                        .header("authorization", "Bearer mock")
                        .body(Full::new(Bytes::from(body)))
                        .unwrap();
                    sender.ready().await.unwrap();
                    let res = sender.send_request(req).await.unwrap();
                    let status = res.status();
                    res.into_body().collect().await.unwrap();
                    if status == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = start.elapsed().as_secs_f64();
        let ok = ok.load(Ordering::Relaxed);
        println!(
            "{ok} answered 200 ({} other) in {elapsed:.2}s: {:.0}/s over {connections} connections",
            other.load(Ordering::Relaxed),
            ok as f64 / elapsed
        );
    });
}
