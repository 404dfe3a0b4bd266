//! A small in-memory stand-in for the Switchboard server, enough for the load tool:
//! `POST /webhooks/whatsapp` (signature checked, messages stored by wamid per contact),
//! the two paginated `GET /api/v1/conversations[/{id}/messages]` lists and, with
//! `graph_url`, text replies (`POST /api/v1/conversations/{id}/messages` → 202) sent on
//! to a Graph API one at a time, in the order they were accepted.
//!
//! Used by the end-to-end tests and by `examples/sink.rs` (which, with `store: false`,
//! only checks the signature and answers, to measure the client's own ceiling).
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct Options {
    pub app_secret: String,
    pub token: String,
    /// Parse and keep messages (false: check the signature and answer 200, nothing else).
    pub store: bool,
    /// Acknowledge but forget every n-th message (simulates loss).
    pub lose_every: Option<u64>,
    /// Store every n-th message twice (simulates a broken dedupe).
    pub duplicate_every: Option<u64>,
    /// Store messages this long after acknowledging them (asynchronous ingest).
    pub ingest_delay: Option<std::time::Duration>,
    /// Accept replies and send them to this Graph API base URL.
    pub graph_url: Option<String>,
    /// Send every n-th reply twice (simulates a sender that retries a delivered send).
    pub send_twice_every: Option<u64>,
    /// Hold back every n-th reply until the next reply to the same customer went out
    /// (simulates a sender that breaks a conversation's order).
    pub hold_back_every: Option<u64>,
}

impl Options {
    pub fn new(app_secret: &str) -> Self {
        Self {
            app_secret: app_secret.to_owned(),
            token: "test-token".to_owned(),
            store: true,
            lose_every: None,
            duplicate_every: None,
            ingest_delay: None,
            graph_url: None,
            send_twice_every: None,
            hold_back_every: None,
        }
    }
}

#[derive(Default)]
struct Inbox {
    /// (conversation id, wa_id, name), in creation order.
    conversations: Vec<(String, String, String)>,
    by_wa_id: HashMap<String, usize>,
    /// Message wamids per conversation.
    messages: Vec<Vec<String>>,
}

struct State {
    opts: Options,
    inbox: Mutex<Inbox>,
    messages_seen: AtomicU64,
    /// Accepted replies `(wa_id, text)`, in order, to the Graph sender.
    outbox: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
    replies: AtomicU64,
}

pub struct FakeServer {
    pub addr: SocketAddr,
}

impl FakeServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Binds 127.0.0.1 on a free port and serves until the runtime ends.
pub async fn start(opts: Options) -> std::io::Result<FakeServer> {
    start_on("127.0.0.1:0", opts).await
}

pub async fn start_on(addr: &str, opts: Options) -> std::io::Result<FakeServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let outbox = opts.graph_url.clone().map(|graph| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(graph_sender(graph, opts.clone(), rx));
        tx
    });
    let state = Arc::new(State {
        opts,
        inbox: Mutex::new(Inbox::default()),
        messages_seen: AtomicU64::new(0),
        outbox,
        replies: AtomicU64::new(0),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(FakeServer { addr })
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/webhooks/whatsapp") => webhook(state, req).await,
        (Method::POST, p) if p.starts_with("/api/v1/conversations/") && p.ends_with("/messages") => {
            reply(state, req).await
        }
        (Method::GET, p) if p.starts_with("/api/v1/conversations") => {
            let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
            if auth != Some(&format!("Bearer {}", state.opts.token)) {
                return respond(StatusCode::UNAUTHORIZED, "{}");
            }
            let rest = &p["/api/v1/conversations".len()..];
            let (offset, limit) = page_params(&query);
            let inbox = state.inbox.lock().unwrap_or_else(|e| e.into_inner());
            let (items, next): (Vec<Value>, Option<usize>) = if rest.is_empty() {
                let all = &inbox.conversations;
                let end = (offset + limit).min(all.len());
                let items = all[offset.min(end)..end]
                    .iter()
                    .map(|(id, wa_id, name)| {
                        json!({"id": id, "status": "open",
                               "contact": {"id": format!("c-{id}"), "wa_id": wa_id, "name": name}})
                    })
                    .collect();
                (items, (end < all.len()).then_some(end))
            } else if let Some(id) = rest.strip_prefix('/').and_then(|r| r.strip_suffix("/messages")) {
                let Some(index) = inbox.conversations.iter().position(|c| c.0 == id) else {
                    return respond(StatusCode::NOT_FOUND, "{}");
                };
                let all = &inbox.messages[index];
                let end = (offset + limit).min(all.len());
                let items = all[offset.min(end)..end]
                    .iter()
                    .enumerate()
                    .map(|(i, wamid)| {
                        json!({"id": format!("m-{}", offset + i), "wamid": wamid,
                               "direction": "inbound", "type": "text", "text": "..."})
                    })
                    .collect();
                (items, (end < all.len()).then_some(end))
            } else {
                return respond(StatusCode::NOT_FOUND, "{}");
            };
            // Opaque-looking cursors, as the real server's are.
            let body = json!({"items": items, "next_cursor": next.map(|n| format!("o{n:x}"))});
            respond(StatusCode::OK, body.to_string())
        }
        _ => respond(StatusCode::NOT_FOUND, "{}"),
    }
}

fn page_params(query: &str) -> (usize, usize) {
    let mut offset = 0;
    let mut limit = 50;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("cursor", c)) => {
                offset = c.strip_prefix('o').and_then(|h| usize::from_str_radix(h, 16).ok()).unwrap_or(0)
            }
            Some(("limit", l)) => limit = l.parse().unwrap_or(50).min(500),
            _ => {}
        }
    }
    (offset, limit)
}

async fn webhook(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let signature = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok());
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return respond(StatusCode::BAD_REQUEST, "{}");
    };
    let Some(signature) = signature else {
        return respond(StatusCode::UNAUTHORIZED, "{}");
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(state.opts.app_secret.as_bytes()) else {
        return respond(StatusCode::INTERNAL_SERVER_ERROR, "{}");
    };
    mac.update(&body);
    if mac.verify_slice(&signature).is_err() {
        return respond(StatusCode::UNAUTHORIZED, "{}");
    }
    if !state.opts.store {
        return respond(StatusCode::OK, "{}");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return respond(StatusCode::BAD_REQUEST, "{}");
    };
    match state.opts.ingest_delay {
        Some(delay) => {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                ingest(&state, &payload);
            });
        }
        None => ingest(&state, &payload),
    }
    respond(StatusCode::OK, "{}")
}

fn ingest(state: &State, payload: &Value) {
    let mut inbox = state.inbox.lock().unwrap_or_else(|e| e.into_inner());
    for entry in payload["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            let value = &change["value"];
            let name = value["contacts"][0]["profile"]["name"].as_str().unwrap_or("").to_owned();
            for message in value["messages"].as_array().into_iter().flatten() {
                let (Some(from), Some(wamid)) = (message["from"].as_str(), message["id"].as_str()) else {
                    continue;
                };
                let n = state.messages_seen.fetch_add(1, Ordering::Relaxed) + 1;
                if state.opts.lose_every.is_some_and(|k| n.is_multiple_of(k)) {
                    continue;
                }
                let index = match inbox.by_wa_id.get(from) {
                    Some(&i) => i,
                    None => {
                        let i = inbox.conversations.len();
                        inbox.conversations.push((format!("conv-{i}"), from.to_owned(), name.clone()));
                        inbox.by_wa_id.insert(from.to_owned(), i);
                        inbox.messages.push(Vec::new());
                        i
                    }
                };
                inbox.messages[index].push(wamid.to_owned());
                if state.opts.duplicate_every.is_some_and(|k| n.is_multiple_of(k)) {
                    inbox.messages[index].push(wamid.to_owned());
                }
            }
        }
    }
}

async fn reply(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if auth != Some(format!("Bearer {}", state.opts.token)) {
        return respond(StatusCode::UNAUTHORIZED, "{}");
    }
    let Some(outbox) = state.outbox.clone() else {
        return respond(StatusCode::NOT_FOUND, "{}");
    };
    let id = req.uri().path()["/api/v1/conversations/".len()..].trim_end_matches("/messages").to_owned();
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return respond(StatusCode::BAD_REQUEST, "{}");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return respond(StatusCode::BAD_REQUEST, "{}");
    };
    let (Some("text"), Some(text)) = (body["type"].as_str(), body["text"].as_str()) else {
        return respond(StatusCode::UNPROCESSABLE_ENTITY, "{}");
    };
    let wa_id = {
        let inbox = state.inbox.lock().unwrap_or_else(|e| e.into_inner());
        match inbox.conversations.iter().find(|c| c.0 == id) {
            Some(c) => c.1.clone(),
            None => return respond(StatusCode::NOT_FOUND, "{}"),
        }
    };
    let n = state.replies.fetch_add(1, Ordering::Relaxed);
    let _ = outbox.send((wa_id, text.to_owned()));
    let body = json!({"id": format!("out-{n}"), "status": "queued", "direction": "outbound"});
    respond(StatusCode::ACCEPTED, body.to_string())
}

/// Sends accepted replies to the Graph API one at a time, in order (unless told to
/// misbehave).
async fn graph_sender(graph: String, opts: Options, mut rx: tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let client = reqwest::Client::new();
    let url = format!("{}/v25.0/100000000000001/messages", graph.trim_end_matches('/'));
    let send = |to: String, text: String| {
        let body = json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                          "to": to, "type": "text", "text": {"preview_url": false, "body": text}});
        let request = client.post(&url).json(&body);
        async move {
            // Retried until the mock answers 200, as the real sender retries 5xx.
            loop {
                let sent = request.try_clone().unwrap().send().await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    let mut held: HashMap<String, String> = HashMap::new();
    let mut n = 0u64;
    loop {
        let next = match tokio::time::timeout(std::time::Duration::from_millis(300), rx.recv()).await {
            Ok(next) => next,
            Err(_) => {
                // Idle: whatever was held back goes out now.
                for (to, text) in held.drain() {
                    send(to, text).await;
                }
                continue;
            }
        };
        let Some((to, text)) = next else { return };
        n += 1;
        if let Some(earlier) = held.remove(&to) {
            send(to.clone(), text).await;
            send(to, earlier).await;
            continue;
        }
        if opts.hold_back_every.is_some_and(|k| n.is_multiple_of(k)) {
            held.insert(to, text);
            continue;
        }
        send(to.clone(), text.clone()).await;
        if opts.send_twice_every.is_some_and(|k| n.is_multiple_of(k)) {
            send(to, text).await;
        }
    }
}
