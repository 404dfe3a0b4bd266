//! Webhook bodies shaped exactly as Meta sends them.

use serde_json::{Value, json};

use crate::PHONE_NUMBER_ID;

/// A delivery with one `messages` change for `phone_number_id`.
#[must_use]
pub fn delivery_for(phone_number_id: &str, contacts: Vec<Value>, messages: Vec<Value>, statuses: Vec<Value>) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100", "phone_number_id": phone_number_id},
    });
    if !contacts.is_empty() {
        value["contacts"] = Value::Array(contacts);
    }
    if !messages.is_empty() {
        value["messages"] = Value::Array(messages);
    }
    if !statuses.is_empty() {
        value["statuses"] = Value::Array(statuses);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]
    })
}

/// A delivery to the test channel.
#[must_use]
pub fn delivery(contacts: Vec<Value>, messages: Vec<Value>, statuses: Vec<Value>) -> Value {
    delivery_for(PHONE_NUMBER_ID, contacts, messages, statuses)
}

#[must_use]
pub fn contact(wa_id: &str, name: &str) -> Value {
    json!({"profile": {"name": name}, "wa_id": wa_id})
}

/// A message item of `type` with its type object.
#[must_use]
pub fn message(wamid: &str, from: &str, kind: &str, body: Value) -> Value {
    let now = chrono::Utc::now().timestamp().to_string();
    let mut m = json!({"from": from, "id": wamid, "timestamp": now, "type": kind});
    if !body.is_null() {
        m[kind] = body;
    }
    m
}

#[must_use]
pub fn text(wamid: &str, from: &str, body: &str) -> Value {
    message(wamid, from, "text", json!({"body": body}))
}

/// A delivery of one text message from a named contact.
#[must_use]
pub fn text_delivery(wamid: &str, from: &str, body: &str) -> Value {
    delivery(vec![contact(from, "Ana")], vec![text(wamid, from, body)], vec![])
}

#[must_use]
pub fn status(wamid: &str, status: &str, timestamp: i64) -> Value {
    json!({"id": wamid, "status": status, "timestamp": timestamp.to_string(), "recipient_id": "16505551234"})
}

#[must_use]
pub fn failed_status(wamid: &str, code: i64, title: &str, timestamp: i64) -> Value {
    let mut s = status(wamid, "failed", timestamp);
    s["errors"] =
        json!([{"code": code, "title": title, "message": title, "error_data": {"details": "details of the failure"}}]);
    s
}

/// Serialises as Meta does: non-ASCII as `\u00e4`-style escapes (surrogate pairs beyond the BMP) and
/// `/` as `\/`.
#[must_use]
pub fn meta_bytes(v: &Value) -> Vec<u8> {
    let plain = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(plain.len() * 2);
    for c in plain.chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.into_bytes()
}

/// Meta's definitions of a few templates, as `GET /{waba-id}/message_templates` lists
/// them: named variables with examples and a URL button (`order_named`), a positional
/// variable whose example is `name` (`welcome`), an image header (`promo`), none
/// (`thanks`), and a rejected one (`otp`).
#[must_use]
pub fn sample_templates() -> Vec<Value> {
    vec![
        json!({"id": "2001", "name": "order_named", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
               "components": [
                   {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}",
                    "example": {"header_text_named_params": [{"param_name": "order_id", "example": "A-1"}]}},
                   {"type": "BODY", "text": "Hi {{first_name}}, order {{order_id}} ships on {{day}}.",
                    "example": {"body_text_named_params": [
                        {"param_name": "first_name", "example": "Kim"},
                        {"param_name": "order_id", "example": "A-1"},
                        {"param_name": "day", "example": "Monday"}]}},
                   {"type": "FOOTER", "text": "Acme"},
                   {"type": "BUTTONS", "buttons": [
                       {"type": "URL", "text": "Track", "url": "https://acme.example/t/{{1}}",
                        "example": ["https://acme.example/t/A-1"]},
                       {"type": "QUICK_REPLY", "text": "Thanks"}]}]}),
        json!({"id": "2002", "name": "welcome", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Welcome {{1}}! Ask us anything.",
                               "example": {"body_text": [["name"]]}}]}),
        json!({"id": "2003", "name": "promo", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
               "components": [{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1n"]}},
                              {"type": "BODY", "text": "Sale this week!"}]}),
        json!({"id": "2004", "name": "thanks", "language": "es", "status": "APPROVED", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "¡Gracias!"}]}),
        json!({"id": "2005", "name": "otp", "language": "en_US", "status": "REJECTED", "category": "AUTHENTICATION",
               "components": [{"type": "BODY", "text": "{{1}} is your code."}]}),
    ]
}
