/// A module's route table: registers its resources in the order written (a literal path
/// before a `{param}` one that would take it), lists them as `ROUTES`, and describes
/// them in `openapi()`, which needs a `#[utoipa::path]` on every handler named here (a
/// handler without one does not compile; a handler may be named by its path in a
/// submodule). The path each annotation declares is checked
/// against the table by `crate::openapi`'s tests.
macro_rules! routes {
    ($($path:literal => { $($method:ident: $($handler:ident)::+),+ $(,)? }),+ $(,)?) => {
        pub fn configure(cfg: &mut ::actix_web::web::ServiceConfig) {
            $(cfg.service(::actix_web::web::resource($path)$(.route(::actix_web::web::$method().to($($handler)::+)))+);)+
        }

        /// `(method, path)` of every route this module registers, relative to where it is mounted.
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),+];

        /// The OpenAPI description of this module's routes.
        pub fn openapi() -> ::utoipa::openapi::OpenApi {
            #[derive(::utoipa::OpenApi)]
            #[openapi(paths($($($($handler)::+),+),+))]
            struct Doc;
            crate::openapi::qualify(<Doc as ::utoipa::OpenApi>::openapi(), module_path!())
        }
    };
}

pub mod agents;
pub mod assignment;
pub mod attachments;
pub mod audit;
pub mod autoreply;
pub mod channels;
pub mod consent;
pub mod contacts;
pub mod conversations;
pub mod csat;
pub mod events;
pub mod health;
pub mod kpis;
pub mod labels;
pub mod links;
pub mod media;
pub mod metrics;
pub mod notes;
pub mod outbox;
pub mod outgoing_webhooks;
pub mod privacy;
pub mod queue;
pub mod read;
pub mod replies;
pub mod reports;
pub mod sessions;
pub mod short_links;
pub mod sla;
pub mod teams;
pub mod webhooks;
