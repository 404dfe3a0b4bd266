//! NUL characters are never stored.
//!
//! PostgreSQL cannot store U+0000 in TEXT ("invalid byte sequence for encoding UTF8:
//! 0x00") or JSONB ("unsupported Unicode escape sequence"), and Meta's payloads can carry
//! it (`"\u0000"` in a message body): one such message would make its whole ingest batch
//! fail. Every text and JSON value that comes from outside (Meta, agents) is bound
//! through [`text`], [`opt_text`] or [`Jsonb`], which drop it. The SQLite backend does the
//! same, so both store the same thing.

use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, Postgres, Type};
use switchboard_store::StoreError;
pub(crate) use switchboard_store::nul::{opt_text, text};

/// A JSONB parameter with NUL characters removed from its strings and keys: serialised
/// once, and parsed again only when it had one.
pub(crate) struct Jsonb(String);

impl Jsonb {
    pub(crate) fn new<T: Serialize + ?Sized>(v: &T) -> Result<Self, StoreError> {
        switchboard_store::nul::json(v).map(Self)
    }

    pub(crate) fn opt<T: Serialize>(v: Option<&T>) -> Result<Option<Self>, StoreError> {
        v.map(Self::new).transpose()
    }
}

/// A JSON parameter, as SQLite's `nul::json` (so shared statements bind either).
pub(crate) fn json<T: Serialize + ?Sized>(v: &T) -> Result<Jsonb, StoreError> {
    Jsonb::new(v)
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

/// JSONB values bind as arrays too (`jsonb[]`), for the set-wise statements.
impl PgHasArrayType for Jsonb {
    fn array_type_info() -> PgTypeInfo {
        <Json<()> as PgHasArrayType>::array_type_info()
    }

    fn array_compatible(ty: &PgTypeInfo) -> bool {
        <Json<()> as PgHasArrayType>::array_compatible(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn nul_is_dropped_from_jsonb() {
        let v = json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1, "s": "\\u0000"});
        let out: Value = serde_json::from_str(&Jsonb::new(&v).expect("encodes").0).expect("parses");
        assert_eq!(out, json!({"a": ["xy", {"k": ""}], "n": 1, "s": "\\u0000"}));
        assert_eq!(Jsonb::new(&json!({"b": "ok"})).expect("encodes").0, r#"{"b":"ok"}"#);
    }
}
