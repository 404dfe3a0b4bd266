//! The keyword rules, their order, and the channel each applies to.

use std::borrow::Cow;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_core::EntryExt;
use switchboard_domain::autoreply::KeywordRule;
use switchboard_domain::{AuditAction, ChannelId, RuleId};
use switchboard_store::StoredRule;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use super::{body_with_id, merged};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::Admin;
use crate::json::{Body, FromBody, decode};
use crate::openapi::Problem;

/// A keyword rule as the API shows and takes it: the rule's own fields and `channel_id`.
#[derive(Serialize)]
pub(super) struct RuleJson {
    #[serde(flatten)]
    rule: KeywordRule,
    #[serde(flatten)]
    channel: RuleChannel,
}

#[derive(Serialize, ToSchema)]
struct RuleChannel {
    /// The only channel the rule applies to; `null` (or left out, when writing): every channel.
    channel_id: Option<ChannelId>,
}

impl PartialSchema for RuleJson {
    fn schema() -> RefOr<Schema> {
        merged::<KeywordRule, RuleChannel>(
            "A keyword rule: when `matcher` matches, do `actions`; then stop (default) or go on to the \
             next rule. `channel_id` limits it to one channel.",
        )
    }
}

impl ToSchema for RuleJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Rule")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <KeywordRule as ToSchema>::schemas(schemas);
        <RuleChannel as ToSchema>::schemas(schemas);
    }
}

/// A rule as the API shows it: the rule's fields and `channel_id` (null: every channel).
fn rule_json(r: &StoredRule) -> RuleJson {
    RuleJson { rule: r.rule.clone(), channel: RuleChannel { channel_id: r.channel } }
}

/// The keyword rules, in evaluation order.
#[derive(Serialize, ToSchema)]
struct RuleList {
    items: Vec<RuleJson>,
}

/// A rule from the API: `channel_id` (optional) and the rule's own fields (read by hand:
/// the rule denies fields it does not know, so the two cannot be flattened by serde).
impl FromBody for RuleJson {
    fn from_body(mut body: Map<String, Value>) -> Result<Self, ApiError> {
        let channel_id = match body.remove("channel_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(decode::<ChannelId>("channel_id", v)?),
        };
        Ok(Self { rule: decode("", Value::Object(body))?, channel: RuleChannel { channel_id } })
    }
}

impl From<RuleJson> for StoredRule {
    fn from(r: RuleJson) -> Self {
        Self { channel: r.channel.channel_id, rule: r.rule }
    }
}

/// The keyword rules, in evaluation order (admins).
#[utoipa::path(get, path = "/admin/rules",
    responses((status = 200, body = RuleList), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn list_rules(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rules = state.store.keyword_rules().await?;
    Ok(HttpResponse::Ok().json(RuleList { items: rules.iter().map(rule_json).collect() }))
}

/// One keyword rule (admins).
#[utoipa::path(get, path = "/admin/rules/{id}",
    params(("id" = RuleId, Path)),
    responses((status = 200, body = RuleJson), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn get_rule(
    Admin { path: id, .. }: Admin<RuleId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.store.keyword_rule(id).await?.ok_or(ApiError::NotFound { what: "rule" })?;
    Ok(HttpResponse::Ok().json(rule_json(&rule)))
}

/// Adds a keyword rule, last in the order (admins); its id is generated unless given.
#[utoipa::path(post, path = "/admin/rules", request_body = RuleJson,
    responses(
        (status = 201, body = RuleJson, headers(("location" = String, description = "The new rule's URL"))),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The id is taken, or the change would break the configuration", body = Problem),
    ))]
pub(super) async fn create_rule(
    Admin { agent, .. }: Admin,
    body: Body<RuleJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = StoredRule::from(body.read()?);
    state.config().create_rule(&rule).await?;
    tracing::info!(rule_id = %rule.rule.id, admin_id = %agent.0.id, "keyword rule created");
    state
        .audit()
        .record(agent.audit(AuditAction::RuleCreated).target("rule", rule.rule.id).after(&rule_json(&rule)))
        .await;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("/api/v1/admin/rules/{}", rule.rule.id)))
        .json(rule_json(&rule)))
}

/// Replaces a keyword rule, in place (admins); the body's `id`, if any, must be the URL's.
#[utoipa::path(put, path = "/admin/rules/{id}", params(("id" = RuleId, Path)), request_body = RuleJson,
    responses(
        (status = 200, body = RuleJson),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The change would break the configuration on some channel", body = Problem),
    ))]
pub(super) async fn update_rule(
    Admin { agent, path: id, .. }: Admin<RuleId>,
    body: Body<RuleJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = StoredRule::from(body_with_id(body, &id.to_string())?.read()?);
    let before = state.store.keyword_rule(id).await?.map(|r| rule_json(&r));
    state.config().update_rule(&rule).await?;
    tracing::info!(rule_id = %id, admin_id = %agent.0.id, "keyword rule updated");
    state
        .audit()
        .record(agent.audit(AuditAction::RuleUpdated).target("rule", id).before(&before).after(&rule_json(&rule)))
        .await;
    Ok(HttpResponse::Ok().json(rule_json(&rule)))
}

/// Deletes a keyword rule (admins).
#[utoipa::path(delete, path = "/admin/rules/{id}", params(("id" = RuleId, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Admins only", body = Problem)))]
pub(super) async fn delete_rule(
    Admin { agent, path: id, .. }: Admin<RuleId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let before = state.store.keyword_rule(id).await?.map(|r| rule_json(&r));
    state.config().delete_rule(id).await?;
    tracing::info!(rule_id = %id, admin_id = %agent.0.id, "keyword rule deleted");
    state.audit().record(agent.audit(AuditAction::RuleDeleted).target("rule", id).before(&before)).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The new evaluation order.
#[derive(Deserialize, ToSchema)]
#[schema(as = RuleOrder)]
#[serde(deny_unknown_fields)]
pub(super) struct OrderJson {
    /// Every rule's id, each once, in the new order.
    order: Vec<RuleId>,
}

/// Sets the order rules are evaluated in (admins); answers the rules in that order.
#[utoipa::path(put, path = "/admin/rules/order", request_body = OrderJson,
    responses(
        (status = 200, body = RuleList),
        (status = 403, description = "Admins only", body = Problem),
        (status = 409, description = "The rules changed meanwhile (`rules_changed`); list them again", body = Problem),
    ))]
pub(super) async fn reorder_rules(
    Admin { agent, .. }: Admin,
    body: Body<OrderJson>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let OrderJson { order } = body.read()?;
    let before: Vec<String> = state.store.keyword_rules().await?.iter().map(|r| r.rule.id.to_string()).collect();
    let rules = state.config().reorder_rules(&order).await?;
    tracing::info!(admin_id = %agent.0.id, rules = order.len(), "keyword rules reordered");
    let after: Vec<String> = rules.iter().map(|r| r.rule.id.to_string()).collect();
    state.audit().record(agent.audit(AuditAction::RulesReordered).before(&before).after(&after)).await;
    Ok(HttpResponse::Ok().json(RuleList { items: rules.iter().map(rule_json).collect() }))
}
