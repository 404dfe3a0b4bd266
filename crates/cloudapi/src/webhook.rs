//! Meta's webhook deliveries, parsed into domain [`Change`]s (cloudapi.md §3).
//!
//! Only a body that is not a JSON object with an `entry` array is refused. Everything inside
//! is read tolerantly: unknown fields and message types, missing sub-objects and numbers sent
//! as strings (or strings as numbers) never fail a delivery, and every message and status
//! keeps its raw JSON. Items too broken to type land in [`MessagesChange::malformed`].
//! Non-object `entry[]`/`changes[]` items carry nothing to attribute and are skipped.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use switchboard_domain::inbound::{
    Change, InboundContact, InboundMessage, MessagesChange, OtherChange, StatusReport, StatusValue,
};
use switchboard_domain::message::{InteractiveReply, Media, OrderItem};
use switchboard_domain::{MessageContent, MessageContext, PhoneNumberId, Referral, StatusError, WaId, Wamid};

/// Why a delivery body was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("webhook body is not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("webhook body is not an object with an `entry` array")]
    NotAnEnvelope,
}

/// The timestamp of a delivery's first message or status: the digits of the body's first
/// `"timestamp":"…"`, found by a byte scan (no parsing), at most 18 of them; 0 when there
/// is none. Meta writes it as unix seconds, so it is close to the arrival time.
///
/// It leads the event log's deduplication key: being a function of the bytes alone, a
/// retry (the same bytes) computes the same key as its first copy; being close to the
/// arrival time, new deliveries land at the end of the key's index instead of on a
/// random page of it.
pub fn delivery_time(body: &[u8]) -> i64 {
    const KEY: &[u8] = br#""timestamp":""#;
    let Some(at) = memchr::memmem::find(body, KEY) else {
        return 0;
    };
    body[at + KEY.len()..]
        .iter()
        .take(18)
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + i64::from(b - b'0'))
}

/// Parses one webhook POST body into its changes, in delivery order (all `entry[]`, then
/// all of each entry's `changes[]`).
///
/// # Errors
/// [`ParseError`] only when the body is not JSON or not an object with an `entry` array.
pub fn parse_delivery(body: &[u8]) -> Result<Vec<Change>, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(ParseError::NotJson)?;
    let Value::Object(mut root) = root else {
        return Err(ParseError::NotAnEnvelope);
    };
    let Some(Value::Array(entries)) = root.remove("entry") else {
        return Err(ParseError::NotAnEnvelope);
    };
    Ok(entries
        .into_iter()
        .filter_map(into_object)
        .flat_map(|mut entry| {
            let waba_id = Node(entry.get("id")).string();
            let changes = match entry.remove("changes") {
                Some(Value::Array(changes)) => changes,
                _ => Vec::new(),
            };
            changes.into_iter().filter_map(into_object).map(move |c| change(waba_id.clone(), c))
        })
        .collect())
}

fn into_object(v: Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn change(waba_id: Option<String>, mut change: Map<String, Value>) -> Change {
    let field = Node(change.get("field")).string().unwrap_or_default();
    let value = change.remove("value").unwrap_or(Value::Null);
    if field == "messages" {
        let id = Node(Some(&value)).get("metadata").get("phone_number_id").str();
        if let Some(phone_number_id) = id.and_then(|id| PhoneNumberId::parse(&id).ok()) {
            return Change::Messages(messages_change(phone_number_id, value));
        }
    }
    Change::Other(OtherChange { waba_id, field, value })
}

fn messages_change(phone_number_id: PhoneNumberId, value: Value) -> MessagesChange {
    let v = Node(Some(&value));
    let mut malformed = Vec::new();
    let messages = typed(v.get("messages"), message, &mut malformed);
    let statuses = typed(v.get("statuses"), status, &mut malformed);
    MessagesChange {
        phone_number_id,
        display_phone_number: v.get("metadata").get("display_phone_number").string(),
        contacts: v.get("contacts").items().filter_map(contact).collect(),
        messages,
        statuses,
        errors: errors(v.get("errors")),
        malformed,
        raw: value,
    }
}

/// Types each item of the array `items`; the ones `parse` refuses go to `malformed`, raw.
fn typed<T>(items: Node<'_>, parse: fn(Node<'_>) -> Option<T>, malformed: &mut Vec<Value>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items.items() {
        match parse(item) {
            Some(t) => out.push(t),
            None => malformed.extend(item.raw()),
        }
    }
    out
}

fn contact(c: Node<'_>) -> Option<InboundContact> {
    Some(InboundContact {
        wa_id: WaId::parse(&c.get("wa_id").str()?).ok()?,
        profile_name: c.get("profile").get("name").string(),
        user_id: c.get("user_id").string(),
        parent_user_id: c.get("parent_user_id").string(),
        username: c.get("profile").get("username").string(),
    })
}

fn wamid(id: Node<'_>) -> Option<Wamid> {
    Wamid::parse(&id.str()?).ok()
}

/// Unix seconds, as a string (what Meta sends) or a number. `DateTime<Utc>` is not optional
/// in the domain and this parser reads no clock, so an absent or unreadable timestamp becomes
/// the Unix epoch; the raw JSON shows what was sent.
fn timestamp(t: Node<'_>) -> DateTime<Utc> {
    t.int().and_then(|secs| DateTime::from_timestamp(secs, 0)).unwrap_or(DateTime::UNIX_EPOCH)
}

fn errors(list: Node<'_>) -> Vec<StatusError> {
    list.items()
        .filter_map(|e| {
            Some(StatusError {
                code: e.get("code").int()?,
                title: e.get("title").string().or_else(|| e.get("message").string()).unwrap_or_default(),
                details: e.get("error_data").get("details").string(),
                href: e.get("href").string(),
            })
        })
        .collect()
}

fn status(s: Node<'_>) -> Option<StatusReport> {
    Some(StatusReport {
        wamid: wamid(s.get("id"))?,
        state: StatusValue::parse(&s.get("status").str().unwrap_or_default()),
        timestamp: timestamp(s.get("timestamp")),
        recipient_id: s.get("recipient_id").string(),
        errors: errors(s.get("errors")),
        raw: s.raw()?,
    })
}

fn message(m: Node<'_>) -> Option<InboundMessage> {
    let wamid = wamid(m.get("id"))?;
    let original_type = m.get("type").string().unwrap_or_default();
    let content = content(&original_type, m).unwrap_or(MessageContent::Unknown { original_type });
    Some(InboundMessage {
        wamid,
        from: m.get("from").str().and_then(|f| WaId::parse(&f).ok()),
        from_user_id: m.get("from_user_id").string(),
        timestamp: timestamp(m.get("timestamp")),
        content,
        context: context(m.get("context")),
        referral: referral(m.get("referral")),
        errors: errors(m.get("errors")),
        raw: m.raw()?,
    })
}

/// The content of a message of type `ty`, from its payload object `m[ty]`. `None` when a
/// field the domain requires is missing (a text without a body, a location without
/// coordinates…) or the type is unknown: the caller then records it as `Unknown`.
/// Interactive messages always type: a missing or unknown reply is `InteractiveReply::Other`.
fn content(ty: &str, m: Node<'_>) -> Option<MessageContent> {
    let p = m.get(ty);
    Some(match ty {
        "text" => MessageContent::Text { body: p.get("body").string()? },
        "image" => MessageContent::Image(media(p)),
        "video" => MessageContent::Video(media(p)),
        "audio" => MessageContent::Audio(media(p)),
        "document" => MessageContent::Document(media(p)),
        "sticker" => MessageContent::Sticker(media(p)),
        "location" => MessageContent::Location {
            latitude: p.get("latitude").float()?,
            longitude: p.get("longitude").float()?,
            name: p.get("name").string(),
            address: p.get("address").string(),
            url: p.get("url").string(),
        },
        "contacts" => MessageContent::Contacts { contacts: p.items().filter_map(Node::raw).collect() },
        "interactive" => MessageContent::Interactive(interactive(p)),
        "button" => MessageContent::Button { payload: p.get("payload").string(), text: p.get("text").string()? },
        "reaction" => MessageContent::Reaction {
            message_id: p.get("message_id").string()?,
            emoji: p.get("emoji").string().filter(|e| !e.is_empty()),
        },
        "order" => MessageContent::Order {
            catalog_id: p.get("catalog_id").string(),
            text: p.get("text").string(),
            product_items: p.get("product_items").items().filter_map(order_item).collect(),
        },
        "system" => MessageContent::System {
            kind: p.get("type").string()?,
            body: p.get("body").string(),
            // `wa_id` in current payloads, `new_wa_id` in older ones.
            new_wa_id: p.get("wa_id").string().or_else(|| p.get("new_wa_id").string()),
            user_id: p.get("user_id").string(),
        },
        "request_welcome" => MessageContent::RequestWelcome,
        "unsupported" => MessageContent::Unsupported,
        _ => return None,
    })
}

fn media(p: Node<'_>) -> Media {
    Media {
        id: p.get("id").string(),
        // A webhook's `url` is an authenticated download URL, not a shareable link: the raw
        // JSON keeps it.
        link: None,
        mime_type: p.get("mime_type").string(),
        sha256: p.get("sha256").string(),
        caption: p.get("caption").string(),
        filename: p.get("filename").string(),
        voice: p.get("voice").flag(),
        animated: p.get("animated").flag(),
    }
}

fn order_item(i: Node<'_>) -> Option<OrderItem> {
    Some(OrderItem {
        product_retailer_id: i.get("product_retailer_id").string()?,
        quantity: i.get("quantity").int()?,
        item_price: i.get("item_price").float(),
        currency: i.get("currency").string(),
    })
}

fn interactive(p: Node<'_>) -> InteractiveReply {
    let subtype = p.get("type").string().unwrap_or_default();
    interactive_reply(&subtype, p.get(&subtype)).unwrap_or(InteractiveReply::Other { subtype })
}

fn interactive_reply(subtype: &str, r: Node<'_>) -> Option<InteractiveReply> {
    Some(match subtype {
        "button_reply" => InteractiveReply::ButtonReply { id: r.get("id").string()?, title: r.get("title").string()? },
        "list_reply" => InteractiveReply::ListReply {
            id: r.get("id").string()?,
            title: r.get("title").string()?,
            description: r.get("description").string(),
        },
        "nfm_reply" => InteractiveReply::FlowReply {
            name: r.get("name").string(),
            body: r.get("body").string(),
            // A JSON string as documented; an inline object is kept as its JSON text.
            response_json: match r.get("response_json").raw()? {
                Value::String(s) => s,
                other => other.to_string(),
            },
        },
        _ => return None,
    })
}

fn context(c: Node<'_>) -> Option<MessageContext> {
    let c = c.object()?;
    Some(MessageContext {
        message_id: c.get("id").string(),
        from: c.get("from").string(),
        forwarded: c.get("forwarded").flag(),
        frequently_forwarded: c.get("frequently_forwarded").flag(),
        referred_product: c.get("referred_product").raw(),
    })
}

fn referral(r: Node<'_>) -> Option<Referral> {
    let r = r.object()?;
    Some(Referral {
        source_url: r.get("source_url").string(),
        source_id: r.get("source_id").string(),
        source_type: r.get("source_type").string(),
        headline: r.get("headline").string(),
        body: r.get("body").string(),
        media_type: r.get("media_type").string(),
        image_url: r.get("image_url").string(),
        video_url: r.get("video_url").string(),
        thumbnail_url: r.get("thumbnail_url").string(),
        ctwa_clid: r.get("ctwa_clid").string(),
    })
}

/// A possibly absent JSON value, read leniently: every accessor answers `None` (or `false`)
/// instead of failing, so paths chain without checks.
#[derive(Clone, Copy)]
struct Node<'a>(Option<&'a Value>);

impl<'a> Node<'a> {
    fn get(self, key: &str) -> Self {
        Self(self.0.and_then(|v| v.get(key)))
    }

    fn object(self) -> Option<Self> {
        self.0.filter(|v| v.is_object()).map(|_| self)
    }

    /// The elements of an array; nothing for anything else.
    fn items(self) -> impl Iterator<Item = Node<'a>> {
        self.0.and_then(Value::as_array).into_iter().flatten().map(|v| Self(Some(v)))
    }

    fn raw(self) -> Option<Value> {
        self.0.cloned()
    }

    /// A string, or a number's decimal text.
    fn str(self) -> Option<Cow<'a, str>> {
        match self.0? {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }

    fn string(self) -> Option<String> {
        self.str().map(Cow::into_owned)
    }

    /// An integer, or a string holding one.
    fn int(self) -> Option<i64> {
        match self.0? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A finite number, or a string holding one.
    fn float(self) -> Option<f64> {
        let f = match self.0? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        f.filter(|f| f.is_finite())
    }

    /// `true` or `"true"`; anything else, absence included, is `false`.
    fn flag(self) -> bool {
        match self.0 {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
