//! The black-box test harness: fresh databases per test on both backends, the real
//! application on port 0, Meta-style signing, and payload builders.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod db;
pub mod graph;
pub mod payloads;
pub mod sse;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::Utc;
use serde_json::Value;
use switchboard_cloudapi::{GraphClient, GraphConfig};
use switchboard_core::{IngestOptions, IngestReport, IngestWorker, SendReport, Sender};
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent};
use switchboard_server::settings::Settings;
use switchboard_server::startup::{self, Running};
use switchboard_store::Store;

pub use db::{Backend, TestDb};

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const ACCESS_TOKEN: &str = "test-access-token";
pub const TEST_SECRETS_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Logs are silent unless `TEST_LOG` is set.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info,switchboard=debug").with_test_writer().try_init();
    }
});

/// Generates `mod sqlite` and `mod postgres` with one test each per named
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// A running application on its own fresh database.
pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    /// An admin's API token.
    pub token: String,
    pub db: TestDb,
    /// The mock Graph API the sender talks to.
    pub graph: graph::MockGraph,
    /// The media cache (`media.dir`), removed when the app is dropped.
    pub media_dir: MediaDir,
    running: Option<Running>,
    ingest: IngestWorker,
    sender: Sender,
}

/// A per-test temporary directory, removed on drop.
pub struct MediaDir(pub std::path::PathBuf);

impl MediaDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("switchboard-media-{}", uuid::Uuid::new_v4().simple())))
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for [`spawn_app_with`].
#[derive(Default)]
pub struct AppOptions {
    /// Extra environment (e.g. to drop the app secret).
    pub env: Vec<(&'static str, String)>,
    /// Leave out the default configuration's Meta credentials and channel.
    pub bare: bool,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppOptions::default()).await
}

pub async fn spawn_app_with(backend: Backend, opts: AppOptions) -> TestApp {
    let db = TestDb::new(backend).await;
    start_on(db, opts).await
}

/// Starts the application on an existing database (used to restart on the same data).
pub async fn start_on(db: TestDb, opts: AppOptions) -> TestApp {
    LazyLock::force(&TRACING);
    let graph = graph::MockGraph::start().await;
    let mut opts = opts;
    opts.env.push(("SWITCHBOARD_GRAPH_BASE_URL", graph.uri()));
    let media_dir = MediaDir::new();
    if !opts.env.iter().any(|(k, _)| *k == "SWITCHBOARD__MEDIA__DIR") {
        opts.env.push(("SWITCHBOARD__MEDIA__DIR", media_dir.0.display().to_string()));
    }
    let settings = test_settings(&db, &opts);
    let running = startup::start(&settings).await.expect("application starts");
    let store = Arc::clone(&running.store);
    let token = switchboard_server::cli::new_token();
    store
        .create_agent(
            &NewAgent {
                name: AgentName::parse("Test Admin").unwrap(),
                email: Email::parse(&format!("admin-{}@example.com", uuid::Uuid::new_v4())).unwrap(),
                role: AgentRole::Admin,
            },
            &switchboard_http::hash_token(&token),
            Utc::now(),
        )
        .await
        .unwrap();
    let client =
        GraphClient::new(GraphConfig::new(graph.uri(), settings.graph.api_version.clone(), ACCESS_TOKEN.into()))
            .unwrap();
    // As the application's sender: each channel's own token and throughput tier.
    let transport = switchboard_core::ChannelTransport { graph: client, channels: Arc::clone(&running.channels) };
    let sender = Sender::new(
        Arc::clone(&store),
        Arc::new(transport),
        Arc::clone(&running.send_health),
        settings.sender_options(),
    )
    .with_channels(Arc::clone(&running.channels));
    TestApp {
        base: format!("http://{}", running.addr),
        graph,
        media_dir,
        sender,
        ingest: IngestWorker::new(Arc::clone(&store), IngestOptions { batch_size: 16, ..IngestOptions::default() })
            .with_wake(running.wake.clone()),
        store,
        client: reqwest::Client::new(),
        token,
        db,
        running: Some(running),
    }
}

pub fn test_settings(db: &TestDb, opts: &AppOptions) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        ("SWITCHBOARD_DATABASE_URL".into(), db.url.clone()),
        ("SWITCHBOARD_LISTEN".into(), "127.0.0.1:0".into()),
        ("SWITCHBOARD_ACCESS_TOKEN".into(), ACCESS_TOKEN.into()),
        // Limits and retry delays off unless a test sets them: tests drive the sender.
        ("SWITCHBOARD__SENDER__ENABLED".into(), "false".into()),
        ("SWITCHBOARD__SENDER__THROUGHPUT_PER_SECOND".into(), "0".into()),
        ("SWITCHBOARD__SENDER__PAIR_PER_MINUTE".into(), "0".into()),
        ("SWITCHBOARD__SENDER__BACKOFF_BASE_SECS".into(), "0".into()),
        ("SWITCHBOARD__SENDER__MAX_ATTEMPTS".into(), "3".into()),
        ("SWITCHBOARD__HTTP__WORKERS".into(), "2".into()),
        ("SWITCHBOARD__DATABASE__MAX_CONNECTIONS".into(), "4".into()),
        // Tests drive the ingest worker explicitly.
        ("SWITCHBOARD__INGEST__ENABLED".into(), "false".into()),
        // And the assigner.
        ("SWITCHBOARD__ASSIGNMENT__ENABLED".into(), "false".into()),
        // Tests drive the outgoing webhook worker, and their receivers listen on loopback.
        ("SWITCHBOARD__OUTGOING_WEBHOOKS__ENABLED".into(), "false".into()),
        ("SWITCHBOARD__OUTGOING_WEBHOOKS__ALLOWED_PRIVATE_ADDRESSES".into(), "127.0.0.1".into()),
        // A fixed key for sealed secrets (none is written to a data directory).
        ("SWITCHBOARD__SECRETS__KEY".into(), TEST_SECRETS_KEY.into()),
    ]);
    if opts.bare {
        env.remove("SWITCHBOARD_ACCESS_TOKEN");
    } else {
        env.insert("SWITCHBOARD_APP_SECRET".into(), APP_SECRET.into());
        env.insert("SWITCHBOARD_VERIFY_TOKEN".into(), VERIFY_TOKEN.into());
        env.insert("SWITCHBOARD_PHONE_NUMBER_ID".into(), PHONE_NUMBER_ID.into());
    }
    for (k, v) in &opts.env {
        env.insert((*k).into(), v.clone());
    }
    Settings::load_from(None, env).expect("test settings are valid")
}

/// `sha256=<hex>` as Meta computes it.
#[must_use]
pub fn sign(body: &[u8]) -> String {
    switchboard_cloudapi::signature::sign(APP_SECRET.as_bytes(), body)
}

impl TestApp {
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a delivery signed with the test app secret.
    pub async fn post_webhook(&self, body: impl Into<Vec<u8>>) -> reqwest::Response {
        let body = body.into();
        let sig = sign(&body);
        self.post_webhook_with(body, Some(&sig)).await
    }

    pub async fn post_webhook_with(&self, body: Vec<u8>, signature: Option<&str>) -> reqwest::Response {
        let mut req =
            self.client.post(self.url("/webhooks/whatsapp")).header("content-type", "application/json").body(body);
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.unwrap()
    }

    /// Applies one batch.
    pub async fn ingest_once(&mut self) -> IngestReport {
        self.ingest.run_once().await.unwrap()
    }

    /// Applies every pending event.
    pub async fn ingest(&mut self) -> IngestReport {
        self.ingest.run_until_idle().await.unwrap()
    }

    /// Sends every due outbox job.
    pub async fn send(&self) -> SendReport {
        self.sender.run_until_idle().await.unwrap()
    }

    /// One sender step.
    pub async fn send_once(&self) -> SendReport {
        self.sender.run_once().await.unwrap()
    }

    /// Runs the assigner at `now` until it has nothing left to do.
    pub async fn assign_once(&self, now: chrono::DateTime<Utc>) -> switchboard_store::AutoAssignReport {
        switchboard_core::Assigner::new(Arc::clone(&self.store), switchboard_core::AssignerOptions::default())
            .run_once(now)
            .await
            .unwrap()
    }

    /// Whether something woke the assigner since the last look (and forgets it).
    pub async fn assigner_was_woken(&self) -> bool {
        let wake = &self.running.as_ref().expect("the app runs").wake;
        // A stored wake-up makes `assigner_woken` ready at its first poll.
        tokio::time::timeout(std::time::Duration::ZERO, wake.assigner_woken()).await.is_ok()
    }

    /// A second sender on the same store and mock (to race the first).
    pub fn another_sender(&self) -> Sender {
        self.sender_with(switchboard_core::SenderOptions::default())
    }

    /// Another sender on the same store and mock, with `opts` (no rate limits or backoff).
    pub fn sender_with(&self, opts: switchboard_core::SenderOptions) -> Sender {
        Sender::new(
            Arc::clone(&self.store),
            Arc::new(self.graph_client()),
            Arc::default(),
            switchboard_core::SenderOptions {
                throughput_per_second: 0,
                pair_per_minute: 0,
                backoff_base: std::time::Duration::ZERO,
                ..opts
            },
        )
    }

    /// A Graph API client for the mock.
    pub fn graph_client(&self) -> GraphClient {
        GraphClient::new(GraphConfig::new(self.graph.uri(), "v25.0", ACCESS_TOKEN.into())).unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(&self.token).json(body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Gives the configured channel WhatsApp Business Account `waba_id`, serves
    /// `templates` from the mock Graph API and synchronises them; the channel's id.
    pub async fn sync_templates(&self, waba_id: &str, templates: Vec<Value>) -> String {
        let list = self.get_json("/api/v1/channels").await;
        let id = list["items"][0]["id"].as_str().unwrap().to_owned();
        let res = self
            .client
            .patch(self.url(&format!("/api/v1/admin/channels/{id}")))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"waba_id": waba_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "set the WABA id");
        let n = templates.len();
        self.graph.templates(waba_id, templates, 100).await;
        let res = self.post_json(&format!("/api/v1/admin/channels/{id}/templates/sync"), &serde_json::json!({})).await;
        assert_eq!(res.status(), 200, "sync templates");
        assert_eq!(res.json::<Value>().await.unwrap()["templates"], n);
        id
    }

    /// Every conversation, all pages.
    pub async fn conversations(&self) -> Vec<Value> {
        self.all_pages("/api/v1/conversations?status=all&limit=100").await
    }

    /// Every message of a conversation, all pages.
    pub async fn messages(&self, conversation_id: &str) -> Vec<Value> {
        self.all_pages(&format!("/api/v1/conversations/{conversation_id}/messages?limit=100")).await
    }

    /// Every message of every conversation.
    pub async fn all_messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for c in self.conversations().await {
            out.extend(self.messages(c["id"].as_str().unwrap()).await);
        }
        out
    }

    async fn all_pages(&self, first: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = first.to_owned();
        loop {
            let page = self.get_json(&path).await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("{first}&cursor={c}"),
                None => return items,
            }
        }
    }

    /// An outgoing webhook worker on this app's store and key, with the app's options.
    pub fn webhook_worker(&self, allowed_private: &str) -> switchboard_core::WebhookWorker {
        let key = switchboard_core::auth::SecretKey::from_hex(TEST_SECRETS_KEY).unwrap();
        let allowed_private_addresses = allowed_private.split(',').filter_map(|a| a.trim().parse().ok()).collect();
        switchboard_core::WebhookWorker::new(
            Arc::clone(&self.store),
            Arc::new(key),
            switchboard_core::WebhookOptions {
                allowed_private_addresses,
                timeout: std::time::Duration::from_secs(5),
                ..switchboard_core::WebhookOptions::default()
            },
        )
        .unwrap()
    }

    /// Stops the application gracefully and hands back its database, for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.db
    }
}
