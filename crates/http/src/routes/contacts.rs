//! `/api/v1/contacts`: the CRM view. A contact's WhatsApp profile, the name agents give
//! them, custom attributes, and all their conversations.
//!
//! Admins see every contact; an agent sees the contacts of the conversations they may
//! see (404 for the others), and may edit those.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_core::audit::EntryExt;
use switchboard_domain::consent::ConsentSource;
use switchboard_domain::{AuditAction, ContactId};
use switchboard_store::{Contact, ContactPatch, ContactQuery, ViewCursor, ViewQuery, ViewSort};
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::{ApiError, FieldError};
use crate::guard::{VisibleContact, viewer};
use crate::json::Json;
use crate::openapi::Problem;
use crate::routes::conversations::{
    ConversationJson, PageJson, conversation_page, decode_cursor, parse_limit, parse_search,
};

routes! {
    "/contacts" => { get: list },
    "/contacts/{id}" => { get: get, patch: patch },
    "/contacts/{id}/conversations" => { get: conversations },
    "/contacts/{id}/export" => { get: export },
}

/// The longest attribute key, in characters.
const MAX_KEY_CHARS: usize = 64;
/// The longest string attribute value, in characters.
const MAX_VALUE_CHARS: usize = 1000;
/// The longest name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// A customer, as the CRM shows them.
#[derive(Serialize, ToSchema)]
#[schema(as = Contact)]
struct ContactJson {
    id: ContactId,
    wa_id: String,
    /// The name agents gave the contact (`null`: none).
    name: Option<String>,
    /// The name in their WhatsApp profile.
    profile_name: Option<String>,
    /// What to show: the name, else the profile name, else the number.
    display_name: String,
    /// Custom attributes: strings, numbers and booleans by key.
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
    /// Opted out of automatic messages and templates since then (`null`: opted in); the
    /// history is at `/contacts/{id}/consent`.
    opted_out_at: Option<DateTime<Utc>>,
    /// Who opted them out: `keyword`, `agent`, `api` or `import`.
    opted_out_source: Option<ConsentSource>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactJson {
    fn from(c: Contact) -> Self {
        let wa_id: String = c.wa_id.into();
        Self {
            display_name: c.name.clone().or_else(|| c.profile_name.clone()).unwrap_or_else(|| wa_id.clone()),
            id: c.id,
            wa_id,
            name: c.name,
            profile_name: c.profile_name,
            attributes: c.attributes,
            opted_out_at: c.opted_out_at,
            opted_out_source: c.opted_out_source,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// A case-insensitive part of the name, profile name or number (3 to 200 characters,
    /// after trimming; empty: no search).
    #[param(
        pattern = r"^(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]{1,198}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$"
    )]
    q: Option<String>,
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    cursor: Option<String>,
}

/// What a PATCH may change; only the fields given change. Read leniently (any JSON value
/// per field, unknown fields kept) so that a wrong type or an unknown field is a 422
/// naming it, as a wrong value is; [`parse_patch`] checks it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ContactPatch)]
pub(crate) struct PatchBody {
    /// 1 to 200 characters; `null` removes the name agents gave.
    #[schema(
        value_type = Option<String>,
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: Option<Value>,
    /// A merge patch of the attributes: each key is set to its value (a string of at most
    /// 1000 characters, a number or a boolean), or removed by `null`. Keys are 1 to 64
    /// characters; a contact has at most 50 attributes.
    #[schema(schema_with = attributes_schema, required = false)]
    attributes: Option<Value>,
    /// Any other field: each is refused, by name.
    #[schema(ignore)]
    unknown: Vec<String>,
}

impl<'de> Deserialize<'de> for PatchBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut fields = Map::<String, Value>::deserialize(d)?;
        let (name, attributes) = (fields.remove("name"), fields.remove("attributes"));
        Ok(Self { name, attributes, unknown: fields.into_iter().map(|(k, _)| k).collect() })
    }
}

/// `attributes` in a PATCH: keys of 1 to 64 characters, values a short string, a number,
/// a boolean or `null`.
fn attributes_schema() -> Object {
    let value = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_VALUE_CHARS)))
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::Null));
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_KEY_CHARS))
        .pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*$"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(Schema::Object(key.build())))
        .additional_properties(Some(Schema::OneOf(value.build())))
        .build()
}

/// The contacts the caller may see, optionally searched.
#[utoipa::path(get, path = "/contacts", params(ListParams), responses((status = 200, body = PageJson<ContactJson>)))]
async fn list(
    agent: AuthenticatedAgent,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let search = parse_search(params.q.as_deref(), &mut errors);
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => c.parse::<ContactId>().ok().or_else(|| {
            errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = state.store.contacts(&ContactQuery { viewer: viewer(&agent), search, limit, after }).await?;
    Ok(HttpResponse::Ok().json(PageJson {
        items: page.items.into_iter().map(ContactJson::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// One contact.
#[utoipa::path(get, path = "/contacts/{id}", params(("id" = ContactId, Path)), responses((status = 200, body = ContactJson)))]
async fn get(VisibleContact { id, .. }: VisibleContact, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let c = state.store.contact(id).await?.ok_or(ApiError::NotFound { what: "contact" })?;
    Ok(HttpResponse::Ok().json(ContactJson::from(c)))
}

/// Validates a PATCH body: `name` (string or null) and `attributes` (a merge patch).
/// Errors come in the order of the fields' names.
pub(crate) fn parse_patch(body: PatchBody) -> Result<ContactPatch, ApiError> {
    // (the top-level field, the error)
    let mut errors: Vec<(String, FieldError)> = Vec::new();
    let mut patch = ContactPatch::default();
    let mut error =
        |top: &str, field: String, message: String| errors.push((top.to_owned(), FieldError::new(field, message)));
    match body.name {
        None => {}
        Some(Value::Null) => patch.name = Some(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            let n = s.chars().count();
            if n == 0 || n > MAX_NAME_CHARS || s.chars().any(char::is_control) {
                error(
                    "name",
                    "name".into(),
                    format!("must be 1 to {MAX_NAME_CHARS} characters without control characters, or null"),
                );
            } else {
                patch.name = Some(Some(s.to_owned()));
            }
        }
        Some(_) => error("name", "name".into(), "must be a string or null".into()),
    }
    match body.attributes {
        None => {}
        Some(Value::Object(attrs)) => {
            for (key, v) in attrs {
                let n = key.chars().count();
                if n == 0 || n > MAX_KEY_CHARS || key.chars().any(char::is_control) {
                    error(
                        "attributes",
                        "attributes".into(),
                        format!("keys must be 1 to {MAX_KEY_CHARS} characters without control characters"),
                    );
                    continue;
                }
                match v {
                    Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => error(
                        "attributes",
                        format!("attributes.{key}"),
                        format!("must be at most {MAX_VALUE_CHARS} characters"),
                    ),
                    Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                        patch.attributes.insert(key, v);
                    }
                    Value::Array(_) | Value::Object(_) => error(
                        "attributes",
                        format!("attributes.{key}"),
                        "must be a string, number, boolean, or null (to delete it)".into(),
                    ),
                }
            }
        }
        Some(_) => error("attributes", "attributes".into(), "must be an object".into()),
    }
    for other in body.unknown {
        error(&other, other.clone(), "is not a field of a contact that can be changed".into());
    }
    if errors.is_empty() {
        return Ok(patch);
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    Err(ApiError::Validation(errors.into_iter().map(|(_, e)| e).collect()))
}

/// Renames a contact or changes their custom attributes.
#[utoipa::path(patch, path = "/contacts/{id}", params(("id" = ContactId, Path)), request_body = PatchBody,
    responses((status = 200, body = ContactJson)))]
async fn patch(
    VisibleContact { id, agent }: VisibleContact,
    body: Json<PatchBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let patch = parse_patch(body.into_inner())?;
    let c = state.config().update_contact(id, &patch).await?;
    tracing::info!(contact_id = %id, by = %agent.0.id, "contact updated");
    Ok(HttpResponse::Ok().json(ContactJson::from(c)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(
        pattern = r"^n\.-?[0-9]{1,15}\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    cursor: Option<String>,
}

/// Every conversation of the contact the caller may see, newest first.
#[utoipa::path(get, path = "/contacts/{id}/conversations", params(("id" = ContactId, Path), PageParams),
    responses((status = 200, body = PageJson<ConversationJson>)))]
async fn conversations(
    VisibleContact { id, agent }: VisibleContact,
    params: web::Query<PageParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(params.limit.as_deref(), &mut errors);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(c @ ViewCursor::Newest { .. }) => Some(c),
            _ => {
                errors.push(FieldError::new("cursor", "is not a cursor this API returned"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut q = ViewQuery::new(viewer(&agent), Utc::now());
    q.contact = Some(id);
    q.sort = ViewSort::Newest;
    q.limit = limit;
    q.after = after;
    let page = state.store.view_conversations(&q).await?;
    Ok(HttpResponse::Ok().json(conversation_page(&state, page).await?))
}

/// How much of an export may wait between the export and a slow client.
const EXPORT_BUFFER: usize = 256 * 1024;

/// Everything stored about the contact, as a ZIP (a data-subject access request; admins
/// only, agents get 403, or 404 for a contact they may not see): `contact.json` (schema `schema_version` 1: profile, attributes, consent
/// history, every conversation with its messages and their delivery states, labels,
/// notes, CSAT survey and link attribution) and `media/<message id>.<ext>`, the files
/// they sent and were sent, from the media cache or fetched from WhatsApp while it still
/// has them; a message whose file could not be had says why in its `media.missing`.
/// Streamed as it is written: a failure part-way breaks the response off rather than
/// ending it, so a truncated archive is never taken for a complete one.
#[utoipa::path(get, path = "/contacts/{id}/export", params(("id" = ContactId, Path)),
    responses(
        (status = 200, description = "The archive", content(("application/zip")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"contact-<id>.zip\"`"))),
        (status = 403, description = "Admins only", body = Problem),
        (status = 404, description = "No such contact", body = Problem),
    ))]
async fn export(
    VisibleContact { id, agent }: VisibleContact,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use tokio::io::AsyncReadExt;
    // An agent who may not see the contact gets the 404 of `VisibleContact`, one who may
    // gets the 403: a contact's existence is not told to whoever may not see it.
    agent.require_admin()?;
    if state.store.contact(id).await?.is_none() {
        return Err(ApiError::NotFound { what: "contact" });
    }
    // Recorded when the data starts to leave, whether or not the download completes.
    state.audit().record(agent.audit(AuditAction::ContactExported).target("contact", id)).await;
    let (mut writer, reader) = tokio::io::duplex(EXPORT_BUFFER);
    let (done, result) = tokio::sync::oneshot::channel::<bool>();
    let store = std::sync::Arc::clone(&state.store);
    let options = switchboard_core::ExportOptions {
        media_dir: state.media_dir.clone(),
        channels: std::sync::Arc::clone(&state.channel_directory),
    };
    let by = agent.0.id;
    actix_web::rt::spawn(async move {
        let exported = switchboard_core::export_contact(store.as_ref(), &options, id, Utc::now(), &mut writer).await;
        let ok = match exported {
            Ok(s) => {
                tracing::info!(contact_id = %id, by = %by, conversations = s.conversations, messages = s.messages,
                    media_files = s.media_files, media_missing = s.media_missing, bytes = s.bytes, "contact exported");
                true
            }
            Err(switchboard_core::ExportError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::info!(contact_id = %id, by = %by, "contact export abandoned by the client");
                false
            }
            Err(e) => {
                tracing::error!(contact_id = %id, by = %by, error = %e, "contact export failed");
                false
            }
        };
        drop(writer);
        let _ = done.send(ok);
    });
    // The archive as it is written; at its end, whether the export completed.
    let body = futures_util::stream::unfold(Some((reader, result)), |state| async move {
        let (mut reader, result) = state?;
        let mut buf = vec![0; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => match result.await {
                Ok(true) => None,
                _ => Some((Err(std::io::Error::other("the export failed part-way")), None)),
            },
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(web::Bytes::from(buf)), Some((reader, result))))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"contact-{id}.zip\""),
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
