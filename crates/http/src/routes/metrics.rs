//! `GET /metrics`: Prometheus text format. Counters are recorded where things happen
//! (webhooks here, ingest and sending in switchboard-core); the event log's gauges are
//! its backlog, counted at scrape time at most once a second (shared with `/readyz`).

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::health::Backlog;
use crate::AppState;

routes! {
    "/metrics" => { get: render },
}

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
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
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}
