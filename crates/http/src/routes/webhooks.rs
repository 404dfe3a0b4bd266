//! Meta's webhook callbacks: the verification handshake and signed deliveries.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use secrecy::ExposeSecret;
use switchboard_cloudapi::signature::{SignatureError, verify_signature, verify_subscription};
use switchboard_core::IntakeError;
use switchboard_store::Appended;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::Problem;

routes! {
    "/webhooks/whatsapp" => { get: handshake, post: receive },
}

/// `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: 200 with the challenge
/// as plain text when the token matches, 403 otherwise.
#[utoipa::path(get, path = "/webhooks/whatsapp",
    params(("hub.mode" = String, Query, description = "`subscribe`"),
           ("hub.verify_token" = String, Query, description = "The configured verify token"),
           ("hub.challenge" = String, Query, description = "Echoed back")),
    responses((status = 200, description = "The challenge", content_type = "text/plain", body = String),
              (status = 403, description = "Wrong mode or token, or no verify token configured")))]
async fn handshake(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let forbidden = || HttpResponse::Forbidden().content_type(ContentType::plaintext()).body("verification failed");
    let Some(expected) = &state.verify_token else {
        tracing::warn!("webhook verification refused: no verify token is configured (SWITCHBOARD_VERIFY_TOKEN)");
        return forbidden();
    };
    let Ok(params) = web::Query::<Vec<(String, String)>>::from_query(req.query_string()) else {
        return forbidden();
    };
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    match verify_subscription(
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
        expected.expose_secret().as_bytes(),
    ) {
        Some(challenge) => {
            tracing::info!("webhook subscription verified");
            HttpResponse::Ok()
                .content_type(ContentType::plaintext())
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .body(challenge.to_owned())
        }
        None => {
            tracing::warn!("webhook verification refused: wrong mode or token");
            forbidden()
        }
    }
}

/// `POST`: verify the signature over the raw bytes, make the delivery durable, then 200.
#[utoipa::path(post, path = "/webhooks/whatsapp",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the HMAC-SHA256 of the raw body with the app secret")),
    request_body(content = Object, description = "Meta's webhook notification (`object`, `entry[]`)"),
    responses((status = 200, description = "Stored durably (or a redelivery already stored)"),
              (status = 400, description = "Signed, but not JSON", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Missing or wrong signature; nothing stored", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "Over the body limit (3 MiB by default)"),
              (status = 503, description = "No app secret configured, or the store is unavailable: Meta retries", body = Problem, content_type = "application/problem+json")))]
async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(secret) = &state.app_secret else {
        // Not 200: Meta keeps retrying for 7 days, so nothing is lost while we are set up.
        return Err(ApiError::Unavailable {
            code: "webhooks_not_configured",
            detail: "webhooks are not accepted: no app secret is configured (SWITCHBOARD_APP_SECRET)".into(),
        });
    };
    let header = req.headers().get("x-hub-signature-256").map(|v| v.as_bytes());
    if let Err(e) = verify_signature(secret.expose_secret().as_bytes(), header, &body) {
        tracing::warn!(reason = %e, bytes = body.len(), "webhook rejected: bad signature");
        metrics::counter!("switchboard_webhooks_total", "outcome" => "invalid_signature").increment(1);
        return Err(ApiError::InvalidSignature(match e {
            SignatureError::Missing => "the X-Hub-Signature-256 header is missing",
            SignatureError::Malformed => "the X-Hub-Signature-256 header is malformed",
            SignatureError::Mismatch => "the X-Hub-Signature-256 signature does not match",
        }));
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        metrics::counter!("switchboard_webhooks_total", "outcome" => "invalid_json").increment(1);
        return Err(ApiError::BadRequest { code: "invalid_json", detail: "the body is not JSON".into() });
    }
    match state.intake.append(body, Utc::now()).await {
        Ok(appended) => {
            let outcome = if matches!(appended, Appended::New(_)) { "accepted" } else { "duplicate" };
            metrics::counter!("switchboard_webhooks_total", "outcome" => outcome).increment(1);
            Ok(HttpResponse::Ok().finish())
        }
        Err(e) => {
            metrics::counter!("switchboard_webhooks_total", "outcome" => "unavailable").increment(1);
            Err(match e {
                IntakeError::Busy => ApiError::Unavailable { code: "busy", detail: "the server is busy; retry".into() },
                IntakeError::Store(_) => ApiError::Unavailable {
                    code: "database_unavailable",
                    detail: "the delivery could not be stored; retry".into(),
                },
            })
        }
    }
}
