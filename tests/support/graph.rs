//! A mock Graph API: accepts sends like Meta (a fresh wamid each), records them, can be
//! told to fail the next requests, and can post Meta's `sent` status webhooks back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub struct MockGraph {
    server: MockServer,
    statuses: Arc<Statuses>,
    /// How many template lists were served ([`MockGraph::templates`]).
    template_mounts: AtomicUsize,
}

/// Meta's status webhooks, as the mock emulates them.
#[derive(Default)]
struct Statuses {
    /// Where to post them and how long after accepting the message; `None`: never.
    to: Mutex<Option<(String, Duration)>>,
    /// How many were posted (and answered).
    posted: AtomicUsize,
}

struct Accept {
    next: AtomicUsize,
    statuses: Arc<Statuses>,
}

impl Respond for Accept {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if body.get("status").and_then(Value::as_str) == Some("read") {
            return ResponseTemplate::new(200).set_body_json(json!({"success": true}));
        }
        let to = body.get("to").and_then(Value::as_str).unwrap_or_default();
        let wamid = format!("wamid.mock.{n}");
        self.post_status(req, &body, &wamid);
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
        }))
    }
}

impl Accept {
    /// Posts the `sent` status of the message accepted as `wamid`, signed, echoing its
    /// callback data, if statuses are on.
    fn post_status(&self, req: &Request, body: &Value, wamid: &str) {
        let Some((url, delay)) = self.statuses.to.lock().unwrap().clone() else { return };
        let phone_number_id = req.url.path_segments().and_then(|mut s| s.nth(1)).unwrap_or_default().to_owned();
        let mut status = json!({
            "id": wamid,
            "status": "sent",
            "timestamp": chrono::Utc::now().timestamp().to_string(),
            "recipient_id": body.get("to").cloned().unwrap_or(Value::Null),
        });
        if let Some(data) = body.get("biz_opaque_callback_data") {
            status["biz_opaque_callback_data"] = data.clone();
        }
        let delivery = crate::payloads::delivery_for(&phone_number_id, vec![], vec![], vec![status]);
        let bytes = serde_json::to_vec(&delivery).unwrap();
        let statuses = Arc::clone(&self.statuses);
        tokio::runtime::Handle::current().spawn(async move {
            tokio::time::sleep(delay).await;
            let res = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", crate::sign(&bytes))
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "the status webhook was refused");
            statuses.posted.fetch_add(1, Ordering::AcqRel);
        });
    }
}

impl MockGraph {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let statuses = Arc::new(Statuses::default());
        Mock::given(method("POST"))
            .and(path_regex(r"^/v[0-9.]+/[0-9]+/messages$"))
            .respond_with(Accept { next: AtomicUsize::new(0), statuses: Arc::clone(&statuses) })
            .with_priority(10)
            .mount(&server)
            .await;
        Self { server, statuses, template_mounts: AtomicUsize::new(0) }
    }

    /// From now on, posts Meta's signed `sent` status webhook (with the request's
    /// callback data) to `webhook_url`, `delay` after accepting each message.
    pub fn post_statuses(&self, webhook_url: String, delay: Duration) {
        *self.statuses.to.lock().unwrap() = Some((webhook_url, delay));
    }

    /// From now on, posts no status webhooks (as when Meta never sends them).
    pub fn post_no_statuses(&self) {
        *self.statuses.to.lock().unwrap() = None;
    }

    /// Status webhooks posted so far (and answered with 200).
    #[must_use]
    pub fn statuses_posted(&self) -> usize {
        self.statuses.posted.load(Ordering::Acquire)
    }

    /// The next `n` sends are accepted with wamid `wamid`, whatever they are.
    pub async fn answer_with_wamid(&self, n: u64, wamid: &str) {
        Mock::given(method("POST"))
            .and(path_regex(r"^/v[0-9.]+/[0-9]+/messages$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "messages": [{"id": wamid}],
            })))
            .up_to_n_times(n)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    #[must_use]
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The next `n` sends get `status` with `body`.
    pub async fn fail_next(&self, n: u64, status: u16, body: Value) {
        Mock::given(method("POST"))
            .and(path_regex(r"^/v[0-9.]+/[0-9]+/messages$"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .up_to_n_times(n)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The next `n` sends get Meta's error `code`.
    pub async fn fail_with_code(&self, n: u64, status: u16, code: i64, title: &str) {
        self.fail_next(n, status, meta_error(code, title)).await;
    }

    /// Media id `id` is a file of `bytes` (Meta's lookup, then the download, which needs
    /// the access token). The file must be downloaded exactly `downloads` times before
    /// [`MockGraph::verify`].
    pub async fn media(&self, id: &str, bytes: &[u8], mime_type: &str, downloads: u64) {
        self.media_with_token(crate::ACCESS_TOKEN, id, bytes, mime_type, downloads).await;
    }

    /// As [`MockGraph::media`], answering only requests that carry `token` (a channel's own).
    pub async fn media_with_token(&self, token: &str, id: &str, bytes: &[u8], mime_type: &str, downloads: u64) {
        self.media_lookup_with_token(token, id, mime_type, bytes.len()).await;
        Mock::given(method("GET"))
            .and(path(format!("/files/{id}")))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_raw(bytes.to_vec(), mime_type))
            .expect(downloads)
            .named(format!("download of media {id}"))
            .mount(&self.server)
            .await;
    }

    /// Meta's answer to looking up media id `id`: a download URL on this mock.
    pub async fn media_lookup(&self, id: &str, mime_type: &str, size: usize) {
        self.media_lookup_with_token(crate::ACCESS_TOKEN, id, mime_type, size).await;
    }

    async fn media_lookup_with_token(&self, token: &str, id: &str, mime_type: &str, size: usize) {
        Mock::given(method("GET"))
            .and(path_regex(format!(r"^/v[0-9.]+/{id}$")))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "url": format!("{}/files/{id}", self.uri()),
                "mime_type": mime_type,
                "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "file_size": size,
                "id": id,
            })))
            .named(format!("lookup of media {id}"))
            .mount(&self.server)
            .await;
    }

    /// Uploads to `/{phone-number-id}/media` are answered with media id `id`.
    pub async fn accept_uploads(&self, id: &str) {
        self.accept_uploads_with_token(crate::ACCESS_TOKEN, id).await;
    }

    /// As [`MockGraph::accept_uploads`], answering only uploads that carry `token`.
    pub async fn accept_uploads_with_token(&self, token: &str, id: &str) {
        Mock::given(method("POST"))
            .and(path_regex(r"^/v[0-9.]+/[0-9]+/media$"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": id})))
            .named("media upload")
            .mount(&self.server)
            .await;
    }

    /// The bodies of the media uploads received so far (multipart), in arrival order.
    pub async fn uploads(&self) -> Vec<Vec<u8>> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().ends_with("/media") && r.method.as_str() == "POST")
            .map(|r| r.body)
            .collect()
    }

    /// Meta no longer knows media id `id` (it expired after 7 days): error code 100.
    pub async fn media_gone(&self, id: &str) {
        Mock::given(method("GET"))
            .and(path_regex(format!(r"^/v[0-9.]+/{id}$")))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
                "message": format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
                "fbtrace_id": "AbCdEf",
            }})))
            .mount(&self.server)
            .await;
    }

    /// Panics unless every mock's expected number of requests was met.
    pub async fn verify(&self) {
        self.server.verify().await;
    }

    /// Requests received so far whose path is `p`.
    pub async fn requests_to(&self, p: &str) -> usize {
        self.server.received_requests().await.unwrap_or_default().iter().filter(|r| r.url.path() == p).count()
    }

    /// Serves `templates` from `GET /{waba_id}/message_templates`, `per_page` a page,
    /// with Meta's cursor paging (`paging.cursors.after`, `paging.next` but on the last
    /// page), instead of what was served before.
    pub async fn templates(&self, waba_id: &str, templates: Vec<Value>, per_page: usize) {
        struct Pages {
            templates: Vec<Value>,
            per_page: usize,
        }
        impl Respond for Pages {
            fn respond(&self, req: &Request) -> ResponseTemplate {
                let start: usize = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "after")
                    .and_then(|(_, v)| v.strip_prefix("cursor-").and_then(|n| n.parse().ok()))
                    .unwrap_or(0);
                let end = (start + self.per_page).min(self.templates.len());
                let mut body = json!({
                    "data": self.templates[start.min(end)..end],
                    "paging": {"cursors": {"before": format!("cursor-{start}"), "after": format!("cursor-{end}")}},
                });
                if end < self.templates.len() {
                    body["paging"]["next"] = json!(format!("https://graph.example/next?after=cursor-{end}"));
                }
                ResponseTemplate::new(200).set_body_json(body)
            }
        }
        Mock::given(method("GET"))
            .and(path_regex(format!(r"^/v[0-9.]+/{waba_id}/message_templates$")))
            .respond_with(Pages { templates, per_page })
            // The latest served wins (wiremock: a lower number first).
            .with_priority(u8::try_from(100 - self.template_mounts.fetch_add(1, Ordering::Relaxed).min(90)).unwrap())
            .mount(&self.server)
            .await;
    }

    /// The `Authorization` header of every message request sent from `phone_number_id`,
    /// in arrival order.
    pub async fn authorizations_from(&self, phone_number_id: &str) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with(&format!("/{phone_number_id}/messages")))
            .map(|r| r.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned())
            .collect()
    }

    /// `(method, path, Authorization header)` of every request received so far, in
    /// arrival order.
    pub async fn authorizations(&self) -> Vec<(String, String, String)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
                (r.method.to_string(), r.url.path().to_owned(), auth.to_owned())
            })
            .collect()
    }

    /// Every request received so far, whatever its path.
    pub async fn received(&self) -> usize {
        self.server.received_requests().await.unwrap_or_default().len()
    }

    /// Every message request received so far (bodies), in arrival order.
    pub async fn sent(&self) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with("/messages"))
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }
}

#[must_use]
pub fn meta_error(code: i64, title: &str) -> Value {
    json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": title},
        "fbtrace_id": "AbCdEf",
    }})
}
