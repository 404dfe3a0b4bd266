//! Auto-replies, configured by admins: a channel's business hours, greeting, away message,
//! limits and business name; the quick replies; the keyword rules and their order; and a
//! preview that explains what a sample message would get. Agents list quick replies.
//!
//! ```text
//! GET    /api/v1/quick-replies                                    any agent
//! GET    /api/v1/admin/channels/{channel_id}/auto-replies         what is in force
//! PUT    /api/v1/admin/channels/{channel_id}/auto-replies         the channel's settings, whole
//! PATCH  /api/v1/admin/channels/{channel_id}/auto-replies         some settings (null clears one)
//! GET|PUT|DELETE /api/v1/admin/channels/{channel_id}/auto-replies/{hours|greeting|away}
//! GET|POST       /api/v1/admin/quick-replies
//! GET|PUT|DELETE /api/v1/admin/quick-replies/{id}
//! GET|POST       /api/v1/admin/rules
//! PUT            /api/v1/admin/rules/order                        {"order": [rule ids]}
//! POST           /api/v1/admin/rules/preview
//! GET|PUT|DELETE /api/v1/admin/rules/{id}
//! ```
//!
//! Every write is validated against the whole configuration it produces (on every channel
//! it touches) by `switchboard_core::admin::Config`, before it is stored. Problems in the
//! body written are a 422 naming the field (relative to the body: `weekly.mon[0].end`,
//! `matcher.pattern`); a write that breaks another part of the configuration (deleting a
//! quick reply a rule sends, removing the hours an away message needs) is a 409 that says
//! which (`breaks_configuration`).

use serde_json::Value;
use utoipa::PartialSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, Schema};

use crate::error::ApiError;
use crate::json::Body;

mod preview;
mod quick_replies;
mod rules;
mod settings;

pub(crate) use preview::PreviewJson;

routes! {
    "/quick-replies" => { get: quick_replies::agent_quick_replies },
    "/admin/channels/{channel_id}/auto-replies" => { get: settings::get_config, put: settings::put_config, patch: settings::patch_config },
    "/admin/channels/{channel_id}/auto-replies/{section}" => {
        get: settings::get_section,
        put: settings::put_section,
        delete: settings::delete_section,
    },
    "/admin/quick-replies" => { get: quick_replies::list_quick_replies, post: quick_replies::create_quick_reply },
    "/admin/quick-replies/{id}" => { get: quick_replies::get_quick_reply, put: quick_replies::update_quick_reply, delete: quick_replies::delete_quick_reply },
    "/admin/rules" => { get: rules::list_rules, post: rules::create_rule },
    // Before `/admin/rules/{id}`, which would take these names as ids.
    "/admin/rules/order" => { put: rules::reorder_rules },
    "/admin/rules/preview" => { post: preview::preview },
    "/admin/rules/{id}" => { get: rules::get_rule, put: rules::update_rule, delete: rules::delete_rule },
}

/// The schema of a struct that serialises as `A`'s fields and `B`'s side by side (two
/// `#[serde(flatten)]` fields): one object with the properties of both. (The `allOf` utoipa
/// derives for a flattened field would refuse `B`'s fields: `A` denies unknown ones.)
fn merged<A: PartialSchema, B: PartialSchema>(description: &str) -> RefOr<Schema> {
    match (A::schema(), B::schema()) {
        (RefOr::T(Schema::Object(mut a)), RefOr::T(Schema::Object(b))) => {
            a.properties.extend(b.properties);
            a.required.extend(b.required);
            a.description = Some(description.to_owned());
            RefOr::T(Schema::Object(a))
        }
        (a, b) => AllOfBuilder::new().item(a).item(b).description(Some(description)).into(),
    }
}

/// A body for `/…/{id}`: its `id`, if any, must be the path's; left out, it is the path's.
fn body_with_id<T>(mut body: Body<T>, id: &str) -> Result<Body<T>, ApiError> {
    let map = body.object_mut();
    match map.get("id") {
        None => {
            map.insert("id".into(), Value::String(id.to_owned()));
        }
        Some(Value::String(s)) if s == id => {}
        Some(_) => return Err(ApiError::field("id", "must be the id in the URL (or left out)")),
    }
    Ok(body)
}
