//! Message templates: synchronised from Meta per channel (all pages of
//! `GET /{waba-id}/message_templates`), kept current by `message_template_*` webhooks, and
//! the check a template send passes before it is queued.
//!
//! A channel with no synchronised templates (no WhatsApp Business Account set, or never
//! synchronised) sends templates unchecked, as Meta then judges them; once it has some,
//! a send must name one of them, approved, with exactly the parameters it needs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchboard_cloudapi::{GraphError, TemplateComponent, TemplateParameter};
use switchboard_domain::ChannelId;
use switchboard_domain::template::{TemplateNeeds, is_sendable};
use switchboard_store::{Store, StoreError, StoredTemplate, TemplateUpdate};
use tokio_util::sync::CancellationToken;

use crate::channels::ChannelDirectory;
use crate::inbox::Invalid;

/// At most this many pages are read in one synchronisation (100 templates each).
const MAX_PAGES: usize = 100;

/// How often every channel with a WhatsApp Business Account is synchronised.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("channel not found")]
    NotFound,
    #[error("the channel has no WhatsApp Business Account id (waba_id): its templates cannot be synchronised")]
    NoWaba,
    #[error("messages go to the sandbox: there is no Graph API to synchronise templates from")]
    Sandbox,
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One of Meta's template objects, if it has what a template needs.
fn stored(t: &Value, at: DateTime<Utc>) -> Option<StoredTemplate> {
    let text = |k: &str| t.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    Some(StoredTemplate {
        name: text("name")?,
        language: text("language")?,
        template_id: text("id"),
        category: text("category").unwrap_or_else(|| "UNKNOWN".into()),
        status: text("status").unwrap_or_else(|| "UNKNOWN".into()),
        quality: t.pointer("/quality_score/score").and_then(Value::as_str).map(str::to_owned),
        components: t.get("components").cloned().unwrap_or_else(|| Value::Array(Vec::new())),
        synced_at: at,
    })
}

/// Synchronises one channel's templates from Meta, following the pages; replaces what
/// was stored. Returns how many templates it has now.
pub async fn sync_templates(
    store: &dyn Store,
    channels: &ChannelDirectory,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> Result<usize, TemplateError> {
    let record = store.channel_record(channel).await?.ok_or(TemplateError::NotFound)?;
    let waba = record.waba_id.ok_or(TemplateError::NoWaba)?;
    let client = channels.client(&record.phone_number_id).ok_or(TemplateError::Sandbox)?;
    let mut templates = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let (page, next) = client.message_templates(&waba, after.as_deref()).await?;
        templates.extend(page.iter().filter_map(|t| stored(t, now)));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    store.replace_templates(channel, &templates).await?;
    tracing::info!(channel_id = %channel, templates = templates.len(), "message templates synchronised");
    Ok(templates.len())
}

/// Synchronises every channel with a WhatsApp Business Account every [`SYNC_INTERVAL`]
/// (the first time at once) until `cancel`.
pub async fn run_template_sync(store: Arc<dyn Store>, channels: Arc<ChannelDirectory>, cancel: CancellationToken) {
    loop {
        match store.channel_records().await {
            Ok(records) => {
                for r in records.into_iter().filter(|r| r.waba_id.is_some() && r.enabled) {
                    if let Err(e) = sync_templates(store.as_ref(), &channels, r.id, Utc::now()).await {
                        tracing::warn!(channel_id = %r.id, error = %e, "message templates could not be synchronised");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "message templates: the channels could not be read"),
        }
        tokio::select! {
            () = tokio::time::sleep(SYNC_INTERVAL) => {}
            () = cancel.cancelled() => break,
        }
    }
}

/// The change a `message_template_status_update`, `message_template_quality_update` or
/// `template_category_update` webhook carries; `None` for other fields.
#[must_use]
pub fn template_update(field: &str, waba_id: Option<&str>, value: &Value) -> Option<TemplateUpdate> {
    let text = |k: &str| match value.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        // `message_template_id` is a number in webhooks.
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut update = TemplateUpdate {
        waba_id: waba_id.map(str::to_owned),
        template_id: text("message_template_id"),
        name: text("message_template_name"),
        language: text("message_template_language"),
        ..TemplateUpdate::default()
    };
    match field {
        "message_template_status_update" => update.status = Some(text("event")?.to_ascii_uppercase()),
        "message_template_quality_update" => update.quality = Some(text("new_quality_score")?.to_ascii_uppercase()),
        "template_category_update" => {
            update.category = Some(text("new_category").or_else(|| text("correct_category"))?.to_ascii_uppercase());
        }
        _ => return None,
    }
    (update.template_id.is_some() || (update.name.is_some() && update.language.is_some())).then_some(update)
}

/// Checks a template send against the channel's synchronised templates: nothing when
/// the channel has none; else the template must exist (name and language), be approved,
/// and get exactly the parameters its header, body and buttons need.
pub async fn check_template_send(
    store: &dyn Store,
    channel: ChannelId,
    name: &str,
    language: &str,
    components: &[TemplateComponent],
) -> Result<Vec<Invalid>, StoreError> {
    if !store.has_templates(channel).await? {
        return Ok(Vec::new());
    }
    let templates = store.templates(channel).await?;
    let Some(t) = templates.iter().find(|t| t.name == name && t.language == language) else {
        let languages: Vec<&str> = templates.iter().filter(|t| t.name == name).map(|t| t.language.as_str()).collect();
        let message = if languages.is_empty() {
            format!("this channel has no template {name:?}; list them at /api/v1/channels/{channel}/templates")
        } else {
            format!("template {name:?} has no language {language:?}; it has {}", languages.join(", "))
        };
        let field = if languages.is_empty() { "name" } else { "language" };
        return Ok(vec![Invalid::new(field, message)]);
    };
    if !is_sendable(&t.status) {
        return Ok(vec![Invalid::new("name", format!("template {name:?} is {}, not approved", t.status))]);
    }
    Ok(check_parameters(&TemplateNeeds::of(&t.components), components))
}

fn media_kind(p: &TemplateParameter) -> Option<&'static str> {
    match p {
        TemplateParameter::Image(_) => Some("image"),
        TemplateParameter::Video(_) => Some("video"),
        TemplateParameter::Document { .. } => Some("document"),
        _ => None,
    }
}

/// The parameters `components` give against what `needs` asks, one error per field.
#[must_use]
pub fn check_parameters(needs: &TemplateNeeds, components: &[TemplateComponent]) -> Vec<Invalid> {
    let mut errors = Vec::new();
    let mut header = None;
    let mut body: &[TemplateParameter] = &[];
    for c in components {
        match c {
            TemplateComponent::Header(p) => header = Some(p.as_slice()),
            TemplateComponent::Body(p) => body = p,
            TemplateComponent::QuickReplyButton { index, .. } => {
                let ok = needs.buttons.iter().any(|b| b.index == *index && b.kind == "quick_reply");
                if !ok {
                    errors.push(Invalid::new(
                        format!("button_payloads[{index}]"),
                        format!("the template's button {index} is not a quick-reply button"),
                    ));
                }
            }
            TemplateComponent::UrlButton { index, .. } => {
                let ok = needs.buttons.iter().any(|b| b.index == *index && !b.variables.is_empty());
                if !ok {
                    errors.push(Invalid::new(
                        format!("url_buttons[{index}]"),
                        format!("the template's button {index} is not a URL button with a variable"),
                    ));
                }
            }
        }
    }
    if body.len() != needs.body.len() {
        errors.push(Invalid::new(
            "parameters",
            format!(
                "the template's body needs {} parameters ({}), not {}",
                needs.body.len(),
                needs.body.join(", "),
                body.len()
            ),
        ));
    }
    match (&needs.header, header) {
        (None, Some(_)) => errors.push(Invalid::new("header", "the template has no header parameter")),
        (Some(need), given) => {
            if let Some(media) = need.media() {
                let given = given.and_then(|p| p.first()).and_then(media_kind);
                if given != Some(media) {
                    errors.push(Invalid::new("header_media", format!("the template's header needs an {media}")));
                }
            } else if let switchboard_domain::template::HeaderNeed::Text { variables } = need {
                let n = given.map_or(0, <[TemplateParameter]>::len);
                let text_only = given.is_none_or(|p| p.iter().all(|p| media_kind(p).is_none()));
                if n != variables.len() || !text_only {
                    errors.push(Invalid::new(
                        "header",
                        format!("the template's header needs {} text parameter(s), not {n}", variables.len()),
                    ));
                }
            }
        }
        (None, None) => {}
    }
    for b in needs.buttons.iter().filter(|b| !b.variables.is_empty()) {
        let given =
            components.iter().any(|c| matches!(c, TemplateComponent::UrlButton { index, .. } if *index == b.index));
        if !given {
            errors.push(Invalid::new(
                format!("url_buttons[{}]", b.index),
                format!("the template's URL button {} needs its variable", b.index),
            ));
        }
    }
    errors
}
