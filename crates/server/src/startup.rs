//! Composition root: the one place that picks the backend (by URL scheme) and wires the
//! store, the intake writer, the ingest worker and the HTTP server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use secrecy::ExposeSecret;
use switchboard_cloudapi::{GraphClient, GraphConfig};
use switchboard_core::{
    ChannelDirectory, ChannelTransport, ClickCounter, Housekeeper, IngestOptions, IngestWorker, Intake, IntakeOptions,
    LiveHub, Sandbox, SendHealth, Sender, Transport, Wake, replay_unrouted,
};
use switchboard_http::{AppState, Application, HttpOptions, LinkOptions};
use switchboard_store::Store;
use switchboard_store_postgres::{PgOptions, PgStore};
use switchboard_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::settings::{Backend, Settings, SqliteSynchronous};

/// Connects to the configured database.
/// The Graph API client the settings describe; `None` in sandbox mode (no access token,
/// or the sandbox asked for).
pub fn graph_client(settings: &Settings) -> anyhow::Result<Option<GraphClient>> {
    // One Graph API client (the configured token), shared through the channel directory by
    // the sender and the HTTP handlers (mark-read, media, uploads), which give a channel
    // with its own token a client of its own; none in sandbox mode.
    Ok(match (&settings.whatsapp.access_token, settings.uses_sandbox()) {
        (Some(token), false) => Some(
            GraphClient::new(GraphConfig {
                connect_timeout: Duration::from_secs(settings.graph.connect_timeout_secs),
                timeout: Duration::from_secs(settings.graph.timeout_secs),
                // Keep a connection for every send that may be in flight, plus room for
                // the handlers' calls: a smaller idle pool closes connections after each
                // burst and the next burst opens them again (measured: docs/BENCHMARKS.md).
                pool_max_idle_per_host: settings.sender.concurrency + 16,
                ..GraphConfig::new(settings.graph.base_url.clone(), settings.graph.api_version.clone(), token.clone())
            })
            .context("cannot build the Graph API client (graph.*, SWITCHBOARD_ACCESS_TOKEN)")?,
        ),
        _ => None,
    })
}

pub async fn connect_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database.url.expose_secret();
    let store: Arc<dyn Store> = match settings.backend()? {
        Backend::Sqlite => {
            ensure_sqlite_dir(url)?;
            Arc::new(
                SqliteStore::connect(&SqliteOptions {
                    url: url.to_owned(),
                    max_connections: settings.database.max_connections,
                    synchronous: match settings.database.sqlite_synchronous {
                        SqliteSynchronous::Normal => Synchronous::Normal,
                        SqliteSynchronous::Full => Synchronous::Full,
                    },
                    busy_timeout: Duration::from_secs(5),
                })
                .await
                .context("cannot open the SQLite database (database.url)")?,
            )
        }
        Backend::Postgres => Arc::new(
            PgStore::connect(&PgOptions {
                url: url.to_owned(),
                max_connections: settings.database.max_connections,
                acquire_timeout: settings.acquire_timeout(),
            })
            .await
            .context("cannot connect to PostgreSQL (database.url)")?,
        ),
    };
    Ok(store)
}

/// The key secrets at rest are sealed with: `secrets.key`, else the key file (generated
/// once, mode 0600, when missing).
pub fn secrets_key(settings: &Settings) -> anyhow::Result<switchboard_core::auth::SecretKey> {
    use switchboard_core::auth::SecretKey;
    if let Some(key) = &settings.secrets.key {
        return SecretKey::from_hex(key.expose_secret()).context("secrets.key");
    }
    let path = settings.secrets_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return SecretKey::from_hex(&text).with_context(|| format!("the secrets key file {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read the secrets key file {}", path.display())),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let hex = SecretKey::generate_hex();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&path).and_then(|mut f| {
        use std::io::Write as _;
        f.write_all(hex.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    match written {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                "no secrets key was configured (secrets.key, SWITCHBOARD_SECRETS__KEY_FILE): generated one into this \
                 file (mode 0600); keep it with the database's backups, and give every instance the same key"
            );
            SecretKey::from_hex(&hex).context("generated secrets key")
        }
        // Another instance wrote it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the secrets key file {}", path.display()))?;
            SecretKey::from_hex(&text).with_context(|| format!("the secrets key file {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot write the secrets key file {}", path.display())),
    }
}

/// SQLite creates the file but not its directory (the default is under `./data/`).
fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    Ok(())
}

/// A started server and its workers.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    /// Shared with the sender: which channels are paused and why.
    pub send_health: Arc<SendHealth>,
    /// The channels' credentials and throughput tiers, as the sender uses them.
    pub channels: Arc<ChannelDirectory>,
    /// Wakes the workers: the sender, the assigner (tests check that the API does), the
    /// ingest worker.
    pub wake: Wake,
    /// Live updates; shut down before the HTTP server, whose graceful stop waits for
    /// open streams.
    pub live: LiveHub,
    /// Where `/metrics` is served when `http.metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    server: switchboard_http::Handle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    stop: CancellationToken,
    tracker: TaskTracker,
}

/// Connects, migrates (unless disabled), makes sure the default channel exists, and
/// starts the intake writer, the ingest worker (if enabled) and the HTTP server.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    let store = connect_store(settings).await?;
    if settings.database.migrate_on_start {
        store.migrate().await.context("cannot apply database migrations")?;
    }
    if let Some(id) = settings.phone_number_id()? {
        let channel = store.upsert_channel(&id, &settings.whatsapp.channel_name, Utc::now()).await?;
        if let Some(phone) = settings.display_phone_number()? {
            store.set_display_phone_number(channel.id, &phone).await?;
        }
        tracing::info!(channel_id = %channel.id, phone_number_id = %id, "channel ready");
        let replayed = replay_unrouted(store.as_ref(), &id).await?;
        if replayed > 0 {
            tracing::info!(phone_number_id = %id, replayed, "deliveries kept for this number before it had a channel will now be applied");
        }
    }
    for limitation in settings.limitations() {
        tracing::warn!("{limitation}");
    }

    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    // Wakes the ingest worker (deliveries made durable by the intake writer), the sender
    // (replies queued by agents, auto-replies queued by the ingest worker) and the
    // assigner (messages stored by the ingest worker, agents coming online or freeing
    // capacity through the API).
    let wake = Wake::new();
    let intake = Intake::start(
        Arc::clone(&store),
        IntakeOptions { max_batch: settings.webhooks.max_batch, queue_capacity: settings.webhooks.queue_capacity },
        wake.clone(),
        &tracker,
        stop.clone(),
    );

    // One Graph API client (the configured token), shared through the channel directory by
    // the sender and the HTTP handlers (mark-read, media, uploads), which give a channel
    // with its own token a client of its own; none in sandbox mode.
    let graph = graph_client(settings)?;
    // The channels' own credentials and throughput tiers, in memory: reloaded when this
    // instance changes a channel and every half minute (another instance's changes).
    let key = Arc::new(secrets_key(settings)?);
    let channels =
        Arc::new(ChannelDirectory::new(Arc::clone(&key), graph.clone(), settings.whatsapp.app_secret.clone()));
    channels.refresh(store.as_ref()).await.context("cannot load the channels")?;
    tracker.spawn(Arc::clone(&channels).run_until_stopped(Arc::clone(&store), stop.clone()));
    // Message templates of every channel with a WhatsApp Business Account, hourly.
    if graph.is_some() {
        tracker.spawn(switchboard_core::templates::run_template_sync(
            Arc::clone(&store),
            Arc::clone(&channels),
            stop.clone(),
        ));
    }
    let transport: Arc<dyn Transport> = match &graph {
        Some(client) => Arc::new(ChannelTransport { graph: client.clone(), channels: Arc::clone(&channels) }),
        None => Arc::new(Sandbox),
    };
    let send_health = Arc::new(SendHealth::default());
    // The auto-replies the ingest worker queues go straight to this process's sender,
    // leased, when both run here.
    let mut handoff = None;
    if settings.sender.enabled {
        let sender = Sender::new(Arc::clone(&store), transport, Arc::clone(&send_health), settings.sender_options())
            .with_channels(Arc::clone(&channels));
        let handed = settings.ingest.enabled.then(|| {
            let (give, take) = sender.handoff();
            handoff = Some(give);
            take
        });
        tracker.spawn(sender.run_until_stopped(wake.clone(), handed, stop.clone()));
    }
    if settings.ingest.enabled {
        let worker = IngestWorker::new(
            Arc::clone(&store),
            IngestOptions {
                batch_size: settings.ingest.batch_size,
                poll_interval: Duration::from_millis(settings.ingest.poll_interval_ms),
                ref_format: settings.ref_format()?,
            },
        )
        .with_wake(wake.clone());
        let worker = match handoff {
            Some(h) => worker.with_handoff(h),
            None => worker,
        };
        tracker.spawn(worker.run_until_stopped(stop.clone()));
    }
    // Scheduled jobs (snooze wake-ups): every instance ticks; a job runs once.
    tracker.spawn(
        switchboard_core::Scheduler::new(
            Arc::clone(&store),
            switchboard_core::SchedulerOptions {
                inbox_event_retention: Duration::from_secs(u64::from(settings.events.retention_days) * 86_400),
                ..switchboard_core::SchedulerOptions::default()
            },
        )
        .run_until_stopped(stop.clone()),
    );
    // Event-log retention and media-cache pruning, hourly; every instance may run it.
    tracker
        .spawn(Housekeeper::new(Arc::clone(&store), settings.housekeeping_options()).run_until_stopped(stop.clone()));
    // Short-link clicks, written in batches; the last batch after the HTTP server stops.
    let clicks = ClickCounter::new(Arc::clone(&store));
    tracker.spawn(clicks.clone().run_until_stopped(Duration::from_secs(settings.links.click_flush_secs), stop.clone()));
    // Live updates: its own token (a child of `stop`), cancelled first at shutdown.
    // Auto-assignment: every instance may run it; a step is one transaction.
    if settings.assignment.enabled {
        let worker = switchboard_core::Assigner::new(Arc::clone(&store), settings.assigner_options());
        tracker.spawn(worker.run_until_stopped(wake.clone(), stop.clone()));
    }
    let live = LiveHub::start(Arc::clone(&store), settings.live_options(), &tracker, stop.child_token());
    let auth = switchboard_core::AuthConfig { options: Arc::new(settings.auth_options()), key: Arc::clone(&key) };
    // Outgoing webhooks: every instance may run the worker (fan-outs are compare-and-set,
    // claims lease their rows).
    let webhook_options = Arc::new(settings.webhook_options()?);
    if settings.outgoing_webhooks.enabled {
        let worker =
            switchboard_core::WebhookWorker::new(Arc::clone(&store), Arc::clone(&key), (*webhook_options).clone())
                .context("cannot build the outgoing webhooks' HTTP client")?;
        tracker.spawn(worker.run_until_stopped(stop.clone()));
    }
    // The dummy password hash unknown emails are checked against, computed before the
    // first sign-in so that one is not faster.
    tokio::task::spawn_blocking(switchboard_core::auth::warm_up);

    let app = Application::build(
        &HttpOptions {
            listen: settings.listen()?,
            workers: settings.http.workers,
            webhook_body_limit: settings.http.webhook_body_limit,
            webhook_body_timeout: Duration::from_secs(settings.http.webhook_body_timeout_secs),
            webhook_buffer_limit: settings.http.webhook_buffer_limit,
            max_connections: settings.http.max_connections,
            metrics_listen: settings.metrics_listen()?,
            api_body_limit: settings.http.api_body_limit,
            shutdown_timeout: Duration::from_secs(settings.http.shutdown_timeout_secs),
        },
        AppState {
            store: Arc::clone(&store),
            intake,
            channel_directory: Arc::clone(&channels),
            verify_token: settings.whatsapp.verify_token.clone(),
            wake: wake.clone(),
            send_health: Arc::clone(&send_health),
            sandbox: settings.uses_sandbox(),
            media_dir: settings.media.dir.clone(),
            links: LinkOptions { public_url: settings.public_url()?, ref_format: settings.ref_format()? },
            clicks,
            live: live.clone(),
            auth,
            webhooks: webhook_options,
            cookies: switchboard_http::auth::CookieOptions {
                secure: settings.console.secure_cookies,
                trust_proxy: settings.console.trust_proxy,
            },
        },
    )
    .with_context(|| format!("cannot listen on {} (http.listen, http.metrics_listen)", settings.http.listen))?;
    let addr = app.addr();
    let metrics_addr = app.metrics_addr();
    if let Some(metrics) = metrics_addr {
        tracing::info!(%metrics, "metrics are served on their own address");
    }
    let server = app.handle();
    let server_task = tokio::spawn(app.run_until_stopped());
    tracing::info!(%addr, database = store.backend(), "switchboard is listening");
    Ok(Running { addr, metrics_addr, store, send_health, channels, wake, live, server, server_task, stop, tracker })
}

impl Running {
    /// Stops in order: the HTTP server finishes in-flight requests (each waits for its
    /// delivery to be durable), the intake writer stores what is queued, the workers
    /// stop, the pool closes.
    pub async fn shutdown(self) {
        // Open event streams end first: the server's graceful stop waits for them.
        self.live.shutdown();
        self.server.stop(true).await;
        match self.server_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "HTTP server failed"),
            Err(e) => tracing::error!(error = %e, "HTTP server task failed"),
        }
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.store.close().await;
        tracing::info!("stopped");
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signalled(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
