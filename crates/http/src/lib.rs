//! The HTTP surface: Meta's webhooks, the agent and admin API, health, the web console.
//!
//! Each resource module owns its `configure`; [`Application`] binds the listener first
//! (so tests can use port 0 and never sleep for readiness) and wires the modules.
#![forbid(unsafe_code)]

pub mod auth;
mod console;
pub use console::{ADMIN_ROUTES as CONSOLE_ADMIN_ROUTES, ROUTES_WITH_IDS as CONSOLE_ROUTES_WITH_IDS};
pub mod error;
mod extract;
mod guard;
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
use switchboard_core::{ClickCounter, Inbox, Intake, LiveHub, SendHealth, Wake};
use switchboard_store::Store;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{hash_token, new_token};
pub use error::{ApiError, FieldError};
pub use routes::links::LinkOptions;

/// What every handler may use.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub intake: Intake,
    /// The channels' credentials and settings in memory: the app secrets webhook
    /// signatures are checked against (the configured one and the channels' own; with
    /// none, webhook deliveries are refused: 503, Meta retries), and the Graph API client
    /// of each channel (its own access token, else the configured one; none in sandbox
    /// mode) that marks read, downloads media and uploads agents' files.
    pub channel_directory: Arc<switchboard_core::ChannelDirectory>,
    /// Token for the GET handshake: without it, the handshake is refused.
    pub verify_token: Option<SecretString>,
    /// Wakes the workers: the sender when a message is queued, the assigner when an agent
    /// came online or freed capacity, or a policy changed.
    pub wake: Wake,
    /// Channels whose sending is paused, and why.
    pub send_health: Arc<SendHealth>,
    /// Set when messages go to the sandbox instead of Meta.
    pub sandbox: bool,
    /// Where fetched media files are cached (`media.dir`); created when first needed.
    pub media_dir: PathBuf,
    /// Click-to-chat links: the public base URL and the reference format.
    pub links: LinkOptions,
    /// Counts short-link clicks in memory; written in batches.
    pub clicks: ClickCounter,
    /// Live updates (`GET /api/v1/events`).
    pub live: LiveHub,
    /// Sign-in: session lifetimes, the rate limit, the key TOTP secrets are sealed with.
    pub auth: switchboard_core::AuthConfig,
    /// Outgoing webhooks: which private addresses endpoints may have, secret rotation.
    pub webhooks: Arc<switchboard_core::WebhookOptions>,
    /// How the console's cookies are set, and whether a proxy is trusted.
    pub cookies: auth::CookieOptions,
}

impl AppState {
    /// The inbox's use cases (reply, assign, label, notes...) over this state's store.
    pub(crate) fn inbox(&self) -> Inbox<'_> {
        Inbox::new(self.store.as_ref(), &self.wake)
    }

    /// The audit log: recording and listing entries.
    pub(crate) fn audit(&self) -> switchboard_core::Audit<'_> {
        switchboard_core::Audit::new(self.store.as_ref())
    }

    /// Admins' use cases on channels.
    pub(crate) fn channels(&self) -> switchboard_core::Channels<'_> {
        switchboard_core::Channels::new(self.store.as_ref(), &self.auth.key, &self.channel_directory)
    }

    /// Admins' use cases on outgoing webhook endpoints.
    pub(crate) fn webhooks(&self) -> switchboard_core::Webhooks<'_> {
        switchboard_core::Webhooks::new(self.store.as_ref(), &self.auth.key, &self.webhooks)
    }

    /// Sign-in's use cases (sessions, invitations, TOTP) over this state's store.
    pub(crate) fn auth(&self) -> switchboard_core::Auth<'_> {
        switchboard_core::Auth::new(self.store.as_ref(), &self.auth)
    }

    /// The admins' configuration use cases (auto-replies, agents, tokens) over this state's store.
    pub(crate) fn config(&self) -> switchboard_core::admin::Config<'_> {
        switchboard_core::admin::Config::new(self.store.as_ref(), &self.wake)
    }
}

#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
    pub webhook_body_limit: usize,
    /// How long a webhook body may take to arrive, from its request head.
    pub webhook_body_timeout: Duration,
    /// Most bytes of webhook bodies held at once, across all connections.
    pub webhook_buffer_limit: usize,
    /// Most connections open at once (all workers together); past it, new ones wait in
    /// the listen backlog.
    pub max_connections: usize,
    pub api_body_limit: usize,
    pub shutdown_timeout: Duration,
    /// Serve `/metrics` on this address only (not on `listen`); `None`: on `listen`.
    pub metrics_listen: Option<SocketAddr>,
}

pub struct Application {
    server: Server,
    addr: SocketAddr,
    /// `/metrics` on its own listener, when configured.
    metrics: Option<(Server, SocketAddr)>,
}

/// Stops the servers: `stop(true)` finishes in-flight requests first.
#[derive(Clone)]
pub struct Handle {
    server: ServerHandle,
    metrics: Option<ServerHandle>,
}

impl Handle {
    pub async fn stop(&self, graceful: bool) {
        if let Some(m) = &self.metrics {
            m.stop(graceful).await;
        }
        self.server.stop(graceful).await;
    }
}

impl Application {
    /// Binds the listener and builds the server; nothing runs until it is awaited.
    pub fn build(opts: &HttpOptions, state: AppState) -> std::io::Result<Self> {
        routes::metrics::handle();
        let listener = TcpListener::bind(opts.listen)?;
        let addr = listener.local_addr()?;
        let data = web::Data::new(state);
        let webhook_bodies = web::Data::new(routes::webhooks::WebhookBodies::new(
            opts.webhook_body_limit,
            opts.webhook_body_timeout,
            opts.webhook_buffer_limit,
        ));
        let backlog = web::Data::new(routes::health::Backlog::default());
        let metrics = match opts.metrics_listen {
            Some(listen) => Some(Self::metrics_server(listen, &data, &backlog, opts.shutdown_timeout)?),
            None => None,
        };
        let separate_metrics = metrics.is_some();
        let api_limit = opts.api_body_limit;
        let mut server = HttpServer::new(move || {
            let mut api =
                web::scope(openapi::API_PREFIX)
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
                .wrap(actix_web::middleware::from_fn(routes::metrics::time_requests))
                .wrap(TracingLogger::<telemetry::RouteSpan>::new())
                .app_data(data.clone())
                .app_data(webhook_bodies.clone())
                .app_data(backlog.clone());
            for m in openapi::ROOT {
                if !(separate_metrics && m.routes == routes::metrics::ROUTES) {
                    app = app.configure(m.configure);
                }
            }
            // Before the API scope, which would otherwise take these paths.
            let docs = format!("{}{{_:.*}}", openapi::DOCS_PATH);
            app.service(SwaggerUi::new(docs.clone()).url(openapi::OPENAPI_PATH, openapi::openapi().clone()))
                // The documentation answers GET only; other methods get 405, not the API's 404.
                .service(web::resource(vec![openapi::OPENAPI_PATH.to_owned(), docs]).to(get_only))
                .service(api)
                // Last: it takes every path not taken before it.
                .service(console::scope())
                // What the API's scope answers for a path it does not have.
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .shutdown_timeout(opts.shutdown_timeout.as_secs())
        .disable_signals();
        let workers = match opts.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        // actix counts connections per worker.
        server = server.workers(workers).max_connections(opts.max_connections.div_ceil(workers));
        Ok(Self { server: server.run(), addr, metrics })
    }

    /// `/metrics` alone, on one worker.
    fn metrics_server(
        listen: SocketAddr,
        data: &web::Data<AppState>,
        backlog: &web::Data<routes::health::Backlog>,
        shutdown_timeout: Duration,
    ) -> std::io::Result<(Server, SocketAddr)> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let (data, backlog) = (data.clone(), backlog.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(backlog.clone())
                .configure(routes::metrics::configure)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .workers(1)
        .shutdown_timeout(shutdown_timeout.as_secs())
        .disable_signals()
        .run();
        Ok((server, addr))
    }

    #[must_use]
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served when it has its own listener.
    #[must_use]
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    #[must_use]
    pub fn handle(&self) -> Handle {
        Handle { server: self.server.handle(), metrics: self.metrics.as_ref().map(|(s, _)| s.handle()) }
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        match self.metrics {
            Some((metrics, _)) => futures_util::future::try_join(self.server, metrics).await.map(|_| ()),
            None => self.server.await,
        }
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
