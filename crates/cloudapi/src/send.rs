//! Outbound messages (cloudapi.md §5): typed, checked against Meta's limits before anything
//! is sent ([`OutboundMessage::validate`]), and serialised exactly as the `/messages`
//! endpoint expects ([`OutboundMessage::to_json`]).
//!
//! Lengths are counted in Unicode scalar values (`char`s), not bytes. Optional strings that
//! are present must not be blank: leave them out instead.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;
use serde_json::{Map, Value, json};
use switchboard_domain::{MessageId, WaId, Wamid};

const TEXT_BODY_MAX: usize = 4096;
const CAPTION_MAX: usize = 1024;
const BUTTONS_MAX: usize = 3;
const BUTTON_TITLE_MAX: usize = 20;
const BUTTON_ID_MAX: usize = 256;
const BUTTONS_BODY_MAX: usize = 1024;
const LIST_BODY_MAX: usize = 4096;
const FOOTER_MAX: usize = 60;
const HEADER_TEXT_MAX: usize = 60;
const LIST_BUTTON_MAX: usize = 20;
const SECTIONS_MAX: usize = 10;
const ROWS_MAX: usize = 10;
const ROW_ID_MAX: usize = 200;
const ROW_TITLE_MAX: usize = 24;
const ROW_DESCRIPTION_MAX: usize = 72;
const SECTION_TITLE_MAX: usize = 24;
const TEMPLATE_NAME_MAX: usize = 512;
const TEMPLATE_BUTTON_INDEX_MAX: u8 = 9;
const CALLBACK_DATA_MAX: usize = 512;
/// What starts our tag in `biz_opaque_callback_data`: `sb:` and the message's id.
const TAG_PREFIX: &str = "sb:";
/// Our tag (`sb:` and a hyphenated UUID) and the `|` before a caller's own value.
const TAG_LEN: usize = TAG_PREFIX.len() + 36 + 1;
/// The most a caller's own callback data may hold: the rest of Meta's 512 characters
/// carries our tag ([`tag_request`]).
pub const CALLER_CALLBACK_DATA_MAX: usize = CALLBACK_DATA_MAX - TAG_LEN;

/// One message to send to one WhatsApp user.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundMessage {
    /// The recipient.
    pub to: WaId,
    /// Quote this message (`context.message_id`). Not allowed for reactions.
    pub reply_to: Option<Wamid>,
    pub body: OutboundBody,
    /// Opaque tracking string that Meta echoes in this message's status webhooks, at
    /// most [`CALLER_CALLBACK_DATA_MAX`] chars: the sender puts our message id in front
    /// of it ([`tag_request`]) within Meta's 512.
    pub biz_opaque_callback_data: Option<String>,
}

/// What a message carries; one variant per Meta message `type`.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundBody {
    /// Free text (≤ 4096 chars). `preview_url` renders a preview of the first URL.
    Text {
        body: String,
        preview_url: bool,
    },
    /// An uploaded (`Id`) or hosted (`Link`) file. `caption` is for images, videos and
    /// documents (≤ 1024 chars); `filename` for documents only.
    Media {
        kind: MediaKind,
        source: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// Contact cards, passed through as Meta's `contacts[]` objects (each needs
    /// `name.formatted_name`).
    Contacts(Vec<Value>),
    /// An approved template: the only type Meta delivers outside the 24-hour window.
    Template {
        /// `[a-z0-9_]+`, ≤ 512 chars.
        name: String,
        /// Language (and locale) code, such as `en` or `en_US`.
        language: String,
        components: Vec<TemplateComponent>,
    },
    /// Interactive reply buttons: 1 to 3 buttons with unique titles.
    Buttons {
        header: Option<InteractiveHeader>,
        body: String,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    /// Interactive list: a button that opens up to 10 rows in up to 10 sections.
    List {
        /// Text header (≤ 60 chars); lists take no media header.
        header: Option<String>,
        body: String,
        footer: Option<String>,
        /// Label of the button that opens the list (≤ 20 chars).
        button: String,
        sections: Vec<ListSection>,
    },
    /// A reaction to `message_id`; an empty `emoji` removes ours.
    Reaction {
        message_id: Wamid,
        emoji: String,
    },
}

/// The Meta message type of a media message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    /// Meta's name for it: `image`, `audio`, `video`, `document` or `sticker`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }
}

/// Where Meta gets a file: an uploaded media id, or an http(s) URL it downloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaSource {
    Id(String),
    Link(String),
}

/// The header of a reply-buttons message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InteractiveHeader {
    /// ≤ 60 chars.
    Text(String),
    Image(MediaSource),
    Video(MediaSource),
    Document {
        source: MediaSource,
        filename: Option<String>,
    },
}

/// One reply button. Meta sends `id` back in the user's `button_reply`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyButton {
    /// ≤ 256 chars, unique within the message.
    pub id: String,
    /// ≤ 20 chars, unique within the message.
    pub title: String,
}

/// One section of a list message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSection {
    /// ≤ 24 chars; required when the list has more than one section.
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// One selectable row of a list message. Meta sends `id` back in the user's `list_reply`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRow {
    /// ≤ 200 chars, unique within the message.
    pub id: String,
    /// ≤ 24 chars.
    pub title: String,
    /// ≤ 72 chars.
    pub description: Option<String>,
}

/// Values for a template's variables, by component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateComponent {
    /// The header's single variable: text or media.
    Header(Vec<TemplateParameter>),
    /// The body's variables, in order (or by name).
    Body(Vec<TemplateParameter>),
    /// The payload Meta returns when the user taps quick-reply button `index` (0-based).
    QuickReplyButton { index: u8, payload: String },
    /// The suffix appended to the URL of dynamic URL button `index` (0-based).
    UrlButton { index: u8, url_suffix: String },
}

/// One template variable's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateParameter {
    /// Text; `parameter_name` for templates with named (not positional) variables.
    Text {
        text: String,
        parameter_name: Option<String>,
    },
    /// An amount shown localised, `fallback_value` where localisation fails.
    Currency {
        fallback_value: String,
        /// ISO 4217 code, such as `USD`.
        code: String,
        /// The amount times 1000.
        amount_1000: i64,
    },
    DateTime {
        fallback_value: String,
    },
    Image(MediaSource),
    Video(MediaSource),
    Document {
        source: MediaSource,
        filename: Option<String>,
    },
}

impl TemplateParameter {
    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into(), parameter_name: None }
    }
}

/// Why a message was refused before sending: `field` is a path such as `text.body`,
/// `buttons[0].title` or `sections[1].rows[0].id`; `message` is a plain sentence.
///
/// Paths follow Meta's JSON (`text.body`, `image.caption`, `template.components[0]…`),
/// except that interactive messages drop Meta's nesting (`body`, `footer`, `header.text`,
/// `buttons[i]…`, `button`, `sections[i]…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SendValidationError {
    pub field: String,
    pub message: String,
}

impl OutboundMessage {
    /// A message to `to` that is neither a reply nor tagged.
    #[must_use]
    pub fn new(to: WaId, body: OutboundBody) -> Self {
        Self { to, reply_to: None, body, biz_opaque_callback_data: None }
    }

    /// Checks every limit Meta documents for this message type, collecting all failures.
    ///
    /// # Errors
    /// Every violated limit, each naming its field.
    pub fn validate(&self) -> Result<(), Vec<SendValidationError>> {
        let mut c = Checker::default();
        if self.reply_to.is_some() && matches!(self.body, OutboundBody::Reaction { .. }) {
            c.fail("context.message_id", "a reaction cannot be a reply; its message_id already names the message");
        }
        if let Some(data) = &self.biz_opaque_callback_data {
            c.optional("biz_opaque_callback_data", Some(data), CALLER_CALLBACK_DATA_MAX);
        }
        match &self.body {
            OutboundBody::Text { body, .. } => c.required("text.body", body, TEXT_BODY_MAX),
            OutboundBody::Media { kind, source, caption, filename } => {
                c.media(kind.as_str(), source);
                let field = |name: &str| format!("{}.{name}", kind.as_str());
                if caption.is_some() && matches!(kind, MediaKind::Audio | MediaKind::Sticker) {
                    c.fail(field("caption"), format!("{} messages take no caption", kind.as_str()));
                } else {
                    c.optional(&field("caption"), caption.as_deref(), CAPTION_MAX);
                }
                if filename.is_some() && *kind != MediaKind::Document {
                    c.fail(field("filename"), "only documents take a filename");
                } else {
                    c.optional(&field("filename"), filename.as_deref(), usize::MAX);
                }
            }
            OutboundBody::Location { latitude, longitude, name, address } => {
                if !(latitude.is_finite() && (-90.0..=90.0).contains(latitude)) {
                    c.fail("location.latitude", "must be between -90 and 90");
                }
                if !(longitude.is_finite() && (-180.0..=180.0).contains(longitude)) {
                    c.fail("location.longitude", "must be between -180 and 180");
                }
                c.optional("location.name", name.as_deref(), usize::MAX);
                c.optional("location.address", address.as_deref(), usize::MAX);
            }
            OutboundBody::Contacts(contacts) => c.contacts(contacts),
            OutboundBody::Template { name, language, components } => {
                c.template(name, language, components);
            }
            OutboundBody::Buttons { header, body, footer, buttons } => {
                if let Some(header) = header {
                    c.header(header);
                }
                c.required("body", body, BUTTONS_BODY_MAX);
                c.optional("footer", footer.as_deref(), FOOTER_MAX);
                c.buttons(buttons);
            }
            OutboundBody::List { header, body, footer, button, sections } => {
                c.optional("header.text", header.as_deref(), HEADER_TEXT_MAX);
                c.required("body", body, LIST_BODY_MAX);
                c.optional("footer", footer.as_deref(), FOOTER_MAX);
                c.required("button", button, LIST_BUTTON_MAX);
                c.sections(sections);
            }
            // An empty emoji removes the reaction; the wamid is valid by construction.
            OutboundBody::Reaction { .. } => {}
        }
        if c.errors.is_empty() { Ok(()) } else { Err(c.errors) }
    }

    /// The request body for `POST /{phone_number_id}/messages`. Does not validate.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let (kind, content) = self.body.content();
        let mut msg = Map::new();
        msg.insert("messaging_product".into(), "whatsapp".into());
        msg.insert("recipient_type".into(), "individual".into());
        msg.insert("to".into(), self.to.as_str().into());
        if let Some(wamid) = &self.reply_to {
            msg.insert("context".into(), json!({ "message_id": wamid.as_str() }));
        }
        if let Some(data) = &self.biz_opaque_callback_data {
            msg.insert("biz_opaque_callback_data".into(), data.as_str().into());
        }
        msg.insert("type".into(), kind.into());
        msg.insert(kind.into(), content);
        Value::Object(msg)
    }
}

/// Puts `message` (our id for it) in front of the request body's
/// `biz_opaque_callback_data` (`sb:<id>`, then `|` and the caller's value if it had one),
/// so the status webhooks of whatever Meta accepted name the message even when its
/// wamid was never recorded. A body already tagged for `message` is left as it is.
pub fn tag_request(request: &mut Value, message: MessageId) {
    let Some(body) = request.as_object_mut() else { return };
    let tag = format!("{TAG_PREFIX}{message}");
    let data = match body.get("biz_opaque_callback_data").and_then(Value::as_str) {
        Some(d) if tagged_message(d) == Some(message) => return,
        Some(d) if !d.is_empty() => format!("{tag}|{d}"),
        _ => tag,
    };
    body.insert("biz_opaque_callback_data".into(), data.into());
}

/// The message a status webhook's `biz_opaque_callback_data` names, if [`tag_request`]
/// wrote it.
#[must_use]
pub fn tagged_message(callback_data: &str) -> Option<MessageId> {
    let rest = callback_data.strip_prefix(TAG_PREFIX)?;
    let (id, after) = rest.split_at_checked(36)?;
    if !(after.is_empty() || after.starts_with('|')) {
        return None;
    }
    id.parse().ok()
}

impl OutboundBody {
    /// Meta's message `type`: `text`, `image`, …, `template`, `interactive` or `reaction`.
    #[must_use]
    pub fn message_type(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Media { kind, .. } => kind.as_str(),
            Self::Location { .. } => "location",
            Self::Contacts(_) => "contacts",
            Self::Template { .. } => "template",
            Self::Buttons { .. } | Self::List { .. } => "interactive",
            Self::Reaction { .. } => "reaction",
        }
    }

    fn content(&self) -> (&'static str, Value) {
        let content = match self {
            Self::Text { body, preview_url } => json!({ "preview_url": preview_url, "body": body }),
            Self::Media { source, caption, filename, .. } => {
                let mut m = media_object(source);
                put_opt(&mut m, "caption", caption.as_deref());
                put_opt(&mut m, "filename", filename.as_deref());
                Value::Object(m)
            }
            Self::Location { latitude, longitude, name, address } => {
                let mut m = Map::new();
                m.insert("latitude".into(), json!(latitude));
                m.insert("longitude".into(), json!(longitude));
                put_opt(&mut m, "name", name.as_deref());
                put_opt(&mut m, "address", address.as_deref());
                Value::Object(m)
            }
            Self::Contacts(contacts) => Value::Array(contacts.clone()),
            Self::Template { name, language, components } => {
                let mut m = Map::new();
                m.insert("name".into(), name.as_str().into());
                m.insert("language".into(), json!({ "code": language }));
                if !components.is_empty() {
                    let components = components.iter().map(TemplateComponent::to_json).collect();
                    m.insert("components".into(), Value::Array(components));
                }
                Value::Object(m)
            }
            Self::Buttons { header, body, footer, buttons } => {
                let buttons: Vec<Value> = buttons
                    .iter()
                    .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                    .collect();
                interactive(
                    "button",
                    header.as_ref().map(InteractiveHeader::to_json),
                    body,
                    footer.as_deref(),
                    json!({ "buttons": buttons }),
                )
            }
            Self::List { header, body, footer, button, sections } => {
                let sections: Vec<Value> = sections.iter().map(ListSection::to_json).collect();
                interactive(
                    "list",
                    header.as_ref().map(|text| json!({ "type": "text", "text": text })),
                    body,
                    footer.as_deref(),
                    json!({ "button": button, "sections": sections }),
                )
            }
            Self::Reaction { message_id, emoji } => {
                json!({ "message_id": message_id.as_str(), "emoji": emoji })
            }
        };
        (self.message_type(), content)
    }
}

/// The request body that marks `message_id` (and everything before it) as read, and with
/// `typing` also shows a typing indicator for up to 25 seconds or until we reply.
#[must_use]
pub fn mark_read_json(message_id: &Wamid, typing: bool) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id.as_str(),
    });
    if typing {
        body["typing_indicator"] = json!({ "type": "text" });
    }
    body
}

fn interactive(kind: &str, header: Option<Value>, body: &str, footer: Option<&str>, action: Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), kind.into());
    if let Some(header) = header {
        m.insert("header".into(), header);
    }
    m.insert("body".into(), json!({ "text": body }));
    if let Some(footer) = footer {
        m.insert("footer".into(), json!({ "text": footer }));
    }
    m.insert("action".into(), action);
    Value::Object(m)
}

fn media_object(source: &MediaSource) -> Map<String, Value> {
    let mut m = Map::new();
    match source {
        MediaSource::Id(id) => m.insert("id".into(), id.as_str().into()),
        MediaSource::Link(link) => m.insert("link".into(), link.as_str().into()),
    };
    m
}

fn put_opt(m: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        m.insert(key.into(), value.into());
    }
}

impl InteractiveHeader {
    fn to_json(&self) -> Value {
        let (kind, content) = match self {
            Self::Text(text) => return json!({ "type": "text", "text": text }),
            Self::Image(source) => ("image", media_object(source)),
            Self::Video(source) => ("video", media_object(source)),
            Self::Document { source, filename } => {
                let mut m = media_object(source);
                put_opt(&mut m, "filename", filename.as_deref());
                ("document", m)
            }
        };
        json!({ "type": kind, kind: content })
    }
}

impl ListSection {
    fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("id".into(), r.id.as_str().into());
                m.insert("title".into(), r.title.as_str().into());
                put_opt(&mut m, "description", r.description.as_deref());
                Value::Object(m)
            })
            .collect();
        let mut m = Map::new();
        put_opt(&mut m, "title", self.title.as_deref());
        m.insert("rows".into(), Value::Array(rows));
        Value::Object(m)
    }
}

impl TemplateComponent {
    fn to_json(&self) -> Value {
        let parameters =
            |params: &[TemplateParameter]| -> Value { params.iter().map(TemplateParameter::to_json).collect() };
        match self {
            Self::Header(params) => json!({ "type": "header", "parameters": parameters(params) }),
            Self::Body(params) => json!({ "type": "body", "parameters": parameters(params) }),
            Self::QuickReplyButton { index, payload } => json!({
                "type": "button",
                "sub_type": "quick_reply",
                "index": index.to_string(),
                "parameters": [{ "type": "payload", "payload": payload }],
            }),
            Self::UrlButton { index, url_suffix } => json!({
                "type": "button",
                "sub_type": "url",
                "index": index.to_string(),
                "parameters": [{ "type": "text", "text": url_suffix }],
            }),
        }
    }
}

impl TemplateParameter {
    fn to_json(&self) -> Value {
        let (kind, content) = match self {
            Self::Text { text, parameter_name } => {
                let mut m = Map::new();
                m.insert("type".into(), "text".into());
                put_opt(&mut m, "parameter_name", parameter_name.as_deref());
                m.insert("text".into(), text.as_str().into());
                return Value::Object(m);
            }
            Self::Currency { fallback_value, code, amount_1000 } => {
                ("currency", json!({ "fallback_value": fallback_value, "code": code, "amount_1000": amount_1000 }))
            }
            Self::DateTime { fallback_value } => ("date_time", json!({ "fallback_value": fallback_value })),
            Self::Image(source) => ("image", Value::Object(media_object(source))),
            Self::Video(source) => ("video", Value::Object(media_object(source))),
            Self::Document { source, filename } => {
                let mut m = media_object(source);
                put_opt(&mut m, "filename", filename.as_deref());
                ("document", Value::Object(m))
            }
        };
        json!({ "type": kind, kind: content })
    }

    fn is_media(&self) -> bool {
        matches!(self, Self::Image(_) | Self::Video(_) | Self::Document { .. })
    }
}

#[derive(Default)]
struct Checker {
    errors: Vec<SendValidationError>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SendValidationError { field: field.into(), message: message.into() });
    }

    /// Present, not blank, at most `max` chars.
    fn required(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
            return;
        }
        let len = value.chars().count();
        if len > max {
            self.fail(field, format!("must be at most {max} characters (is {len})"));
        }
    }

    /// Absent, or present, not blank and at most `max` chars.
    fn optional(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            if value.trim().is_empty() {
                self.fail(field, "must not be empty (leave it out instead)");
            } else {
                self.required(field, value, max);
            }
        }
    }

    /// `base` is the JSON object holding `id`/`link` (`image`, `header.video`, …).
    fn media(&mut self, base: &str, source: &MediaSource) {
        match source {
            MediaSource::Id(id) => self.required(&format!("{base}.id"), id, usize::MAX),
            MediaSource::Link(link) => {
                if !is_http_url(link) {
                    self.fail(format!("{base}.link"), "must be an http:// or https:// URL");
                }
            }
        }
    }

    fn header(&mut self, header: &InteractiveHeader) {
        match header {
            InteractiveHeader::Text(text) => self.required("header.text", text, HEADER_TEXT_MAX),
            InteractiveHeader::Image(source) => self.media("header.image", source),
            InteractiveHeader::Video(source) => self.media("header.video", source),
            InteractiveHeader::Document { source, filename } => {
                self.media("header.document", source);
                self.optional("header.document.filename", filename.as_deref(), usize::MAX);
            }
        }
    }

    fn buttons(&mut self, buttons: &[ReplyButton]) {
        if buttons.is_empty() {
            self.fail("buttons", "add at least one button");
        }
        for i in BUTTONS_MAX..buttons.len() {
            self.fail(format!("buttons[{i}]"), format!("at most {BUTTONS_MAX} buttons are allowed"));
        }
        let mut titles: HashMap<&str, usize> = HashMap::new();
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, b) in buttons.iter().enumerate() {
            self.required(&format!("buttons[{i}].id"), &b.id, BUTTON_ID_MAX);
            self.required(&format!("buttons[{i}].title"), &b.title, BUTTON_TITLE_MAX);
            // Blank titles and ids are reported as empty above, not as duplicates.
            if !b.title.trim().is_empty()
                && let Some(first) = first_seen(&mut titles, b.title.trim(), i)
            {
                self.fail(format!("buttons[{i}].title"), format!("must differ from the title of buttons[{first}]"));
            }
            if !b.id.trim().is_empty()
                && let Some(first) = first_seen(&mut ids, b.id.as_str(), i)
            {
                self.fail(format!("buttons[{i}].id"), format!("must differ from the id of buttons[{first}]"));
            }
        }
    }

    fn sections(&mut self, sections: &[ListSection]) {
        if sections.is_empty() {
            self.fail("sections", "add at least one section");
            return;
        }
        for i in SECTIONS_MAX..sections.len() {
            self.fail(format!("sections[{i}]"), format!("at most {SECTIONS_MAX} sections are allowed"));
        }
        let mut seen_rows = 0usize;
        let mut ids: HashMap<&str, (usize, usize)> = HashMap::new();
        for (i, section) in sections.iter().enumerate() {
            let field = format!("sections[{i}].title");
            match &section.title {
                None if sections.len() > 1 => {
                    self.fail(field, "is required when the list has more than one section");
                }
                title => self.optional(&field, title.as_deref(), SECTION_TITLE_MAX),
            }
            if section.rows.is_empty() {
                self.fail(format!("sections[{i}].rows"), "add at least one row");
            }
            for (j, row) in section.rows.iter().enumerate() {
                let field = |name: &str| format!("sections[{i}].rows[{j}]{name}");
                seen_rows += 1;
                if seen_rows > ROWS_MAX {
                    self.fail(field(""), format!("at most {ROWS_MAX} rows in total are allowed"));
                }
                self.required(&field(".id"), &row.id, ROW_ID_MAX);
                self.required(&field(".title"), &row.title, ROW_TITLE_MAX);
                self.optional(&field(".description"), row.description.as_deref(), ROW_DESCRIPTION_MAX);
                if !row.id.trim().is_empty()
                    && let Some((fi, fj)) = first_seen(&mut ids, row.id.as_str(), (i, j))
                {
                    self.fail(field(".id"), format!("must differ from the id of sections[{fi}].rows[{fj}]"));
                }
            }
        }
    }

    fn contacts(&mut self, contacts: &[Value]) {
        if contacts.is_empty() {
            self.fail("contacts", "add at least one contact");
        }
        for (i, contact) in contacts.iter().enumerate() {
            if !contact.is_object() {
                self.fail(format!("contacts[{i}]"), "must be a JSON object");
                continue;
            }
            let name = contact.pointer("/name/formatted_name").and_then(Value::as_str);
            if name.is_none_or(|n| n.trim().is_empty()) {
                self.fail(format!("contacts[{i}].name.formatted_name"), "must not be empty");
            }
        }
    }

    fn template(&mut self, name: &str, language: &str, components: &[TemplateComponent]) {
        if name.is_empty() {
            self.fail("template.name", "must not be empty");
        } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            self.fail("template.name", "may contain only a-z, 0-9 and _");
        } else if name.len() > TEMPLATE_NAME_MAX {
            self.fail("template.name", format!("must be at most {TEMPLATE_NAME_MAX} characters (is {})", name.len()));
        }
        self.required("template.language.code", language, usize::MAX);

        let mut headers = 0;
        let mut bodies = 0;
        let mut button_indexes: HashMap<u8, usize> = HashMap::new();
        for (i, component) in components.iter().enumerate() {
            let base = format!("template.components[{i}]");
            match component {
                TemplateComponent::Header(params) => {
                    headers += 1;
                    if headers == 2 {
                        self.fail(&base, "a template has only one header");
                    }
                    if params.len() != 1 {
                        self.fail(format!("{base}.parameters"), "a header takes exactly one parameter");
                    }
                    for (j, p) in params.iter().enumerate() {
                        self.parameter(&format!("{base}.parameters[{j}]"), p);
                    }
                }
                TemplateComponent::Body(params) => {
                    bodies += 1;
                    if bodies == 2 {
                        self.fail(&base, "a template has only one body");
                    }
                    if params.is_empty() {
                        self.fail(format!("{base}.parameters"), "add at least one parameter");
                    }
                    for (j, p) in params.iter().enumerate() {
                        let field = format!("{base}.parameters[{j}]");
                        if p.is_media() {
                            self.fail(&field, "media parameters belong in the header");
                        } else {
                            self.parameter(&field, p);
                        }
                    }
                }
                TemplateComponent::QuickReplyButton { index, payload } => {
                    self.button_index(&base, *index, i, &mut button_indexes);
                    self.required(&format!("{base}.parameters[0].payload"), payload, usize::MAX);
                }
                TemplateComponent::UrlButton { index, url_suffix } => {
                    self.button_index(&base, *index, i, &mut button_indexes);
                    self.required(&format!("{base}.parameters[0].text"), url_suffix, usize::MAX);
                }
            }
        }
    }

    fn button_index(&mut self, base: &str, index: u8, i: usize, seen: &mut HashMap<u8, usize>) {
        if index > TEMPLATE_BUTTON_INDEX_MAX {
            self.fail(format!("{base}.index"), format!("must be between 0 and {TEMPLATE_BUTTON_INDEX_MAX}"));
        } else if let Some(first) = first_seen(seen, index, i) {
            self.fail(
                format!("{base}.index"),
                format!("button {index} already has values in template.components[{first}]"),
            );
        }
    }

    fn parameter(&mut self, field: &str, p: &TemplateParameter) {
        match p {
            TemplateParameter::Text { text, parameter_name } => {
                self.required(&format!("{field}.text"), text, usize::MAX);
                self.optional(&format!("{field}.parameter_name"), parameter_name.as_deref(), usize::MAX);
            }
            TemplateParameter::Currency { fallback_value, code, .. } => {
                self.required(&format!("{field}.currency.fallback_value"), fallback_value, usize::MAX);
                if !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())) {
                    self.fail(format!("{field}.currency.code"), "must be a three-letter ISO 4217 code, such as USD");
                }
            }
            TemplateParameter::DateTime { fallback_value } => {
                self.required(&format!("{field}.date_time.fallback_value"), fallback_value, usize::MAX);
            }
            TemplateParameter::Image(source) => self.media(&format!("{field}.image"), source),
            TemplateParameter::Video(source) => self.media(&format!("{field}.video"), source),
            TemplateParameter::Document { source, filename } => {
                self.media(&format!("{field}.document"), source);
                self.optional(&format!("{field}.document.filename"), filename.as_deref(), usize::MAX);
            }
        }
    }
}

/// Records `key` at `at` unless already seen; returns where it was first seen.
fn first_seen<K: Eq + std::hash::Hash, V: Copy>(seen: &mut HashMap<K, V>, key: K, at: V) -> Option<V> {
    match seen.entry(key) {
        Entry::Occupied(first) => Some(*first.get()),
        Entry::Vacant(slot) => {
            slot.insert(at);
            None
        }
    }
}

/// `http://` or `https://` (any case), a host, and no whitespace.
fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with('/') && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(body: OutboundBody) -> OutboundMessage {
        OutboundMessage::new(WaId::parse("16505551234").unwrap(), body)
    }

    fn wamid() -> Wamid {
        Wamid::parse("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUZBMDlEQjQ4RkE5RjQyMjUzRAA=").unwrap()
    }

    /// The failing fields, in order; empty when valid.
    fn failures(msg: &OutboundMessage) -> Vec<String> {
        match msg.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => {
                for e in &errors {
                    assert!(!e.message.is_empty(), "{} has a message", e.field);
                }
                errors.into_iter().map(|e| e.field).collect()
            }
        }
    }

    fn check(cases: Vec<(&str, OutboundBody, &[&str])>) {
        for (name, body, expected) in cases {
            assert_eq!(failures(&message(body)), expected, "{name}");
        }
    }

    fn s(n: usize) -> String {
        // Two bytes per char: limits count chars, not bytes.
        "é".repeat(n)
    }

    fn text(body: String) -> OutboundBody {
        OutboundBody::Text { body, preview_url: false }
    }

    fn media(kind: MediaKind, source: MediaSource, caption: Option<String>) -> OutboundBody {
        OutboundBody::Media { kind, source, caption, filename: None }
    }

    fn link(url: &str) -> MediaSource {
        MediaSource::Link(url.into())
    }

    fn button(id: &str, title: &str) -> ReplyButton {
        ReplyButton { id: id.into(), title: title.into() }
    }

    fn buttons(
        header: Option<InteractiveHeader>,
        body: String,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    ) -> OutboundBody {
        OutboundBody::Buttons { header, body, footer, buttons }
    }

    fn yes_no() -> Vec<ReplyButton> {
        vec![button("yes", "Yes"), button("no", "No")]
    }

    fn row(id: &str) -> ListRow {
        ListRow { id: id.into(), title: format!("Row {id}"), description: None }
    }

    fn section(title: Option<&str>, rows: Vec<ListRow>) -> ListSection {
        ListSection { title: title.map(Into::into), rows }
    }

    fn list(button: &str, sections: Vec<ListSection>) -> OutboundBody {
        OutboundBody::List { header: None, body: "Pick one".into(), footer: None, button: button.into(), sections }
    }

    fn rows(prefix: &str, n: usize) -> Vec<ListRow> {
        (0..n).map(|i| row(&format!("{prefix}{i}"))).collect()
    }

    fn template(name: &str, language: &str, components: Vec<TemplateComponent>) -> OutboundBody {
        OutboundBody::Template { name: name.into(), language: language.into(), components }
    }

    #[test]
    fn text_limits() {
        check(vec![
            ("4096 two-byte chars", text(s(4096)), &[]),
            ("4097 chars", text(s(4097)), &["text.body"]),
            ("empty", text(String::new()), &["text.body"]),
            ("blank", text(" \n\t".into()), &["text.body"]),
        ]);
    }

    #[test]
    fn media_limits() {
        use MediaKind::*;
        let ok = link("https://example.com/a.jpg");
        check(vec![
            ("caption 1024", media(Image, ok.clone(), Some(s(1024))), &[]),
            ("caption 1025", media(Image, ok.clone(), Some(s(1025))), &["image.caption"]),
            ("empty caption", media(Video, ok.clone(), Some(String::new())), &["video.caption"]),
            ("audio caption", media(Audio, ok.clone(), Some("x".into())), &["audio.caption"]),
            ("sticker caption", media(Sticker, ok.clone(), Some("x".into())), &["sticker.caption"]),
            ("http link", media(Document, link("HTTP://example.com/a.pdf"), None), &[]),
            ("uploaded id", media(Audio, MediaSource::Id("1234".into()), None), &[]),
            ("empty id", media(Audio, MediaSource::Id(String::new()), None), &["audio.id"]),
            ("ftp link", media(Image, link("ftp://example.com/a.jpg"), None), &["image.link"]),
            ("relative link", media(Image, link("/a.jpg"), None), &["image.link"]),
            ("no host", media(Image, link("https://"), None), &["image.link"]),
            ("space in link", media(Image, link("https://e.com/a b.jpg"), None), &["image.link"]),
            (
                "document filename",
                OutboundBody::Media {
                    kind: Document,
                    source: ok.clone(),
                    caption: Some("Invoice".into()),
                    filename: Some("invoice.pdf".into()),
                },
                &[],
            ),
            (
                "image filename",
                OutboundBody::Media { kind: Image, source: ok.clone(), caption: None, filename: Some("a.jpg".into()) },
                &["image.filename"],
            ),
        ]);
    }

    #[test]
    fn reply_button_limits() {
        let body = || "Choose".to_string();
        check(vec![
            ("two buttons", buttons(None, body(), None, yes_no()), &[]),
            ("no buttons", buttons(None, body(), None, vec![]), &["buttons"]),
            (
                "four buttons",
                buttons(
                    None,
                    body(),
                    None,
                    vec![button("a", "A"), button("b", "B"), button("c", "C"), button("d", "D")],
                ),
                &["buttons[3]"],
            ),
            ("title 20", buttons(None, body(), None, vec![button("a", &s(20))]), &[]),
            ("title 21", buttons(None, body(), None, vec![button("a", &s(21))]), &["buttons[0].title"]),
            ("empty title", buttons(None, body(), None, vec![button("a", "")]), &["buttons[0].title"]),
            (
                "duplicate titles",
                buttons(None, body(), None, vec![button("a", "Yes"), button("b", "Yes ")]),
                &["buttons[1].title"],
            ),
            ("id 256", buttons(None, body(), None, vec![button(&s(256), "A")]), &[]),
            ("id 257", buttons(None, body(), None, vec![button(&s(257), "A")]), &["buttons[0].id"]),
            ("empty id", buttons(None, body(), None, vec![button("", "A")]), &["buttons[0].id"]),
            (
                "duplicate ids",
                buttons(None, body(), None, vec![button("a", "A"), button("a", "B")]),
                &["buttons[1].id"],
            ),
            ("body 1024", buttons(None, s(1024), None, yes_no()), &[]),
            ("body 1025", buttons(None, s(1025), None, yes_no()), &["body"]),
            ("empty body", buttons(None, String::new(), None, yes_no()), &["body"]),
            ("footer 60", buttons(None, body(), Some(s(60)), yes_no()), &[]),
            ("footer 61", buttons(None, body(), Some(s(61)), yes_no()), &["footer"]),
            ("text header 60", buttons(Some(InteractiveHeader::Text(s(60))), body(), None, yes_no()), &[]),
            ("text header 61", buttons(Some(InteractiveHeader::Text(s(61))), body(), None, yes_no()), &["header.text"]),
            (
                "image header link",
                buttons(Some(InteractiveHeader::Image(link("file:///etc/passwd"))), body(), None, yes_no()),
                &["header.image.link"],
            ),
            (
                "document header",
                buttons(
                    Some(InteractiveHeader::Document {
                        source: MediaSource::Id("42".into()),
                        filename: Some(String::new()),
                    }),
                    body(),
                    None,
                    yes_no(),
                ),
                &["header.document.filename"],
            ),
            (
                "several at once",
                buttons(None, String::new(), Some(s(61)), vec![button("a", ""), button("a", "B")]),
                &["body", "footer", "buttons[0].title", "buttons[1].id"],
            ),
        ]);
    }

    #[test]
    fn list_limits() {
        let with = |f: &dyn Fn(&mut OutboundBody)| {
            let mut body = list("Options", vec![section(None, rows("r", 3))]);
            f(&mut body);
            body
        };
        let set = |field: &'static str, value: String| {
            with(&move |b| {
                if let OutboundBody::List { header, body, footer, button, .. } = b {
                    match field {
                        "header" => *header = Some(value.clone()),
                        "body" => *body = value.clone(),
                        "footer" => *footer = Some(value.clone()),
                        _ => *button = value.clone(),
                    }
                }
            })
        };
        let long_row = |f: fn(&mut ListRow)| {
            let mut r = row("x");
            f(&mut r);
            list("Options", vec![section(None, vec![r])])
        };
        check(vec![
            ("valid", with(&|_| {}), &[]),
            ("header 60", set("header", s(60)), &[]),
            ("header 61", set("header", s(61)), &["header.text"]),
            ("body 4096", set("body", s(4096)), &[]),
            ("body 4097", set("body", s(4097)), &["body"]),
            ("footer 61", set("footer", s(61)), &["footer"]),
            ("button 20", set("button", s(20)), &[]),
            ("button 21", set("button", s(21)), &["button"]),
            ("empty button", set("button", String::new()), &["button"]),
            ("no sections", list("Options", vec![]), &["sections"]),
            (
                "ten sections",
                list("Options", (0..10).map(|i| section(Some("S"), rows(&i.to_string(), 1))).collect()),
                &[],
            ),
            (
                "eleven sections",
                list("Options", (0..11).map(|i| section(Some("S"), rows(&i.to_string(), 1))).collect()),
                &["sections[10]", "sections[10].rows[0]"],
            ),
            ("ten rows", list("Options", vec![section(None, rows("r", 10))]), &[]),
            ("eleven rows", list("Options", vec![section(None, rows("r", 11))]), &["sections[0].rows[10]"]),
            (
                "eleven rows over two sections",
                list("Options", vec![section(Some("A"), rows("a", 6)), section(Some("B"), rows("b", 5))]),
                &["sections[1].rows[4]"],
            ),
            (
                "empty section",
                list("Options", vec![section(Some("A"), rows("a", 1)), section(Some("B"), vec![])]),
                &["sections[1].rows"],
            ),
            (
                "untitled sections",
                list("Options", vec![section(None, rows("a", 1)), section(None, rows("b", 1))]),
                &["sections[0].title", "sections[1].title"],
            ),
            ("section title 24", list("O", vec![section(Some(&s(24)), rows("a", 1))]), &[]),
            ("section title 25", list("O", vec![section(Some(&s(25)), rows("a", 1))]), &["sections[0].title"]),
            ("row id 200", long_row(|r| r.id = "é".repeat(200)), &[]),
            ("row id 201", long_row(|r| r.id = "é".repeat(201)), &["sections[0].rows[0].id"]),
            ("row title 24", long_row(|r| r.title = "é".repeat(24)), &[]),
            ("row title 25", long_row(|r| r.title = "é".repeat(25)), &["sections[0].rows[0].title"]),
            ("row description 72", long_row(|r| r.description = Some("é".repeat(72))), &[]),
            (
                "row description 73",
                long_row(|r| r.description = Some("é".repeat(73))),
                &["sections[0].rows[0].description"],
            ),
            (
                "duplicate row ids across sections",
                list("O", vec![section(Some("A"), vec![row("x")]), section(Some("B"), vec![row("x")])]),
                &["sections[1].rows[0].id"],
            ),
        ]);
    }

    #[test]
    fn template_limits() {
        use TemplateComponent::*;
        let image = || TemplateParameter::Image(link("https://example.com/a.png"));
        check(vec![
            ("bare", template("hello_world", "en_US", vec![]), &[]),
            ("name 512", template(&"a".repeat(512), "en", vec![]), &[]),
            ("name 513", template(&"a".repeat(513), "en", vec![]), &["template.name"]),
            ("uppercase name", template("Hello", "en", vec![]), &["template.name"]),
            ("dashed name", template("hello-world", "en", vec![]), &["template.name"]),
            ("empty name", template("", "en", vec![]), &["template.name"]),
            ("empty language", template("x", "", vec![]), &["template.language.code"]),
            (
                "every parameter kind",
                template(
                    "order_update",
                    "en",
                    vec![
                        Header(vec![image()]),
                        Body(vec![
                            TemplateParameter::text("Ana"),
                            TemplateParameter::Text { text: "42".into(), parameter_name: Some("order".into()) },
                            TemplateParameter::Currency {
                                fallback_value: "$10.99".into(),
                                code: "USD".into(),
                                amount_1000: 10_990,
                            },
                            TemplateParameter::DateTime { fallback_value: "May 1, 2026".into() },
                        ]),
                        QuickReplyButton { index: 0, payload: "stop".into() },
                        UrlButton { index: 1, url_suffix: "orders/42".into() },
                    ],
                ),
                &[],
            ),
            (
                "header with two parameters",
                template("x", "en", vec![Header(vec![image(), image()])]),
                &["template.components[0].parameters"],
            ),
            (
                "media in the body",
                template("x", "en", vec![Body(vec![image()])]),
                &["template.components[0].parameters[0]"],
            ),
            (
                "empty text parameter",
                template("x", "en", vec![Body(vec![TemplateParameter::text(" ")])]),
                &["template.components[0].parameters[0].text"],
            ),
            (
                "bad currency",
                template(
                    "x",
                    "en",
                    vec![Body(vec![TemplateParameter::Currency {
                        fallback_value: String::new(),
                        code: "usd".into(),
                        amount_1000: 1,
                    }])],
                ),
                &[
                    "template.components[0].parameters[0].currency.fallback_value",
                    "template.components[0].parameters[0].currency.code",
                ],
            ),
            (
                "header media link",
                template("x", "en", vec![Header(vec![TemplateParameter::Video(link("x"))])]),
                &["template.components[0].parameters[0].video.link"],
            ),
            (
                "button index 10",
                template("x", "en", vec![QuickReplyButton { index: 10, payload: "p".into() }]),
                &["template.components[0].index"],
            ),
            (
                "duplicate button index",
                template(
                    "x",
                    "en",
                    vec![
                        QuickReplyButton { index: 0, payload: "p".into() },
                        UrlButton { index: 0, url_suffix: "s".into() },
                    ],
                ),
                &["template.components[1].index"],
            ),
            (
                "empty payload and suffix",
                template(
                    "x",
                    "en",
                    vec![
                        QuickReplyButton { index: 0, payload: String::new() },
                        UrlButton { index: 1, url_suffix: String::new() },
                    ],
                ),
                &["template.components[0].parameters[0].payload", "template.components[1].parameters[0].text"],
            ),
        ]);
    }

    #[test]
    fn other_limits() {
        let location = |latitude, longitude| OutboundBody::Location {
            latitude,
            longitude,
            name: None,
            address: Some("1 Main St".into()),
        };
        let reaction = |emoji: &str| OutboundBody::Reaction { message_id: wamid(), emoji: emoji.into() };
        check(vec![
            ("location", location(-90.0, 180.0), &[]),
            ("latitude 91", location(91.0, 0.0), &["location.latitude"]),
            ("longitude NaN", location(0.0, f64::NAN), &["location.longitude"]),
            ("contacts", OutboundBody::Contacts(vec![json!({"name": {"formatted_name": "Ana"}})]), &[]),
            ("no contacts", OutboundBody::Contacts(vec![]), &["contacts"]),
            (
                "contact without a name",
                OutboundBody::Contacts(vec![json!({"name": {}}), json!("Ana")]),
                &["contacts[0].name.formatted_name", "contacts[1]"],
            ),
            ("reaction", reaction("👍"), &[]),
            ("reaction removal", reaction(""), &[]),
        ]);

        let mut reply = message(reaction("👍"));
        reply.reply_to = Some(wamid());
        assert_eq!(failures(&reply), ["context.message_id"]);

        let mut tagged = message(text("hi".into()));
        tagged.biz_opaque_callback_data = Some("t".repeat(CALLER_CALLBACK_DATA_MAX));
        assert_eq!(failures(&tagged), Vec::<String>::new());
        tagged.biz_opaque_callback_data = Some("t".repeat(CALLER_CALLBACK_DATA_MAX + 1));
        assert_eq!(failures(&tagged), ["biz_opaque_callback_data"]);
    }

    #[test]
    fn the_tag_names_the_message_within_metas_limit() {
        let id = MessageId::new();
        let mut plain = message(text("hi".into())).to_json();
        tag_request(&mut plain, id);
        let data = plain["biz_opaque_callback_data"].as_str().unwrap().to_owned();
        assert_eq!(data, format!("sb:{id}"));
        assert_eq!(tagged_message(&data), Some(id));
        // Tagging again (a retry) changes nothing.
        tag_request(&mut plain, id);
        assert_eq!(plain["biz_opaque_callback_data"], data.as_str());

        // A caller's value keeps its place behind the tag, and the whole fits Meta's 512.
        let mut theirs = message(text("hi".into()));
        theirs.biz_opaque_callback_data = Some("é".repeat(CALLER_CALLBACK_DATA_MAX));
        let mut body = theirs.to_json();
        tag_request(&mut body, id);
        let data = body["biz_opaque_callback_data"].as_str().unwrap();
        assert_eq!(data.chars().count(), CALLBACK_DATA_MAX);
        assert!(data.ends_with(&format!("|{}", "é".repeat(CALLER_CALLBACK_DATA_MAX))));
        assert_eq!(tagged_message(data), Some(id));

        for other in ["", "ticket-42", "sb:", "sb:not-a-uuid-at-all-but-36-chars-lon", &format!("sb:{id}x")] {
            assert_eq!(tagged_message(other), None, "{other}");
        }
    }

    #[test]
    fn errors_read_as_field_and_message() {
        let errors = message(text(String::new())).validate().unwrap_err();
        assert_eq!(errors[0].to_string(), "text.body: must not be empty");
        let errors = message(text(s(4097))).validate().unwrap_err();
        assert_eq!(errors[0].message, "must be at most 4096 characters (is 4097)");
    }

    #[test]
    fn mark_read_with_and_without_typing() {
        assert_eq!(
            mark_read_json(&wamid(), false),
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid().as_str()})
        );
        assert_eq!(
            mark_read_json(&wamid(), true),
            json!({
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": wamid().as_str(),
                "typing_indicator": {"type": "text"},
            })
        );
    }
}
