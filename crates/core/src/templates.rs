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
use switchboard_cloudapi::{GraphError, MediaSource, OutboundBody, TemplateComponent, TemplateParameter};
use switchboard_domain::ChannelId;
use switchboard_domain::template::{TemplateNeeds, is_sendable};
use switchboard_store::{Contact, Store, StoreError, StoredTemplate, TemplateUpdate};
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
/// and get exactly the parameters its header, body and buttons need, none of them empty.
/// When it passes, the text parameters of a template with named variables
/// (`{{first_name}}`) are given their names in order (Meta wants them named).
pub async fn check_template_send(
    store: &dyn Store,
    channel: ChannelId,
    name: &str,
    language: &str,
    components: &mut [TemplateComponent],
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
    let needs = TemplateNeeds::of(&t.components);
    let errors = check_parameters(&needs, components);
    if errors.is_empty() {
        name_parameters(&needs, components);
    }
    Ok(errors)
}

/// A variable named by a word rather than a position (`{{first_name}}`, not `{{1}}`).
fn is_named(variable: &str) -> bool {
    !variable.bytes().all(|b| b.is_ascii_digit())
}

/// Gives the body's and a text header's parameters the names of the template's named
/// variables, in order, where they have none.
fn name_parameters(needs: &TemplateNeeds, components: &mut [TemplateComponent]) {
    let name = |params: &mut [TemplateParameter], variables: &[String]| {
        for (p, v) in params.iter_mut().zip(variables) {
            if let TemplateParameter::Text { parameter_name: n @ None, .. } = p
                && is_named(v)
            {
                *n = Some(v.clone());
            }
        }
    };
    for c in components {
        match c {
            TemplateComponent::Body(params) => name(params, &needs.body),
            TemplateComponent::Header(params) => {
                if let Some(switchboard_domain::template::HeaderNeed::Text { variables }) = &needs.header {
                    name(params, variables);
                }
            }
            _ => {}
        }
    }
}

/// A text with nothing but spaces, or a media file named by an empty link or id.
fn is_blank(p: &TemplateParameter) -> bool {
    match p {
        TemplateParameter::Text { text, .. } => text.trim().is_empty(),
        TemplateParameter::Image(s) | TemplateParameter::Video(s) | TemplateParameter::Document { source: s, .. } => {
            match s {
                MediaSource::Id(v) | MediaSource::Link(v) => v.trim().is_empty(),
            }
        }
        TemplateParameter::Currency { fallback_value, .. } | TemplateParameter::DateTime { fallback_value } => {
            fallback_value.trim().is_empty()
        }
    }
}

/// A media parameter named by an id, or by a link that is one (`https://host…`).
fn is_link_or_id(p: &TemplateParameter) -> bool {
    let source = match p {
        TemplateParameter::Image(s) | TemplateParameter::Video(s) | TemplateParameter::Document { source: s, .. } => s,
        _ => return true,
    };
    match source {
        MediaSource::Id(_) => true,
        MediaSource::Link(l) => {
            let lower = l.trim().to_ascii_lowercase();
            let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
            rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/')) && !l.trim().contains(char::is_whitespace)
        }
    }
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
            TemplateComponent::UrlButton { index, url_suffix } => {
                let ok = needs.buttons.iter().any(|b| b.index == *index && !b.variables.is_empty());
                if !ok {
                    errors.push(Invalid::new(
                        format!("url_buttons[{index}]"),
                        format!("the template's button {index} is not a URL button with a variable"),
                    ));
                } else if url_suffix.trim().is_empty() {
                    errors.push(Invalid::new(format!("url_buttons[{index}]"), "must not be empty"));
                }
            }
        }
    }
    for (i, p) in body.iter().enumerate() {
        if is_blank(p) {
            errors.push(Invalid::new(format!("parameters[{i}]"), "must not be empty"));
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
                let first = header.and_then(|p| p.first());
                if given != Some(media) {
                    errors.push(Invalid::new("header_media", format!("the template's header needs an {media}")));
                } else if first.is_some_and(is_blank) {
                    errors.push(Invalid::new("header_media", format!("give the {media}'s link or media id")));
                } else if first.is_some_and(|p| !is_link_or_id(p)) {
                    errors.push(Invalid::new("header_media", "the link must start with https:// (or http://)"));
                }
            } else if let switchboard_domain::template::HeaderNeed::Text { variables } = need {
                let n = given.map_or(0, <[TemplateParameter]>::len);
                let text_only = given.is_none_or(|p| p.iter().all(|p| media_kind(p).is_none()));
                if n != variables.len() || !text_only {
                    errors.push(Invalid::new(
                        "header",
                        format!("the template's header needs {} text parameter(s), not {n}", variables.len()),
                    ));
                } else if given.is_some_and(|p| p.iter().any(is_blank)) {
                    errors.push(Invalid::new("header", "must not be empty"));
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

// ---------------------------------------------------------------------------------------
// A template send as agents give it, and the console's picker.

/// A template send as agents give it: the REST reply's `{"type": "template", …}` fields
/// and the console picker's inputs, built the same way into the message
/// [`crate::Inbox::reply`] checks (against the synchronised definition) and queues.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateSend {
    pub name: String,
    pub language: String,
    /// The body's text parameters, in order.
    pub parameters: Vec<String>,
    /// A text header's parameter.
    pub header: Option<String>,
    /// A media header's file (image, video or document).
    pub header_media: Option<TemplateParameter>,
    /// The suffixes of dynamic URL buttons, by the button's index.
    pub url_buttons: Vec<(u8, String)>,
    /// The payloads of quick-reply buttons, by index.
    pub button_payloads: Vec<String>,
}

impl TemplateSend {
    /// A media header's parameter of `kind` (`image`, `video` or `document`; `None` for
    /// any other kind).
    #[must_use]
    pub fn header_media(kind: &str, source: MediaSource, filename: Option<String>) -> Option<TemplateParameter> {
        match kind {
            "image" => Some(TemplateParameter::Image(source)),
            "video" => Some(TemplateParameter::Video(source)),
            "document" => Some(TemplateParameter::Document { source, filename }),
            _ => None,
        }
    }

    /// The message to queue: the Graph API body and what agents see.
    #[must_use]
    pub fn into_outgoing(self) -> crate::inbox::Outgoing {
        use switchboard_domain::message::MessageContent;
        let Self { name, language, parameters, header, header_media, url_buttons, button_payloads } = self;
        let mut components = Vec::new();
        if let Some(h) = header {
            components.push(TemplateComponent::Header(vec![TemplateParameter::text(h)]));
        }
        if let Some(m) = header_media {
            components.push(TemplateComponent::Header(vec![m]));
        }
        for (index, url_suffix) in url_buttons {
            components.push(TemplateComponent::UrlButton { index, url_suffix });
        }
        if !parameters.is_empty() {
            components.push(TemplateComponent::Body(parameters.iter().map(TemplateParameter::text).collect()));
        }
        for (i, payload) in button_payloads.into_iter().enumerate() {
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            components.push(TemplateComponent::QuickReplyButton { index, payload });
        }
        let content = MessageContent::Template { name: name.clone(), language: language.clone(), parameters };
        crate::inbox::Outgoing { body: OutboundBody::Template { name, language, components }, content, reply_to: None }
    }
}

/// What a variable may be filled from: the contact of the conversation.
#[derive(Clone, Copy, Debug)]
pub struct ContactFields<'a> {
    /// The name agents see: the one they gave, else the WhatsApp profile name.
    pub name: Option<&'a str>,
    /// The WhatsApp number.
    pub wa_id: &'a str,
    /// Custom attributes.
    pub attributes: &'a serde_json::Map<String, Value>,
}

impl<'a> ContactFields<'a> {
    #[must_use]
    pub fn of(contact: &'a Contact) -> Self {
        Self {
            name: contact.name.as_deref().or(contact.profile_name.as_deref()),
            wa_id: contact.wa_id.as_str(),
            attributes: &contact.attributes,
        }
    }
}

/// One input of the picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInput {
    /// The form field, named as the REST reply's field its errors name: `header`,
    /// `header_media`, `parameters[0]`, `url_buttons[1]`.
    pub field: String,
    /// What it is, for people: `Body {{1}}`, `Header image (a link)`, …
    pub label: String,
    /// What it starts with: the contact's value when the variable maps to one.
    pub value: String,
    /// Meta's example for it, if the template has one.
    pub example: Option<String>,
    /// Where the value came from, when pre-filled (`the contact's name`).
    pub filled_from: Option<String>,
    /// A link (`url`) or text (`text`).
    pub kind: &'static str,
}

/// An approved template as the picker offers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateChoice {
    pub name: String,
    pub language: String,
    pub category: String,
    /// The header's text (a text header), the body's and the footer's, as approved.
    pub header_text: Option<String>,
    pub body_text: String,
    pub footer_text: Option<String>,
    /// The media a media header needs (`image`, `video`, `document`).
    pub header_media: Option<&'static str>,
    /// The buttons' texts.
    pub buttons: Vec<String>,
    /// Exactly the values a send needs, in the order a form shows them.
    pub inputs: Vec<TemplateInput>,
}

impl TemplateChoice {
    /// The `<select>` value naming it: `name:language`.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}", self.name, self.language)
    }
}

/// The approved templates of `channel`, by name then language, as the picker offers
/// them, their inputs pre-filled for `contact` ([`prefill`]).
pub async fn template_choices(
    store: &dyn Store,
    channel: ChannelId,
    contact: &Contact,
) -> Result<Vec<TemplateChoice>, StoreError> {
    let contact = ContactFields::of(contact);
    let mut templates: Vec<StoredTemplate> =
        store.templates(channel).await?.into_iter().filter(|t| is_sendable(&t.status)).collect();
    templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    Ok(templates.iter().map(|t| choice(t, &contact)).collect())
}

/// The component of `kind` (`BODY`, `HEADER`, …) in Meta's definition.
fn component<'a>(components: &'a Value, kind: &str) -> Option<&'a Value> {
    components
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(kind)))
}

/// Meta's example for variable `variable` (at `position` among the component's
/// variables): `example.<key>[0][i]` (positional; `header_text` is flat) or
/// `example.<key>_named_params[].example` (named).
fn example_of(c: &Value, key: &str, variable: &str, position: usize) -> Option<String> {
    let example = c.get("example")?;
    if is_named(variable) {
        return example
            .get(format!("{key}_named_params"))?
            .as_array()?
            .iter()
            .find(|p| p.get("param_name").and_then(Value::as_str) == Some(variable))?
            .get("example")?
            .as_str()
            .map(str::to_owned);
    }
    let values = example.get(key)?;
    let values = match values.get(0) {
        Some(Value::Array(inner)) => inner.as_slice(),
        _ => values.as_array()?.as_slice(),
    };
    let index = variable.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).unwrap_or(position);
    values.get(index)?.as_str().map(str::to_owned)
}

/// The value a variable starts with, and where it came from, when it maps to a contact
/// field. The variable's key is its name (`{{first_name}}`), or for a positional one
/// (`{{1}}`) Meta's example for it; lowercased, spaces and dashes as `_`:
///
/// - `name`, `full_name`, `contact_name`, `customer_name` → the contact's name (the one
///   agents gave, else their WhatsApp profile name);
/// - `first_name` → its first word;
/// - `phone`, `phone_number`, `wa_id`, `whatsapp_number` → their WhatsApp number;
/// - the name of one of the contact's custom attributes → its value.
///
/// Anything else starts empty.
#[must_use]
pub fn prefill(variable: &str, example: Option<&str>, contact: &ContactFields<'_>) -> Option<(String, String)> {
    let normal = |s: &str| s.trim().to_lowercase().replace([' ', '-'], "_");
    let key = if is_named(variable) { normal(variable) } else { normal(example?) };
    let name = || contact.name.map(str::trim).filter(|n| !n.is_empty());
    match key.as_str() {
        "name" | "full_name" | "contact_name" | "customer_name" => {
            name().map(|n| (n.to_owned(), "the contact's name".to_owned()))
        }
        "first_name" => name()
            .and_then(|n| n.split_whitespace().next())
            .map(|n| (n.to_owned(), "the contact's first name".to_owned())),
        "phone" | "phone_number" | "wa_id" | "whatsapp_number" => {
            Some((contact.wa_id.to_owned(), "the contact's WhatsApp number".to_owned()))
        }
        _ => {
            let (attribute, value) = contact.attributes.iter().find(|(k, _)| normal(k) == key)?;
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((text, format!("the contact's attribute {attribute}")))
        }
    }
}

/// The picker's view of one template: its texts and exactly the inputs a send needs.
#[must_use]
pub fn choice(t: &StoredTemplate, contact: &ContactFields<'_>) -> TemplateChoice {
    use switchboard_domain::template::HeaderNeed;
    let needs = TemplateNeeds::of(&t.components);
    let text_of = |c: Option<&Value>| c.and_then(|c| c.get("text")).and_then(Value::as_str).map(str::to_owned);
    let header = component(&t.components, "HEADER");
    let body = component(&t.components, "BODY");
    let mut inputs = Vec::new();
    let mut variable_input = |field: String, label: String, c: Option<&Value>, key: &str, v: &str, i: usize| {
        let example = c.and_then(|c| example_of(c, key, v, i));
        let filled = prefill(v, example.as_deref(), contact);
        inputs.push(TemplateInput {
            field,
            label,
            value: filled.as_ref().map(|(v, _)| v.clone()).unwrap_or_default(),
            example,
            filled_from: filled.map(|(_, from)| from),
            kind: "text",
        });
    };
    let mut header_media = None;
    match &needs.header {
        Some(HeaderNeed::Text { variables }) => {
            for (i, v) in variables.iter().enumerate() {
                variable_input("header".into(), format!("Header {{{{{v}}}}}"), header, "header_text", v, i);
            }
        }
        Some(need) => header_media = need.media(),
        None => {}
    }
    for (i, v) in needs.body.iter().enumerate() {
        variable_input(format!("parameters[{i}]"), format!("Body {{{{{v}}}}}"), body, "body_text", v, i);
    }
    if let Some(media) = header_media {
        let example = None;
        inputs.insert(
            0,
            TemplateInput {
                field: "header_media".into(),
                label: format!("Header {media}: its link (https://…)"),
                value: String::new(),
                example,
                filled_from: None,
                kind: "url",
            },
        );
    }
    let button_defs: Vec<&Value> = component(&t.components, "BUTTONS")
        .and_then(|c| c.get("buttons"))
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    for b in needs.buttons.iter().filter(|b| !b.variables.is_empty()) {
        let def = button_defs.get(usize::from(b.index));
        let title = def.and_then(|d| d.get("text")).and_then(Value::as_str).unwrap_or_default();
        let url = def.and_then(|d| d.get("url")).and_then(Value::as_str).unwrap_or_default();
        let example = def.and_then(|d| d.get("example")).and_then(|e| e.get(0).or(Some(e))).and_then(Value::as_str);
        inputs.push(TemplateInput {
            field: format!("url_buttons[{}]", b.index),
            label: format!("Button “{title}”: the end of its link {url}"),
            value: String::new(),
            example: example.map(str::to_owned),
            filled_from: None,
            kind: "text",
        });
    }
    TemplateChoice {
        name: t.name.clone(),
        language: t.language.clone(),
        category: t.category.clone(),
        header_text: text_of(header).filter(|_| matches!(needs.header, Some(HeaderNeed::Text { .. }))),
        body_text: text_of(body).unwrap_or_default(),
        footer_text: text_of(component(&t.components, "FOOTER")),
        header_media,
        buttons: button_defs.iter().filter_map(|d| d.get("text").and_then(Value::as_str)).map(str::to_owned).collect(),
        inputs,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn variables_map_to_the_contact_by_name_or_by_example() {
        let attributes = json!({"Order ID": "A-17", "vip": true}).as_object().unwrap().clone();
        let contact =
            ContactFields { name: Some(" Ana María López "), wa_id: "16505550101", attributes: &attributes };
        let fill = |v: &str, example: Option<&str>| prefill(v, example, &contact).map(|(value, _)| value);
        assert_eq!(fill("first_name", None).as_deref(), Some("Ana"));
        assert_eq!(fill("Customer-Name", None).as_deref(), Some("Ana María López"));
        assert_eq!(fill("1", Some("name")).as_deref(), Some("Ana María López"), "a positional variable by its example");
        assert_eq!(fill("1", Some("Kim")), None, "an example that names nothing");
        assert_eq!(fill("1", None), None);
        assert_eq!(fill("wa_id", None).as_deref(), Some("16505550101"));
        assert_eq!(fill("order_id", None).as_deref(), Some("A-17"), "an attribute, its name normalised");
        assert_eq!(fill("vip", None).as_deref(), Some("true"));
        assert_eq!(fill("day", None), None);
        let nameless = ContactFields { name: None, ..contact };
        assert_eq!(prefill("first_name", None, &nameless), None);
    }

    #[test]
    fn a_send_names_the_variables_of_a_named_template() {
        let needs = TemplateNeeds::of(&json!([{"type": "BODY", "text": "Hi {{first_name}}, {{order}}"}]));
        let mut components =
            vec![TemplateComponent::Body(vec![TemplateParameter::text("Ana"), TemplateParameter::text("A-1")])];
        assert!(check_parameters(&needs, &components).is_empty());
        name_parameters(&needs, &mut components);
        let TemplateComponent::Body(p) = &components[0] else { panic!() };
        assert_eq!(p[0], TemplateParameter::Text { text: "Ana".into(), parameter_name: Some("first_name".into()) });
        let positional = TemplateNeeds::of(&json!([{"type": "BODY", "text": "Hi {{1}}"}]));
        let mut components = vec![TemplateComponent::Body(vec![TemplateParameter::text("Ana")])];
        name_parameters(&positional, &mut components);
        assert_eq!(components[0], TemplateComponent::Body(vec![TemplateParameter::text("Ana")]));
        let blank = vec![TemplateComponent::Body(vec![TemplateParameter::text("Ana"), TemplateParameter::text(" ")])];
        assert_eq!(check_parameters(&needs, &blank), vec![Invalid::new("parameters[1]", "must not be empty")]);
    }
}
