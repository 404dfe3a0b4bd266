//! NUL characters are never stored: helpers both backends bind outside text and JSON
//! through.
//!
//! PostgreSQL cannot store U+0000 in TEXT ("invalid byte sequence for encoding UTF8:
//! 0x00") or JSONB, and Meta's payloads can carry it (`"\u0000"` in a message body): one
//! such message would make its whole ingest batch fail. Both backends drop it from every
//! text and JSON value that comes from outside (Meta, agents), so they store the same
//! thing and a database moved between backends means the same.

use std::borrow::Cow;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;

use crate::StoreError;

/// `s` without NUL characters (borrowed when it has none).
pub fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "")) } else { Cow::Borrowed(s) }
}

pub fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// `v` as JSON text, with NUL characters removed from its strings and keys.
pub fn json<T: Serialize + ?Sized>(v: &T) -> Result<String, StoreError> {
    let s = serde_json::to_string(v).map_err(json_err)?;
    // serde_json writes U+0000 as `\u0000`; an escaped backslash followed by `u0000` also
    // matches, and merely takes the slow path.
    if !s.contains("\\u0000") {
        return Ok(s);
    }
    let mut v: Value = serde_json::from_str(&s).map_err(json_err)?;
    strip(&mut v);
    serde_json::to_string(&v).map_err(json_err)
}

pub fn opt_json<T: Serialize>(v: Option<&T>) -> Result<Option<String>, StoreError> {
    v.map(json).transpose()
}

fn strip(v: &mut Value) {
    match v {
        Value::String(s) => {
            if s.contains('\0') {
                s.retain(|c| c != '\0');
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    strip(&mut v);
                    map.insert(k.replace('\0', ""), v);
                }
            } else {
                map.values_mut().for_each(strip);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(anyhow!(e).context("encoding JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_dropped_from_text_and_json() {
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
        assert_eq!(text("a\0b\0"), "ab");
        let v = json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1, "s": "\\u0000"});
        let out: Value = serde_json::from_str(&json(&v).expect("encodes")).expect("parses");
        assert_eq!(out, json!({"a": ["xy", {"k": ""}], "n": 1, "s": "\\u0000"}));
        assert_eq!(json(&json!({"b": "ok"})).expect("encodes"), r#"{"b":"ok"}"#);
    }
}
