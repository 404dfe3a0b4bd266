//! The webhook receiver: handshake, signatures, limits, durability and dedup.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_tests::payloads::{meta_bytes, text_delivery};
use switchboard_tests::{AppOptions, Backend, TestApp, VERIFY_TOKEN, both_backends, sign, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn stored_events(app: &TestApp) -> i64 {
    let s = app.store.event_log_stats().await.unwrap();
    s.pending + s.applied + s.failed
}

async fn handshake_echoes_the_challenge_only_for_the_right_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = |mode: &str, token: &str| {
        app.url(&format!("/webhooks/whatsapp?hub.mode={mode}&hub.challenge=1158201444&hub.verify_token={token}"))
    };
    let res = app.client.get(url("subscribe", VERIFY_TOKEN)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "1158201444");

    for (mode, token) in [("subscribe", "wrong"), ("unsubscribe", VERIFY_TOKEN), ("subscribe", "")] {
        let res = app.client.get(url(mode, token)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{mode} {token}");
    }
    let res = app.client.get(app.url("/webhooks/whatsapp")).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

async fn handshake_is_refused_without_a_configured_token(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions { bare: true, ..AppOptions::default() }).await;
    let res = app
        .client
        .get(app.url("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token="))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn bad_signatures_get_401_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.sig", "16505551234", "hi")).unwrap();
    let good = sign(&body);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("no prefix", Some(good.trim_start_matches("sha256=").to_owned())),
        ("wrong prefix", Some(good.replace("sha256=", "sha1="))),
        ("not hex", Some(format!("sha256={}", "z".repeat(64)))),
        ("too short", Some(good[..40].to_owned())),
        ("wrong value", Some(format!("sha256={}", "0".repeat(64)))),
        ("other body", Some(sign(b"{}"))),
    ];
    for (what, sig) in cases {
        let res = app.post_webhook_with(body.clone(), sig.as_deref()).await;
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{what}");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_signature", "{what}");
    }
    assert_eq!(stored_events(&app).await, 0);
}

async fn uppercase_hex_signatures_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.upper", "16505551234", "hi")).unwrap();
    let sig = sign(&body);
    let upper = format!("sha256={}", sig.trim_start_matches("sha256=").to_uppercase());
    assert_eq!(app.post_webhook_with(body, Some(&upper)).await.status(), 200);
    assert_eq!(stored_events(&app).await, 1);
}

async fn signed_non_json_gets_400_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    for body in [&b"not json"[..], b"", b"{\"entry\": [", b"\xff\xfe"] {
        let res = app.post_webhook(body.to_vec()).await;
        assert_eq!(res.status(), 400, "{body:?}");
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_json");
    }
    assert_eq!(stored_events(&app).await, 0);
}

async fn bodies_over_the_limit_get_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let filler = "x".repeat(3 * 1024 * 1024);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [], "pad": filler})).unwrap();
    let res = app.post_webhook(body).await;
    assert_eq!(res.status(), 413);
    assert_eq!(stored_events(&app).await, 0);

    // Just under the limit is fine.
    let filler = "x".repeat(3 * 1024 * 1024 - 200);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [], "pad": filler})).unwrap();
    assert!(body.len() <= 3 * 1024 * 1024);
    assert_eq!(app.post_webhook(body).await.status(), 200);
}

async fn without_an_app_secret_deliveries_get_503_so_meta_retries(backend: Backend) {
    let app = spawn_app_with(backend, AppOptions { bare: true, ..AppOptions::default() }).await;
    let body = serde_json::to_vec(&text_delivery("wamid.nosecret", "16505551234", "hi")).unwrap();
    let res = app.post_webhook(body).await;
    assert_eq!(res.status(), 503);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "webhooks_not_configured");
    assert!(problem["detail"].as_str().unwrap().contains("SWITCHBOARD_APP_SECRET"));
    assert_eq!(stored_events(&app).await, 0);
}

async fn escaped_unicode_is_verified_over_the_raw_bytes_and_decoded(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let text = "äöå — নমস্কার नमस्ते 😮 see https://example.com/a/b";
    let body = meta_bytes(&text_delivery("wamid.escaped", "16505551234", text));
    let raw = String::from_utf8(body.clone()).unwrap();
    assert!(raw.is_ascii() && raw.contains("\\u00e4") && raw.contains("\\ud83d\\ude2e") && raw.contains("\\/"));
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let messages = app.all_messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], text);
    assert_eq!(messages[0]["wamid"], "wamid.escaped");
}

async fn identical_redelivery_is_stored_and_applied_once(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = serde_json::to_vec(&text_delivery("wamid.dup", "16505551234", "once")).unwrap();
    for _ in 0..3 {
        assert_eq!(app.post_webhook(body.clone()).await.status(), 200);
    }
    assert_eq!(stored_events(&app).await, 1);
    app.ingest().await;
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let messages = app.all_messages().await;
    assert_eq!(messages.len(), 1);
}

async fn concurrent_deliveries_are_all_acknowledged_and_stored(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/webhooks/whatsapp");
        // Every fifth delivery is sent twice, concurrently.
        let copies = if i % 5 == 0 { 2 } else { 1 };
        let body = serde_json::to_vec(&text_delivery(&format!("wamid.c{i}"), &format!("1650555{i:04}"), "hi")).unwrap();
        for _ in 0..copies {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let sig = sign(&body);
                client.post(url).header("x-hub-signature-256", sig).body(body).send().await.unwrap().status()
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(stored_events(&app).await, 200);
    app.ingest().await;
    assert_eq!(app.all_messages().await.len(), 200);
}

/// Opens a connection and sends a webhook's request head (and `body`, if any) without the
/// rest of the body.
async fn start_post(app: &TestApp, headers: &str, body: &[u8]) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head =
        format!("POST /webhooks/whatsapp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    s
}

/// Reads until the server closes the connection (or `within` passes): what it answered.
async fn answer(s: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `byte` every 500 ms until the server closes the connection: what it answered,
/// and when it closed (at most 30 s).
async fn trickle(mut s: TcpStream, byte: &'static [u8], started: Instant) -> (String, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < Duration::from_secs(30) {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let _ = s.write_all(byte).await;
            }
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

async fn a_missing_or_malformed_signature_is_refused_before_the_body_is_read(backend: Backend) {
    let app = spawn_app(backend).await;
    for header in ["", "X-Hub-Signature-256: sha256=00\r\n"] {
        // The head announces 3 MB; none of it is sent, and the 401 comes anyway.
        let mut s = start_post(&app, &format!("{header}Content-Length: 3000000\r\n"), b"").await;
        let got = answer(&mut s, Duration::from_secs(3)).await;
        assert!(got.starts_with("HTTP/1.1 401"), "{header:?}: {got}");
        assert!(got.contains("invalid_signature"), "{got}");
    }
    // A chunked body that keeps coming: refused, and the connection closed, at once.
    let started = Instant::now();
    let s = start_post(&app, "Transfer-Encoding: chunked\r\n", b"1\r\n{\r\n").await;
    let (got, closed_at) = trickle(s, b"1\r\n \r\n", started).await;
    assert!(got.starts_with("HTTP/1.1 401"), "{got}");
    assert!(closed_at < Duration::from_secs(3), "closed after {closed_at:?}");
    // A well-formed header, then a body over the limit announced: 413 before reading it.
    let sig = format!("X-Hub-Signature-256: sha256={}\r\n", "0".repeat(64));
    let mut s = start_post(&app, &format!("{sig}Content-Length: 4000000\r\n"), b"").await;
    let got = answer(&mut s, Duration::from_secs(3)).await;
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert_eq!(stored_events(&app).await, 0);
}

/// 200 clients that send a signed head and then trickle their bodies hold no worker: a
/// real delivery is acknowledged at once meanwhile, and each slow one gets 408 and is
/// disconnected once `http.webhook_body_timeout_secs` has passed.
async fn slow_bodies_are_cut_off_and_do_not_hold_up_real_deliveries(backend: Backend) {
    const SLOW: usize = 200;
    let timeout = Duration::from_secs(2);
    let opts = AppOptions {
        env: vec![("SWITCHBOARD__HTTP__WEBHOOK_BODY_TIMEOUT_SECS", timeout.as_secs().to_string())],
        ..AppOptions::default()
    };
    let mut app = spawn_app_with(backend, opts).await;
    let sig = format!("X-Hub-Signature-256: sha256={}\r\n", "ab".repeat(32));
    let started = Instant::now();
    let mut slow = Vec::new();
    for i in 0..SLOW {
        // Every fourth one sends its body chunked.
        let (headers, first): (String, &[u8]) = if i % 4 == 0 {
            (format!("{sig}Transfer-Encoding: chunked\r\n"), b"1\r\n{\r\n")
        } else {
            (format!("{sig}Content-Length: 3000000\r\n"), b"{")
        };
        slow.push(start_post(&app, &headers, first).await);
    }
    // Each keeps trickling, one more byte every 500 ms, until the server closes it.
    let trickles: Vec<_> = slow
        .into_iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(trickle(s, if i % 4 == 0 { &b"1\r\n \r\n"[..] } else { b" " }, started)))
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = serde_json::to_vec(&text_delivery("wamid.amid_slow", "16505551234", "still here")).unwrap();
    let t = Instant::now();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(1), "a real delivery took {:?}", t.elapsed());
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);

    for t in trickles {
        let (got, closed_at) = t.await.unwrap();
        assert!(got.starts_with("HTTP/1.1 408"), "{got}");
        assert!(closed_at < timeout + Duration::from_secs(3), "closed after {closed_at:?}");
    }
    app.ingest().await;
    assert_eq!(app.all_messages().await.len(), 1);
    assert_eq!(stored_events(&app).await, 1);
}

/// Past `http.webhook_buffer_limit`, a large body waits for room (here until its
/// timeout), while a typical delivery (under 64 KiB) never waits.
async fn large_bodies_share_a_bounded_buffer_and_small_ones_never_wait(backend: Backend) {
    let opts = AppOptions {
        env: vec![
            ("SWITCHBOARD__HTTP__WEBHOOK_BODY_LIMIT", "200000".into()),
            ("SWITCHBOARD__HTTP__WEBHOOK_BUFFER_LIMIT", "200000".into()),
            ("SWITCHBOARD__HTTP__WEBHOOK_BODY_TIMEOUT_SECS", "2".into()),
        ],
        ..AppOptions::default()
    };
    let app = spawn_app_with(backend, opts).await;
    let sig = format!("X-Hub-Signature-256: sha256={}\r\n", "ab".repeat(32));
    let started = Instant::now();
    // 190,000 bytes sent and stalled: 125,000 of the 200,000 taken.
    let first = start_post(&app, &format!("{sig}Content-Length: 199999\r\n"), &vec![b' '; 190_000]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A whole body of 150,000 would need 86,000 more: it is not read until the first one
    // is cut off (without the bound it would be read, and refused with 401, at once).
    let mut second = start_post(&app, &format!("{sig}Content-Length: 150000\r\n"), &vec![b' '; 150_000]).await;
    let second = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let n = second.read(&mut buf).await.unwrap();
        (String::from_utf8_lossy(&buf[..n]).into_owned(), started.elapsed())
    });
    // Meanwhile a real delivery goes through at once.
    let body = serde_json::to_vec(&text_delivery("wamid.small", "16505551234", "hi")).unwrap();
    let t = Instant::now();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let (got, closed_at) = trickle(first, b"", started).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(closed_at < Duration::from_secs(5), "{closed_at:?}");
    let (got, answered_at) = second.await.unwrap();
    assert!(got.starts_with("HTTP/1.1 4"), "{got}");
    assert!(answered_at > Duration::from_millis(1900), "the second body did not wait: {answered_at:?}");
    // With the room given back, a large signed body is read (and checked) again.
    let res = app.post_webhook_with(vec![b' '; 150_000], Some(&format!("sha256={}", "ab".repeat(32)))).await;
    assert_eq!(res.status(), 401);
}

both_backends!(
    large_bodies_share_a_bounded_buffer_and_small_ones_never_wait,
    a_missing_or_malformed_signature_is_refused_before_the_body_is_read,
    slow_bodies_are_cut_off_and_do_not_hold_up_real_deliveries,
    handshake_echoes_the_challenge_only_for_the_right_token,
    handshake_is_refused_without_a_configured_token,
    bad_signatures_get_401_and_nothing_is_stored,
    uppercase_hex_signatures_are_accepted,
    signed_non_json_gets_400_and_nothing_is_stored,
    bodies_over_the_limit_get_413,
    without_an_app_secret_deliveries_get_503_so_meta_retries,
    escaped_unicode_is_verified_over_the_raw_bytes_and_decoded,
    identical_redelivery_is_stored_and_applied_once,
    concurrent_deliveries_are_all_acknowledged_and_stored,
);
