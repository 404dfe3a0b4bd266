//! `GET /metrics`: Prometheus text format. Counters and histograms are recorded where
//! things happen (webhooks and HTTP requests here, ingest and sending in
//! switchboard-core); the event log's and the outbox's gauges are counted at scrape time,
//! at most once a second however many scrapers ask. Every `_seconds` metric is a
//! histogram with [`BUCKETS`]. No label carries personal data: routes are patterns
//! (`/api/v1/conversations/{id}`), never paths.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `switchboard_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `switchboard_webhook_ack_seconds` (body read, verified, stored) | histogram | `status` |
//! | `switchboard_ingest_lag_seconds` (acknowledged → applied) | histogram | |
//! | `switchboard_send_latency_seconds` (queued → accepted by Meta) | histogram | |
//! | `switchboard_outbox_jobs` | gauge | `state` (`ready`, `dead`, `failed`) |
//! | `switchboard_live_streams` (open SSE streams, API and console) | gauge | |
//! | `switchboard_event_log_pending`, `_failed` | gauge | |
//! | `switchboard_webhooks_total`, `switchboard_ingest_*_total`, `switchboard_sends_total`, … | counter | |

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_store::{OutboxDepth, StoreError};

use super::health::{Backlog, Counted, Recent};
use crate::AppState;

routes! {
    "/metrics" => { get: render },
}

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS) {
            Ok(b) => b,
            // Only for empty buckets, which these are not.
            Err(e) => unreachable!("histogram buckets: {e}"),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only this one's");
        }
        handle
    })
}

/// Prometheus metrics: webhook, ingest, sending and click counters, event log gauges.
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, description = "The Prometheus text exposition format (version 0.0.4)",
               content_type = "text/plain; version=0.0.4", body = String)))]
async fn render(state: web::Data<AppState>, backlog: web::Data<Backlog>) -> HttpResponse {
    let handle = handle();
    match backlog.get(state.store.as_ref()).await {
        Ok(s) => {
            metrics::gauge!("switchboard_event_log_pending").set(s.pending as f64);
            metrics::gauge!("switchboard_event_log_failed").set(s.failed as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: event log stats unavailable"),
    }
    match OUTBOX.get(state.store.as_ref()).await {
        Ok(d) => {
            metrics::gauge!("switchboard_outbox_jobs", "state" => "ready").set(d.ready as f64);
            metrics::gauge!("switchboard_outbox_jobs", "state" => "dead").set(d.dead as f64);
            metrics::gauge!("switchboard_outbox_jobs", "state" => "failed").set(d.failed as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: outbox depth unavailable"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}

/// Histogram buckets, in seconds: from half a millisecond (an acknowledgement) to a minute
/// (a send waiting out Meta's rate limits).
pub const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The outbox's depth, counted at most once a second.
static OUTBOX: Recent<OutboxDepth> = Recent::new();

impl Counted for OutboxDepth {
    async fn count(store: &dyn switchboard_store::Store) -> Result<Self, StoreError> {
        store.outbox_depth().await
    }
}

/// Middleware: `switchboard_http_request_duration_seconds` by method, route pattern and
/// status, until the response's head (an event stream counts until it opens).
pub async fn time_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics::histogram!(
        "switchboard_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => status.to_string(),
    )
    .record(start.elapsed().as_secs_f64());
    res
}
