//! The HTTP surface: Meta's webhooks, the agent and admin API, health.
//!
//! Each resource module owns its `configure`; [`Application`] binds the listener first
//! (so tests can use port 0 and never sleep for readiness) and wires the modules.
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
mod json;
pub mod openapi;
mod routes;
mod telemetry;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpResponse, HttpServer, web};
use secrecy::SecretString;
use switchboard_cloudapi::GraphClient;
use switchboard_core::{Intake, LiveHub, SendHealth};
use switchboard_store::Store;
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{hash_token, new_token};
pub use error::{ApiError, FieldError};
pub use routes::links::LinkOptions;

/// What every handler may use.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub intake: Intake,
    /// Meta app secret: without it, webhook deliveries are refused (503, Meta retries).
    pub app_secret: Option<SecretString>,
    /// Token for the GET handshake: without it, the handshake is refused.
    pub verify_token: Option<SecretString>,
    /// Wakes the sender when a message is queued.
    pub outbox: Arc<Notify>,
    /// Channels whose sending is paused, and why.
    pub send_health: Arc<SendHealth>,
    /// Set when messages go to the sandbox instead of Meta.
    pub sandbox: bool,
    /// The Graph API client for mark-read and media downloads; `None` in sandbox mode.
    pub graph: Option<GraphClient>,
    /// Where fetched media files are cached (`media.dir`); created when first needed.
    pub media_dir: PathBuf,
    /// Click-to-chat links: the public base URL and the reference format.
    pub links: LinkOptions,
    /// Live updates (`GET /api/v1/events`).
    pub live: LiveHub,
    /// Wakes the assigner: an agent came online or freed capacity, a policy changed.
    pub assigner: Arc<Notify>,
}

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    pub webhook_body_limit: usize,
    pub api_body_limit: usize,
    pub shutdown_timeout: Duration,
}

pub struct Application {
    server: Server,
    addr: SocketAddr,
}

impl Application {
    /// Binds the listener and builds the server; nothing runs until it is awaited.
    pub fn build(opts: &HttpOptions, state: AppState) -> std::io::Result<Self> {
        routes::metrics::handle();
        let listener = TcpListener::bind(opts.listen)?;
        let addr = listener.local_addr()?;
        let data = web::Data::new(state);
        let webhook_limit = opts.webhook_body_limit;
        let api_limit = opts.api_body_limit;
        let mut server = HttpServer::new(move || {
            let mut api =
                web::scope(openapi::API_PREFIX)
                    .wrap(actix_web::middleware::from_fn(json::whole_numbers))
                    .app_data(web::PayloadConfig::new(api_limit))
                    .app_data(web::JsonConfig::default().limit(api_limit).error_handler(|e, _| {
                        ApiError::BadRequest { code: "invalid_body", detail: e.to_string() }.into()
                    }))
                    .app_data(web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::BadRequest { code: "invalid_query", detail: e.to_string() }.into()
                    }))
                    .app_data(
                        web::PathConfig::default().error_handler(|_, _| ApiError::NotFound { what: "resource" }.into()),
                    );
            for m in openapi::API {
                api = api.configure(m.configure);
            }
            let mut app = App::new()
                .wrap(TracingLogger::<telemetry::RouteSpan>::new())
                .app_data(data.clone())
                // The webhook body limit (Meta's maximum); the API scope sets its own.
                .app_data(web::PayloadConfig::new(webhook_limit));
            for m in openapi::ROOT {
                app = app.configure(m.configure);
            }
            // Before the API scope, which would otherwise take these paths.
            let docs = format!("{}{{_:.*}}", openapi::DOCS_PATH);
            app.service(SwaggerUi::new(docs.clone()).url(openapi::OPENAPI_PATH, openapi::openapi().clone()))
                // The documentation answers GET only; other methods get 405, not the API's 404.
                .service(web::resource(vec![openapi::OPENAPI_PATH.to_owned(), docs]).to(get_only))
                .service(api)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .shutdown_timeout(opts.shutdown_timeout.as_secs())
        .disable_signals();
        if opts.workers > 0 {
            server = server.workers(opts.workers);
        }
        Ok(Self { server: server.run(), addr })
    }

    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: `handle().stop(true)` finishes in-flight requests first.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn get_only() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, "GET"))
        .content_type("application/problem+json")
        .body(
            serde_json::json!({
                "type": "about:blank",
                "title": "Method Not Allowed",
                "status": 405,
                "code": "method_not_allowed",
                "detail": "only GET is served here",
            })
            .to_string(),
        )
}

async fn not_found() -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::NotFound { what: "route" }.error_response()
}
