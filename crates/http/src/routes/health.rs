//! `/healthz` (the process answers) and `/readyz` (the database answers, the schema is
//! current; plus what this instance can and cannot do).

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_store::{Store, StoreError};
use tokio::sync::Mutex;
use utoipa::ToSchema;

use crate::AppState;

routes! {
    "/healthz" => { get: healthz },
    "/readyz" => { get: readyz },
}

/// The event log's backlog for `/readyz` and `/metrics`, counted at most once a second.
pub type Backlog = Recent<switchboard_store::EventLogBacklog>;

/// A count for probes and scrapers, made at most once a second however many ask:
/// callers in the same second share one count (at most a second old), so they never
/// compete for the API's database connections.
pub struct Recent<T> {
    last: Mutex<Option<(Instant, T)>>,
}

/// What [`Recent`] counts.
pub(crate) trait Counted: Copy + Sized {
    async fn count(store: &dyn Store) -> Result<Self, StoreError>;
}

impl Counted for switchboard_store::EventLogBacklog {
    async fn count(store: &dyn Store) -> Result<Self, StoreError> {
        store.event_log_backlog().await
    }
}

impl<T> Recent<T> {
    const MAX_AGE: Duration = Duration::from_secs(1);

    pub const fn new() -> Self {
        Self { last: Mutex::const_new(None) }
    }
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Counted> Recent<T> {
    pub(crate) async fn get(&self, store: &dyn Store) -> Result<T, StoreError> {
        // Held while counting: concurrent callers wait for this count instead of
        // starting their own.
        let mut last = self.last.lock().await;
        if let Some((at, value)) = *last
            && at.elapsed() < Self::MAX_AGE
        {
            return Ok(value);
        }
        let value = T::count(store).await?;
        *last = Some((Instant::now(), value));
        Ok(value)
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum LiveStatus {
    Ok,
}

/// The process answers.
#[derive(Serialize, ToSchema)]
struct Liveness {
    status: LiveStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReadyStatus {
    Ready,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum NotReadyStatus {
    NotReady,
}

/// What this instance is configured to do.
#[derive(Serialize, ToSchema)]
struct ReadyCapabilities {
    /// An app secret is configured: signed webhooks are accepted.
    webhooks: bool,
    /// A verify token is configured: Meta's subscription handshake succeeds.
    verification: bool,
}

/// A channel whose sending is paused (for instance after an expired access token).
#[derive(Serialize, ToSchema)]
struct PausedChannel {
    phone_number_id: String,
    reason: String,
    /// Meta's error code, when it gave one.
    #[schema(required = true)]
    code: Option<i64>,
    until: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
struct ReadySending {
    /// Messages go to the sandbox instead of Meta.
    sandbox: bool,
    paused: Vec<PausedChannel>,
}

/// The webhook deliveries not yet applied, and those that failed (counted at most once
/// a second).
#[derive(Serialize, ToSchema)]
struct EventLogBacklog {
    pending: i64,
    failed: i64,
}

/// Ready to serve.
#[derive(Serialize, ToSchema)]
struct Ready {
    status: ReadyStatus,
    /// `sqlite` or `postgres`.
    database: &'static str,
    capabilities: ReadyCapabilities,
    sending: ReadySending,
    /// `null` when the event log could not be read.
    #[schema(required = true)]
    event_log: Option<EventLogBacklog>,
}

/// Not ready: the database is unreachable or its schema is behind.
#[derive(Serialize, ToSchema)]
struct NotReady {
    status: NotReadyStatus,
    /// `sqlite` or `postgres`.
    database: &'static str,
    reason: &'static str,
    /// Only when migrations are pending: the ones the database has not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pending_migrations: Option<Vec<i64>>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = Liveness)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: LiveStatus::Ok })
}

/// Readiness: the database answers and its schema is current; what this instance can do.
#[utoipa::path(get, path = "/readyz",
    responses((status = 200, description = "Ready", body = Ready),
              (status = 503, description = "The database is unreachable or migrations are pending", body = NotReady)))]
async fn readyz(state: web::Data<AppState>, backlog: web::Data<Backlog>) -> HttpResponse {
    let capabilities = ReadyCapabilities {
        webhooks: !state.channel_directory.app_secrets().is_empty(),
        verification: state.verify_token.is_some(),
    };
    let database = state.store.backend();
    let paused = state
        .send_health
        .paused(Utc::now())
        .into_iter()
        .map(|(id, p)| PausedChannel {
            phone_number_id: id.as_str().to_owned(),
            reason: p.reason,
            code: p.code,
            until: p.until,
        })
        .collect();
    let sending = ReadySending { sandbox: state.sandbox, paused };
    match state.store.readiness().await {
        Ok(r) if r.pending_migrations.is_empty() => {
            let log = backlog.get(state.store.as_ref()).await.ok();
            HttpResponse::Ok().json(Ready {
                status: ReadyStatus::Ready,
                database,
                capabilities,
                sending,
                event_log: log.map(|s| EventLogBacklog { pending: s.pending, failed: s.failed }),
            })
        }
        Ok(r) => HttpResponse::ServiceUnavailable().json(NotReady {
            status: NotReadyStatus::NotReady,
            database,
            reason: "migrations not applied; run `switchboard migrate`",
            pending_migrations: Some(r.pending_migrations),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(NotReady {
                status: NotReadyStatus::NotReady,
                database,
                reason: "database unreachable",
                pending_migrations: None,
            })
        }
    }
}
