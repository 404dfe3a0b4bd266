//! Meta's webhook callbacks: the verification handshake and signed deliveries.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use switchboard_cloudapi::signature::{Signature, SignatureError, verify_subscription};
use switchboard_core::IntakeError;
use switchboard_store::Appended;
use tokio::sync::{Semaphore, SemaphorePermit};

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

/// How webhook bodies are read: at most `limit` bytes each, within `timeout` of the
/// request head, and, beyond the first [`FREE`] bytes of each, at most `buffer` bytes of
/// all bodies held at once (a body that would pass it waits for room, within its
/// timeout). Deliveries without a well-formed signature header are refused before any of
/// the body is read.
pub struct WebhookBodies {
    limit: usize,
    timeout: Duration,
    buffer: Semaphore,
}

impl WebhookBodies {
    /// `buffer` must be at least `limit`, or a body of `limit` bytes could never be read.
    #[must_use]
    pub fn new(limit: usize, timeout: Duration, buffer: usize) -> Self {
        Self { limit, timeout, buffer: Semaphore::new(buffer.max(limit).min(Semaphore::MAX_PERMITS)) }
    }

    /// Reads the whole body. The permit holds its bytes' share of the buffer until the
    /// caller is done with the body.
    async fn read(
        &self,
        req: &HttpRequest,
        payload: &mut web::Payload,
    ) -> Result<(Bytes, SemaphorePermit<'_>), ApiError> {
        let too_large = || ApiError::PayloadTooLarge { limit: self.limit };
        if content_length(req).is_some_and(|n| n > self.limit) {
            return Err(too_large());
        }
        let read = async {
            // The chunks as they came (no copy, no growing buffer); joined at the end.
            let mut chunks: Vec<Bytes> = Vec::new();
            let mut len = 0;
            // (The semaphore is never closed: these cannot fail.)
            let mut held = self.buffer.acquire_many(0).await.map_err(|_| ApiError::RequestTimeout)?;
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })?;
                if len + chunk.len() > self.limit {
                    return Err(too_large());
                }
                // The first FREE bytes of every body take no room from the shared buffer,
                // so typical deliveries never wait behind large or stalled ones.
                let over = u32::try_from((len + chunk.len()).saturating_sub(FREE.max(len))).map_err(|_| too_large())?;
                if over > 0 {
                    held.merge(self.buffer.acquire_many(over).await.map_err(|_| ApiError::RequestTimeout)?);
                }
                len += chunk.len();
                chunks.push(chunk);
            }
            let body = match chunks.len() {
                1 => chunks.swap_remove(0),
                _ => {
                    let mut body = BytesMut::with_capacity(len);
                    chunks.iter().for_each(|c| body.extend_from_slice(c));
                    body.freeze()
                }
            };
            Ok((body, held))
        };
        tokio::time::timeout(self.timeout, read).await.map_err(|_| {
            metrics::counter!("switchboard_webhooks_total", "outcome" => "timeout").increment(1);
            ApiError::RequestTimeout
        })?
    }
}

/// The bytes of each body read without taking room from the shared buffer: Meta's
/// deliveries are a few KiB, larger ones are rare.
const FREE: usize = 64 * 1024;

fn content_length(req: &HttpRequest) -> Option<usize> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// `POST`: check that a signature is there, read the body (bounded in size and time),
/// verify the signature over the raw bytes, make the delivery durable, then 200.
#[utoipa::path(post, path = "/webhooks/whatsapp",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the HMAC-SHA256 of the raw body with the app secret")),
    request_body(content = Object, description = "Meta's webhook notification (`object`, `entry[]`)"),
    responses((status = 200, description = "Stored durably (or a redelivery already stored)"),
              (status = 400, description = "Signed, but not JSON", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "Missing or wrong signature; nothing stored (a missing or malformed header is refused before the body is read)", body = Problem, content_type = "application/problem+json"),
              (status = 408, description = "The body did not arrive within `http.webhook_body_timeout_secs`; the connection is closed", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "Over the body limit (3 MiB by default)", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No app secret configured, or the store is unavailable: Meta retries", body = Problem, content_type = "application/problem+json")))]
async fn receive(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
    bodies: web::Data<WebhookBodies>,
) -> HttpResponse {
    let start = std::time::Instant::now();
    let res = accept(&req, &mut payload, &state, &bodies).await;
    let status = res.as_ref().map_or_else(actix_web::ResponseError::status_code, HttpResponse::status);
    metrics::histogram!("switchboard_webhook_ack_seconds", "status" => status.as_str().to_owned())
        .record(start.elapsed().as_secs_f64());
    match res {
        Ok(res) => res,
        Err(e) => {
            // Until the answer is sent, the payload stays alive: a body left unread then
            // closes the connection. Dropped earlier, actix would read a chunked body to
            // its end first, however slowly it came.
            use actix_web::ResponseError;
            e.error_response().map_body(|_, body| Unread { body, _payload: payload }).map_into_boxed_body()
        }
    }
}

/// An answer's body that keeps the request's payload until it has been sent.
struct Unread {
    body: BoxBody,
    _payload: web::Payload,
}

impl MessageBody for Unread {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

async fn accept(
    req: &HttpRequest,
    payload: &mut web::Payload,
    state: &AppState,
    bodies: &WebhookBodies,
) -> Result<HttpResponse, ApiError> {
    let secrets = state.channel_directory.app_secrets();
    if secrets.is_empty() {
        // Not 200: Meta keeps retrying for 7 days, so nothing is lost while we are set up.
        return Err(ApiError::Unavailable {
            code: "webhooks_not_configured",
            detail: "webhooks are not accepted: no app secret is configured (SWITCHBOARD_APP_SECRET)".into(),
        });
    }
    let signature = Signature::parse(req.headers().get("x-hub-signature-256").map(|v| v.as_bytes()))
        .map_err(|e| invalid_signature(e, content_length(req)))?;
    let (body, _buffered) = bodies.read(req, payload).await?;
    // Each secret is checked in constant time; which one matched is not revealed.
    let mut verified = Err(SignatureError::Mismatch);
    for secret in secrets.iter() {
        if verified.is_err() {
            verified = signature.verify(secret.expose_secret().as_bytes(), &body);
        }
    }
    verified.map_err(|e| invalid_signature(e, Some(body.len())))?;
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

static WARNED: crate::error::LastWarning = crate::error::LastWarning::new();

/// Anyone can send these: one a minute is logged at WARN (a wrong app secret shows), the
/// rest at debug; `switchboard_webhooks_total{outcome="invalid_signature"}` counts them all.
fn invalid_signature(e: SignatureError, bytes: Option<usize>) -> ApiError {
    if WARNED.due() {
        tracing::warn!(reason = %e, bytes, "webhook rejected: bad signature (more in the next minute are logged at debug)");
    } else {
        tracing::debug!(reason = %e, bytes, "webhook rejected: bad signature");
    }
    metrics::counter!("switchboard_webhooks_total", "outcome" => "invalid_signature").increment(1);
    ApiError::InvalidSignature(match e {
        SignatureError::Missing => "the X-Hub-Signature-256 header is missing",
        SignatureError::Malformed => "the X-Hub-Signature-256 header is malformed",
        SignatureError::Mismatch => "the X-Hub-Signature-256 signature does not match",
    })
}
