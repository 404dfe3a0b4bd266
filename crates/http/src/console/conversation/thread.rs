//! The thread: a conversation's messages in order with their delivery marks, media,
//! quoted messages and reactions, and its private notes among them.
//!
//! Pages are read by message (`MessageStore::messages_before`: the last page, then the
//! pages before it); the notes of a page are those written from its first message up to
//! the next page's first message (`NoteStore::notes_between`), so each note shows once,
//! between the messages it was written between. The *tail* is everything from the first
//! message the page opened with to the newest: what the live stream re-reads and the
//! browser merges in (`conversation.js`), item by item.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use switchboard_cloudapi::GraphError;
use switchboard_domain::message::{InteractiveReply, MessageContent, StatusError};
use switchboard_domain::{AgentId, ConversationId, DeliveryState, Direction, MessageId};
use switchboard_store::{ConversationView, MessageCursor, MessageQuery, MessageView, Note, StoreError};

use crate::AppState;
use crate::error::ApiError;

/// Messages on a page of the thread.
pub(super) const PAGE: u32 = 50;
/// The most messages (and notes) the tail holds; past it the browser reloads the page.
pub(super) const TAIL_MAX: u32 = 500;

/// One entry of the thread: a message, a note, or the button that loads earlier ones.
pub(crate) struct Entry {
    pub message: Option<MessageItem>,
    pub note: Option<NoteItem>,
    /// `GET` this for the page before (the first entry of a page with older messages).
    pub earlier: Option<String>,
}

pub(crate) struct MessageItem {
    pub id: String,
    pub inbound: bool,
    pub author: String,
    /// Sent by an auto-reply rule.
    pub auto: bool,
    pub at: DateTime<Utc>,
    pub text: Option<String>,
    pub media: Option<MediaItem>,
    pub location: Option<LocationItem>,
    /// What a message that is neither text nor media says, in words.
    pub summary: Option<String>,
    pub quoted: Option<Quoted>,
    pub forwarded: bool,
    pub reactions: Vec<String>,
    /// Outbound only.
    pub mark: Option<Mark>,
    /// Why WhatsApp could not show an inbound message.
    pub problem: Option<String>,
}

pub(crate) struct MediaItem {
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: &'static str,
    /// Where the file is served: our media route for a file with a media id, else its link.
    pub url: Option<String>,
    pub caption: Option<String>,
    /// A document's file name, or what the file is.
    pub name: String,
}

pub(crate) struct LocationItem {
    pub url: String,
    pub label: String,
}

pub(crate) struct Quoted {
    /// The quoted message's element id, when it is on the page.
    pub anchor: Option<String>,
    pub snippet: String,
}

pub(crate) struct Mark {
    /// `queued`, `sent`, `delivered`, `read`, `failed`.
    pub state: &'static str,
    pub label: &'static str,
    pub symbol: &'static str,
    pub at: Option<DateTime<Utc>>,
    /// Meta's reason, in plain words (failed only).
    pub reason: Option<String>,
}

pub(crate) struct NoteItem {
    pub id: String,
    pub author: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// `2026-12-07T14:05:00Z`, for `<time datetime>`.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `7 Dec 14:05` (UTC; `conversation.js` shows it in the browser's time zone).
pub(crate) fn short(t: &DateTime<Utc>) -> String {
    t.format("%-d %b %H:%M").to_string()
}

impl MessageItem {
    pub fn at_iso(&self) -> String {
        iso(&self.at)
    }
    pub fn at_short(&self) -> String {
        short(&self.at)
    }
}

impl NoteItem {
    pub fn at_iso(&self) -> String {
        iso(&self.at)
    }
    pub fn at_short(&self) -> String {
        short(&self.at)
    }
}

impl Mark {
    pub fn at_iso(&self) -> String {
        self.at.as_ref().map(iso).unwrap_or_default()
    }
    pub fn at_short(&self) -> String {
        self.at.as_ref().map(short).unwrap_or_default()
    }
}

/// A page of the thread as rendered entries, and where it starts.
pub(crate) struct Thread {
    pub entries: Vec<Entry>,
    /// The first message of the page, when older messages remain (the tail starts there).
    pub from: Option<MessageId>,
    /// The tail had more than [`TAIL_MAX`] messages: reload instead of merging.
    pub overflow: bool,
}

/// Who wrote what: agents' names by id, and the contact's name.
pub(crate) struct Names {
    pub agents: HashMap<AgentId, String>,
    pub contact: String,
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound { what: "conversation" },
        e => e.into(),
    }
}

/// The last page of the thread (when `before` is `None`) or the page before message
/// `before`.
pub(crate) async fn page(
    state: &AppState,
    id: ConversationId,
    before: Option<MessageId>,
    names: &Names,
) -> Result<Thread, ApiError> {
    let page = state.store.messages_before(id, before.map(|id| MessageCursor { id }), PAGE).await.map_err(not_found)?;
    let from = page.next.map(|c| c.id);
    // Notes from this page's first message (from the start if it is the first page) up
    // to the next page's first message (`before`), if any.
    let lower = if from.is_some() { page.items.first().map(|m| m.created_at) } else { None };
    let upper = match before {
        Some(b) => state.store.message(b).await?.filter(|m| m.conversation_id == id).map(|m| m.created_at),
        None => None,
    };
    let notes = state.store.notes_between(id, lower, upper, TAIL_MAX).await.map_err(not_found)?;
    let mut entries = entries(page.items, notes, names);
    if let Some(first) = from {
        entries
            .insert(0, Entry { message: None, note: None, earlier: Some(format!("/c/{id}/messages?before={first}")) });
    }
    Ok(Thread { entries, from, overflow: false })
}

/// Everything from message `from` (from the start when `None`) to the newest.
pub(crate) async fn tail(
    state: &AppState,
    id: ConversationId,
    from: Option<MessageId>,
    names: &Names,
) -> Result<Thread, ApiError> {
    let first = match from {
        Some(m) => state.store.message(m).await?.filter(|m| m.conversation_id == id),
        None => None,
    };
    if from.is_some() && first.is_none() {
        return Err(ApiError::field("from", "is not a message of this conversation"));
    }
    let page = state
        .store
        .list_messages(id, &MessageQuery { limit: TAIL_MAX, after: from.map(|id| MessageCursor { id }) })
        .await
        .map_err(not_found)?;
    let overflow = page.next.is_some();
    let lower = first.as_ref().map(|m| m.created_at);
    let notes = state.store.notes_between(id, lower, None, TAIL_MAX).await.map_err(not_found)?;
    let mut messages: Vec<MessageView> = first.into_iter().collect();
    messages.extend(page.items);
    Ok(Thread { entries: entries(messages, notes, names), from, overflow })
}

/// Messages and notes in the order they were written, with reactions and quotes resolved
/// within the page.
fn entries(messages: Vec<MessageView>, notes: Vec<Note>, names: &Names) -> Vec<Entry> {
    // The latest reaction per message reacted to (by wamid); `None` took it back.
    let mut reactions: HashMap<String, Option<String>> = HashMap::new();
    let mut by_wamid: HashMap<String, (String, String)> = HashMap::new();
    for m in &messages {
        if let MessageContent::Reaction { message_id, emoji } = &m.content {
            reactions.insert(message_id.clone(), emoji.clone());
        }
        if let Some(w) = &m.wamid {
            by_wamid.insert(w.as_str().to_owned(), (format!("m-{}", m.id), snippet(m)));
        }
    }
    let mut out = Vec::with_capacity(messages.len() + notes.len());
    let mut notes = notes.into_iter().peekable();
    for m in messages {
        while let Some(n) = notes.next_if(|n| n.created_at < m.created_at) {
            out.push(note_entry(n, names));
        }
        // A reaction shows on the message it reacts to, when that is on the page.
        if let MessageContent::Reaction { message_id, .. } = &m.content
            && by_wamid.contains_key(message_id)
        {
            continue;
        }
        let item = message_item(m, names, &reactions, &by_wamid);
        out.push(Entry { message: Some(item), note: None, earlier: None });
    }
    out.extend(notes.map(|n| note_entry(n, names)));
    out
}

fn note_entry(n: Note, names: &Names) -> Entry {
    let author = n.author_id.and_then(|a| names.agents.get(&a).cloned()).unwrap_or_else(|| "A former agent".into());
    Entry {
        message: None,
        note: Some(NoteItem { id: format!("n-{}", n.id), author, at: n.created_at, text: n.text }),
        earlier: None,
    }
}

/// A few words of a message, for a quote.
fn snippet(m: &MessageView) -> String {
    let text = m.text.clone().or_else(|| m.content.media().and_then(|x| x.caption.clone()));
    match text {
        Some(t) => {
            let mut s: String = t.chars().take(80).collect();
            if t.chars().count() > 80 {
                s.push('…');
            }
            s
        }
        None => format!("({})", m.content.kind().as_str()),
    }
}

fn message_item(
    m: MessageView,
    names: &Names,
    reactions: &HashMap<String, Option<String>>,
    by_wamid: &HashMap<String, (String, String)>,
) -> MessageItem {
    let inbound = m.direction == Direction::Inbound;
    let auto = m.auto_rule.is_some();
    let author = if inbound {
        names.contact.clone()
    } else if auto {
        "Auto-reply".into()
    } else {
        m.sent_by.and_then(|a| names.agents.get(&a).cloned()).unwrap_or_else(|| "The business".into())
    };
    let quoted = m.context.as_ref().and_then(|c| c.message_id.as_ref()).map(|w| match by_wamid.get(w) {
        Some((anchor, snippet)) => Quoted { anchor: Some(anchor.clone()), snippet: snippet.clone() },
        None => Quoted { anchor: None, snippet: "an earlier message".into() },
    });
    let forwarded = m.context.as_ref().is_some_and(|c| c.forwarded || c.frequently_forwarded);
    let own_reaction = m.wamid.as_ref().and_then(|w| reactions.get(w.as_str())).cloned().flatten();
    let mark = (!inbound).then(|| mark(&m));
    let problem =
        (inbound && !m.errors.is_empty()).then(|| m.errors.iter().map(plain_reason).collect::<Vec<_>>().join(" "));
    let mut item = MessageItem {
        id: format!("m-{}", m.id),
        inbound,
        author,
        auto,
        at: m.timestamp,
        text: None,
        media: None,
        location: None,
        summary: None,
        quoted,
        forwarded,
        reactions: own_reaction.into_iter().collect(),
        mark,
        problem,
    };
    // A file with a media id (a customer's, or one an agent uploaded) is served by our media
    // route; one sent by link is Meta's to fetch from there.
    let media_url = |media: &switchboard_domain::message::Media| {
        media.id.as_ref().map(|_| format!("/api/v1/messages/{}/media", m.id)).or_else(|| media.link.clone())
    };
    match &m.content {
        MessageContent::Text { .. } => item.text = m.text.clone(),
        MessageContent::Image(x)
        | MessageContent::Video(x)
        | MessageContent::Audio(x)
        | MessageContent::Document(x)
        | MessageContent::Sticker(x) => {
            let kind = m.content.kind().as_str();
            let kind: &'static str = match kind {
                "image" => "image",
                "video" => "video",
                "audio" => "audio",
                "sticker" => "sticker",
                _ => "document",
            };
            let name = x.filename.clone().unwrap_or_else(|| match kind {
                "image" => "Image".into(),
                "video" => "Video".into(),
                "audio" if x.voice => "Voice message".into(),
                "audio" => "Audio".into(),
                "sticker" => "Sticker".into(),
                _ => "Document".into(),
            });
            item.media = Some(MediaItem { kind, url: media_url(x), caption: x.caption.clone(), name });
        }
        MessageContent::Location { latitude, longitude, name, address, url: _ } => {
            let label = match (name, address) {
                (Some(n), Some(a)) => format!("{n}, {a}"),
                (Some(n), None) => n.clone(),
                (None, Some(a)) => a.clone(),
                (None, None) => format!("{latitude:.5}, {longitude:.5}"),
            };
            item.location = Some(LocationItem {
                url: format!(
                    "https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}#map=17/{latitude}/{longitude}"
                ),
                label,
            });
        }
        MessageContent::Contacts { contacts } => {
            let names: Vec<String> = contacts
                .iter()
                .filter_map(|c| c.pointer("/name/formatted_name").and_then(|n| n.as_str()).map(str::to_owned))
                .collect();
            item.summary = Some(if names.is_empty() {
                "Shared a contact card".into()
            } else {
                format!("Shared a contact card: {}", names.join(", "))
            });
        }
        MessageContent::Interactive(reply) => {
            item.summary = Some(match reply {
                InteractiveReply::ButtonReply { title, .. } => format!("Chose “{title}”"),
                InteractiveReply::ListReply { title, .. } => format!("Chose “{title}” from the list"),
                InteractiveReply::FlowReply { name, .. } => {
                    format!("Answered the form{}", name.as_ref().map(|n| format!(" “{n}”")).unwrap_or_default())
                }
                InteractiveReply::Other { subtype } => format!("Answered an interactive message ({subtype})"),
            });
        }
        MessageContent::Button { text, .. } => item.summary = Some(format!("Pressed “{text}”")),
        MessageContent::Reaction { emoji, .. } => {
            item.summary = Some(match emoji {
                Some(e) => format!("Reacted {e} to an earlier message"),
                None => "Took back a reaction".into(),
            });
        }
        MessageContent::Order { text, product_items, .. } => {
            let n = product_items.len();
            item.summary = Some(format!("Sent an order of {n} item{}", if n == 1 { "" } else { "s" }));
            item.text = text.clone();
        }
        MessageContent::System { kind, body, .. } => {
            item.summary = Some(body.clone().unwrap_or_else(|| format!("WhatsApp notice: {kind}")));
        }
        MessageContent::RequestWelcome => item.summary = Some("Opened the chat for the first time".into()),
        MessageContent::Template { name, language, parameters } => {
            item.summary = Some(format!("Template “{name}” ({language})"));
            if !parameters.is_empty() {
                item.text = Some(parameters.join(" · "));
            }
        }
        MessageContent::InteractiveMessage { style, body, options } => {
            item.text = Some(body.clone());
            let titles: Vec<&str> = options.iter().map(|o| o.title.as_str()).collect();
            let what = if style == "list" { "List" } else { "Buttons" };
            item.summary = Some(format!("{what}: {}", titles.join(" · ")));
        }
        MessageContent::Unsupported => {
            item.summary = Some("WhatsApp could not show this message (an unsupported type, or deleted)".into());
        }
        MessageContent::Unknown { original_type } => {
            item.summary = Some(format!("A message of a type this version cannot show ({original_type})"));
        }
    }
    item
}

/// The delivery mark of an outbound message.
fn mark(m: &MessageView) -> Mark {
    let (state, label, symbol, at) = match m.state {
        DeliveryState::Queued | DeliveryState::Received => ("queued", "Queued", "○", Some(m.created_at)),
        DeliveryState::Sent => ("sent", "Sent", "✓", m.sent_at),
        DeliveryState::Delivered => ("delivered", "Delivered", "✓✓", m.delivered_at),
        DeliveryState::Read => ("read", "Read", "✓✓", m.read_at),
        DeliveryState::Played => ("read", "Played", "✓✓", m.read_at),
        DeliveryState::Failed => ("failed", "Failed", "⚠", m.failed_at),
    };
    let reason = (m.state == DeliveryState::Failed)
        .then(|| m.error.as_ref().map_or_else(|| "WhatsApp did not say why.".into(), plain_reason));
    Mark { state, label, symbol, at, reason }
}

/// Meta's error in plain words: the explanation of its code when it has one; the
/// sender's own explanation (recorded as the details) otherwise.
pub(crate) fn plain_reason(e: &StatusError) -> String {
    if e.code < 0 {
        return e.details.clone().unwrap_or_else(|| e.title.clone());
    }
    let api = GraphError::Api {
        http_status: 400,
        code: Some(e.code),
        subcode: None,
        title: e.title.clone(),
        details: None,
        fbtrace_id: None,
    };
    let explained = api.explanation();
    if explained.contains("(error ") {
        // Not a code we explain: the sender's plain words (or Meta's) say more.
        e.details.clone().filter(|d| !d.is_empty()).unwrap_or(explained)
    } else {
        explained
    }
}

/// The customer's name as agents see it.
pub(crate) fn contact_name(c: &ConversationView) -> String {
    c.contact.name.clone().or_else(|| c.contact.profile_name.clone()).unwrap_or_else(|| c.contact.wa_id.to_string())
}
