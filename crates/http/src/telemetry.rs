//! The root span of each request. It records the matched route pattern, never the raw
//! path or query string: the handshake's query carries the verify token, and paths may
//! carry personal data.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

pub struct RouteSpan;

impl RootSpanBuilder for RouteSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "unmatched".into());
        let request_id = request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default();
        tracing::info_span!("request", method = %request.method(), route = %route, request_id = %request_id, status = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(res) => (res.response().status().as_u16(), res.response().error()),
            Err(e) => (e.as_response_error().status_code().as_u16(), Some(e)),
        };
        span.record("status", status);
        let _enter = span.enter();
        // Client errors are anyone's to cause (and their messages may echo the input):
        // debug only. Internal errors are logged with their causes where they happen.
        match error {
            Some(e) if status >= 500 => tracing::warn!(status, error = %e, "request failed"),
            _ if status >= 500 => tracing::warn!(status, "request failed"),
            Some(e) => tracing::debug!(status, error = %e, "request done"),
            None => tracing::debug!(status, "request done"),
        }
    }
}
