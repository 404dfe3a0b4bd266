//! `/healthz` (the process answers) and `/readyz` (the database answers, the schema is
//! current; plus what this instance can and cannot do).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::AppState;

// Until this module is described: the routes! table replaces these three.
pub const ROUTES: &[(&str, &str)] = &[];
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz)).route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let caps = json!({
        "webhooks": state.app_secret.is_some(),
        "verification": state.verify_token.is_some(),
    });
    let backend = state.store.backend();
    let paused: Vec<_> = state
        .send_health
        .paused(chrono::Utc::now())
        .into_iter()
        .map(|(id, p)| json!({"phone_number_id": id.as_str(), "reason": p.reason, "code": p.code, "until": p.until}))
        .collect();
    let sending = json!({"sandbox": state.sandbox, "paused": paused});
    match state.store.readiness().await {
        Ok(r) if r.pending_migrations.is_empty() => {
            let log = state.store.event_log_stats().await.ok();
            HttpResponse::Ok().json(json!({
                "status": "ready",
                "database": backend,
                "capabilities": caps,
                "sending": sending,
                "event_log": log.map(|s| json!({"pending": s.pending, "failed": s.failed})),
            }))
        }
        Ok(r) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready",
            "database": backend,
            "reason": "migrations not applied; run `switchboard migrate`",
            "pending_migrations": r.pending_migrations,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "database": backend,
                "reason": "database unreachable",
            }))
        }
    }
}
