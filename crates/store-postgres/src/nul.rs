//! NUL characters are never stored.
//!
//! PostgreSQL cannot store U+0000 in TEXT ("invalid byte sequence for encoding UTF8:
//! 0x00") or JSONB ("unsupported Unicode escape sequence"), and Meta's payloads can carry
//! it (`"\u0000"` in a message body): one such message would make its whole ingest batch
//! fail. Every text and JSON value that comes from outside (Meta, agents) is bound
//! through [`text`], [`opt_text`] or [`Jsonb`], which drop it. The SQLite backend does the
//! same, so both store the same thing.

use std::borrow::Cow;

use anyhow::anyhow;
use serde::Serialize;
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, Postgres, Type};
use switchboard_store::StoreError;

/// `s` without NUL characters (borrowed when it has none).
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', ""))
    } else {
        Cow::Borrowed(s)
    }
}

pub(crate) fn opt_text(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(text)
}

/// A JSONB parameter with NUL characters removed from its strings and keys: serialised
/// once, and parsed again only when it had one.
pub(crate) struct Jsonb(String);

impl Jsonb {
    pub(crate) fn new<T: Serialize + ?Sized>(v: &T) -> Result<Self, StoreError> {
        let s = serde_json::to_string(v).map_err(json_err)?;
        // serde_json writes U+0000 as `\u0000`; an escaped backslash followed by `u0000`
        // also matches, and merely takes the slow path.
        if !s.contains("\\u0000") {
            return Ok(Self(s));
        }
        let mut v: Value = serde_json::from_str(&s).map_err(json_err)?;
        strip(&mut v);
        serde_json::to_string(&v).map(Self).map_err(json_err)
    }

    pub(crate) fn opt<T: Serialize>(v: Option<&T>) -> Result<Option<Self>, StoreError> {
        v.map(Self::new).transpose()
    }
}

impl Type<Postgres> for Jsonb {
    fn type_info() -> PgTypeInfo {
        <Json<()> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json<()> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Jsonb {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // JSONB's binary format: version 1, then the text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn size_hint(&self) -> usize {
        self.0.len() + 1
    }
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
        let out: Value = serde_json::from_str(&Jsonb::new(&v).expect("encodes").0).expect("parses");
        assert_eq!(out, json!({"a": ["xy", {"k": ""}], "n": 1, "s": "\\u0000"}));
        assert_eq!(
            Jsonb::new(&json!({"b": "ok"})).expect("encodes").0,
            r#"{"b":"ok"}"#
        );
    }
}
