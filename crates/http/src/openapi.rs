//! The route modules, once: the application registers them from here and
//! `GET /api/v1/openapi.json` describes them from here, so a route cannot be served
//! without being described (its handler needs a `#[utoipa::path]` to compile) and the
//! tests below check that each description names the method and path it is served at.
//!
//! What every API operation shares is added here rather than on each handler: the bearer
//! token, and the `application/problem+json` answers for a missing token (401), a body
//! or query that cannot be read (400), invalid fields (422) and, on paths with an id, an
//! unknown resource (404).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::web::ServiceConfig;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ErasureId, EventId, LabelId, LinkId, MessageId, NoteId,
    QuickReplyId, RuleId, TeamId, TokenId,
};

use crate::error::FieldError;
use crate::routes;

/// Where the agent and admin API is mounted.
pub const API_PREFIX: &str = "/api/v1";
/// Where the description is served (public, like the documentation UI).
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// The interactive documentation (Swagger UI, served from the binary, no CDN).
pub const DOCS_PATH: &str = "/api/v1/docs/";

/// One route module: how it registers its routes, what it registers, and its description.
pub struct Module {
    pub configure: fn(&mut ServiceConfig),
    pub routes: &'static [(&'static str, &'static str)],
    pub openapi: fn() -> OpenApi,
}

macro_rules! module {
    ($m:ident) => {
        Module { configure: routes::$m::configure, routes: routes::$m::ROUTES, openapi: routes::$m::openapi }
    };
}

macro_rules! id_schemas {
    ($($id:ty),+ $(,)?) => {
        [$((<$id as ToSchema>::name().into_owned(), <$id as PartialSchema>::schema())),+]
    };
}
/// Mounted at the root: probes, metrics, Meta's webhooks, short links.
pub const ROOT: &[Module] = &[module!(health), module!(metrics), module!(webhooks), module!(short_links)];

/// Mounted under [`API_PREFIX`], in registration order.
pub const API: &[Module] = &[
    module!(channels),
    module!(conversations),
    module!(notes),
    module!(contacts),
    module!(read),
    module!(media),
    module!(outbox),
    module!(autoreply),
    module!(csat),
    module!(consent),
    module!(sla),
    module!(labels),
    module!(links),
    module!(agents),
    module!(sessions),
    module!(teams),
    module!(queue),
    module!(kpis),
    module!(reports),
    module!(assignment),
    module!(events),
    module!(outgoing_webhooks),
    module!(audit),
    module!(privacy),
];

/// An error answer (RFC 9457), as every API error is rendered.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes what `ApiError` renders; never built.
pub struct Problem {
    /// Always `about:blank`.
    #[schema(rename = "type")]
    kind: String,
    /// The HTTP reason phrase.
    title: String,
    status: u16,
    /// Stable and machine-readable: `unauthorized`, `forbidden`, `not_found`,
    /// `validation_failed`, `invalid_body`, `invalid_query`, `conflict`, …
    code: String,
    /// A plain explanation for people.
    detail: String,
    /// For `validation_failed`: each invalid field, by its path in the request.
    errors: Option<Vec<FieldError>>,
}

/// The description of every route, built once.
pub fn openapi() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let info = InfoBuilder::new()
        .title("Switchboard")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "A self-hosted WhatsApp support inbox: Meta's webhooks, and the agent and admin API. \
             API calls carry `Authorization: Bearer <token>` (`switchboard agent create` prints one); \
             errors are `application/problem+json` with a stable `code`.",
        ))
        .build();
    let mut doc = OpenApiBuilder::new().info(info).build();
    for m in ROOT {
        doc.merge((m.openapi)());
    }
    let mut api = OpenApi::default();
    for m in API {
        api.merge((m.openapi)());
    }
    for (path, item) in &mut api.paths.paths {
        let has_id = path.contains('{');
        for op in operations(item) {
            op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            let takes_input = op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            problem(op, "401", "No valid API token.");
            if takes_input {
                problem(op, "400", "The body or query could not be read.");
                problem(op, "422", "Invalid fields, each named in `errors`.");
            }
            if has_id {
                problem(op, "404", "No such resource, or one this agent may not see.");
            }
        }
    }
    let mut doc = doc.nest(API_PREFIX, api);
    doc.webhooks = Some(routes::outgoing_webhooks::described_deliveries());
    doc.paths.paths.insert(
        OPENAPI_PATH.to_owned(),
        described_get("openapi", "This description (OpenAPI 3.1, JSON; no token needed)."),
    );
    doc.paths.paths.insert(
        DOCS_PATH.to_owned(),
        described_get("docs", "Interactive documentation of this API (Swagger UI, HTML; no token needed)."),
    );
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            problems_as_problem_json(op);
        }
    }
    let components = doc.components.get_or_insert_default();
    let all = components.schemas.clone();
    for name in CLOSED {
        if let Some(RefOr::T(schema)) = components.schemas.get_mut(*name) {
            close(schema, &all);
        }
    }
    components.schemas.insert(Problem::name().into_owned(), Problem::schema());
    // Path parameters refer to the ids by name; bodies bring their own schemas.
    components.schemas.extend(id_schemas![
        AgentId,
        ChannelId,
        ContactId,
        ConversationId,
        ErasureId,
        EventId,
        LabelId,
        LinkId,
        MessageId,
        NoteId,
        QuickReplyId,
        RuleId,
        TeamId,
        TokenId,
    ]);
    components.security_schemes.insert(
        "bearer".into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An agent's API token")).build(),
        )),
    );
    doc
}

/// Request schemas whose types refuse unknown fields where utoipa cannot say so: enums
/// tagged by `type` with `deny_unknown_fields`, and a PATCH body read by hand.
const CLOSED: &[&str] = &[
    "AwaySchedule",
    "Matcher",
    "Recipients",
    "RuleAction",
    "Reply",
    "AutoReplySettingsPatch",
    "ChannelRetentionInput",
];

/// Sets `additionalProperties: false` on an object schema, or on each variant of a `oneOf`.
/// A variant composed with `allOf` (a shared struct and its tag) is first merged into one
/// object: `additionalProperties` does not see the properties of a sibling schema.
fn close(schema: &mut Schema, all: &BTreeMap<String, RefOr<Schema>>) {
    match schema {
        Schema::Object(o) if !o.properties.is_empty() => {
            o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
        Schema::OneOf(one) => {
            for item in &mut one.items {
                if let RefOr::T(item) = item {
                    close(item, all);
                }
            }
        }
        Schema::AllOf(parts) => {
            let mut merged = ObjectBuilder::new().schema_type(Type::Object).build();
            for part in &parts.items {
                let part = match part {
                    RefOr::T(s) => Some(s),
                    RefOr::Ref(r) => match all.get(r.ref_location.trim_start_matches("#/components/schemas/")) {
                        Some(RefOr::T(s)) => Some(s),
                        _ => None,
                    },
                };
                let Some(Schema::Object(o)) = part else { return };
                merged.properties.extend(o.properties.clone());
                merged.required.extend(o.required.iter().cloned());
                merged.description = merged.description.or_else(|| o.description.clone());
            }
            merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            *schema = Schema::Object(merged);
        }
        _ => {}
    }
}

fn described_get(id: &str, summary: &str) -> PathItem {
    let op = OperationBuilder::new()
        .operation_id(Some(id))
        .tag("documentation")
        .summary(Some(summary))
        .response("200", ResponseBuilder::new().description("OK"))
        .build();
    PathItem::new(HttpMethod::Get, op)
}

/// The operations of a path item, whatever their methods.
pub fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Adds a problem answer with this status unless the handler describes its own.
fn problem(op: &mut Operation, status: &str, description: &str) {
    op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(RefOr::<Schema>::Ref(Ref::from_schema_name(Problem::name())))),
            )
            .into()
    });
}

/// What a module's description needs from where it is declared (`routes!` calls this):
/// operation ids unique across modules (`labels_update`), the module's name as the tag
/// of every operation, and a description on every answer (the reason phrase
/// when the handler gives none).
pub fn qualify(mut doc: OpenApi, module_path: &str) -> OpenApi {
    let module = module_path.rsplit("::").next().unwrap_or(module_path);
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            if let Some(id) = &mut op.operation_id {
                *id = format!("{module}_{id}");
            }
            // Replaces the tag utoipa derives for a handler named by its path in a submodule
            // (`settings::get_config`): the route table's module is the tag.
            op.tags = Some(vec![module.replace('_', " ")]);
            for (status, response) in &mut op.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let reason = status.parse::<u16>().ok().and_then(|s| StatusCode::from_u16(s).ok());
                    response.description = reason.and_then(|s| s.canonical_reason()).unwrap_or("Answer").to_owned();
                }
            }
        }
    }
    doc
}

/// Handlers write `body = Problem` for their own error answers; these are served as
/// `application/problem+json`, not `application/json`.
fn problems_as_problem_json(op: &mut Operation) {
    for response in op.responses.responses.values_mut() {
        let RefOr::T(response) = response else { continue };
        let is_problem = response.content.get("application/json").is_some_and(|c| {
            matches!(c, RefOr::T(c) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")))
        });
        if is_problem && let Some(content) = response.content.shift_remove("application/json") {
            response.content.insert("application/problem+json".to_owned(), content);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(method, full path)` of everything the application registers.
    fn registered() -> BTreeSet<(String, String)> {
        let root = ROOT.iter().flat_map(|m| m.routes).map(|(method, path)| ((*method).to_owned(), (*path).to_owned()));
        let api = API
            .iter()
            .flat_map(|m| m.routes)
            .map(|(method, path)| ((*method).to_owned(), format!("{API_PREFIX}{path}")));
        let docs = [OPENAPI_PATH, DOCS_PATH].map(|path| ("get".to_owned(), path.to_owned()));
        root.chain(api).chain(docs).collect()
    }

    /// `(method, path)` of everything the description names.
    fn described() -> BTreeSet<(String, String)> {
        let json = serde_json::to_value(openapi()).expect("the description serialises");
        let paths = json["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object().expect("path item").keys().map(move |method| (method.clone(), path.clone()))
            })
            .filter(|(method, _)| {
                ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str())
            })
            .collect()
    }

    #[test]
    fn every_registered_route_is_described_and_nothing_else() {
        let registered = registered();
        let described = described();
        let missing: Vec<_> = registered.difference(&described).collect();
        let unserved: Vec<_> = described.difference(&registered).collect();
        assert!(missing.is_empty(), "registered but not described (check the path in #[utoipa::path]): {missing:?}");
        assert!(unserved.is_empty(), "described but not registered: {unserved:?}");
        assert!(registered.len() > 80, "only {} routes registered", registered.len());
    }

    #[test]
    fn every_api_operation_needs_a_token_and_says_how_it_fails() {
        let json = serde_json::to_value(openapi()).expect("the description serialises");
        let mut ids = BTreeSet::new();
        for (path, item) in json["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str().expect("an operation id");
                assert!(ids.insert(id.to_owned()), "operation id {id} is used twice");
                assert!(op["summary"].is_string(), "{method} {path} has no summary (the handler's doc comment)");
                let responses = op["responses"].as_object().expect("responses");
                for (status, response) in responses {
                    assert!(
                        response["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{method} {path} {status} has no description"
                    );
                }
                assert!(
                    responses.keys().any(|s| s.starts_with('2') || s.starts_with('3')),
                    "{method} {path} describes no success answer"
                );
                if path.starts_with(API_PREFIX) && path != OPENAPI_PATH && path != DOCS_PATH {
                    assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{method} {path}");
                    assert!(responses.contains_key("401"), "{method} {path}");
                }
            }
        }
    }

    #[test]
    fn request_schemas_refuse_unknown_fields_as_the_server_does() {
        let json = serde_json::to_value(openapi()).expect("the description serialises");
        let schemas = &json["components"]["schemas"];
        assert_eq!(schemas["AutoReplySettingsPatch"]["additionalProperties"], false);
        for name in ["AwaySchedule", "Matcher", "Recipients", "RuleAction"] {
            let variants = schemas[name]["oneOf"].as_array().expect("variants");
            assert!(variants.iter().all(|v| v["additionalProperties"] == false), "{name}");
        }
        let reply = schemas["Reply"]["oneOf"].as_array().expect("variants");
        for variant in reply {
            assert_eq!(variant["additionalProperties"], false, "{variant}");
            assert!(variant["properties"]["type"].is_object(), "{variant}");
        }
        let image = reply.iter().find(|v| v["properties"]["type"]["enum"][0] == "image").expect("image");
        assert!(image["properties"]["link"].is_object(), "merged from MediaReply: {image}");
    }

    #[test]
    fn every_schema_reference_resolves() {
        let json = serde_json::to_value(openapi()).expect("the description serialises");
        let text = json.to_string();
        let schemas = json["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().expect("a name");
            assert!(schemas.contains_key(name), "unresolved reference to schema {name}");
        }
    }
}
