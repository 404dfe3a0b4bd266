//! Request bodies of the API are JSON objects.
//!
//! serde reads a struct from a JSON array too (its fields in order), so `["x"]` would
//! pass for `{"name": "x"}`; and a `serde_json::Value` body may be anything. Every JSON
//! body is therefore read through [`Json`] (or [`optional_object`] where the body may be
//! left out or be `null`), which answers 400 `invalid_body` unless the body is an
//! object. No route takes an array as its body. `tests/api/bodies.rs` sends an array to every
//! operation the OpenAPI description gives a body.
//!
//! Numbers are read as JSON Schema reads them: `2.0` and `2e0` are the integer 2, so a
//! field described as an integer takes them (serde alone refuses a float for an integer).

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::error::ApiError;

/// A JSON object body, read as `T` (size, content type and syntax as `web::Json`, with
/// the scope's `JsonConfig`).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = web::Json::<Box<RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let raw = raw.await?.into_inner();
            Ok(Self(object(raw.get().as_bytes())?))
        })
    }
}

/// A JSON object body (400 `invalid_body` otherwise, as [`Json`]) read as `T` only when the
/// handler asks ([`Body::read`]): after what must answer first (401, 403, a 404 for the
/// path), a field that does not fit `T` is a 422 naming it (`weekly.mon[0].end`).
#[derive(Debug)]
pub struct Body<T> {
    object: Map<String, Value>,
    read: PhantomData<fn() -> T>,
}

impl<T> Body<T> {
    /// The object, to change before it is read.
    pub fn object_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.object
    }

    /// The object itself.
    pub fn into_object(self) -> Map<String, Value> {
        self.object
    }
}

impl<T: FromBody> Body<T> {
    /// The body as `T`.
    pub fn read(self) -> Result<T, ApiError> {
        T::from_body(self.object)
    }
}

impl<T: 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = Json::<Map<String, Value>>::from_request(req, payload);
        Box::pin(async move { Ok(Self { object: json.await?.into_inner(), read: PhantomData }) })
    }
}

/// What a [`Body`] reads: any `Deserialize` type, fields named by their path in a 422; a
/// type that reads some fields by hand implements it itself.
pub trait FromBody: Sized {
    fn from_body(object: Map<String, Value>) -> Result<Self, ApiError>;
}

impl<T: DeserializeOwned> FromBody for T {
    fn from_body(object: Map<String, Value>) -> Result<Self, ApiError> {
        decode("", Value::Object(object))
    }
}

/// Decodes `value` as `T`; a value of the wrong shape is a 422 naming its field (under
/// `prefix`, the body's own name for it, if any).
pub(crate) fn decode<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => "body".to_owned(),
            (true, _) => path,
            (false, ".") => prefix.to_owned(),
            (false, p) if p.starts_with('[') => format!("{prefix}{p}"),
            (false, p) => format!("{prefix}.{p}"),
        };
        ApiError::field(&field, e.into_inner().to_string())
    })
}

/// The body as `T`, if it is a JSON object.
pub(crate) fn object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::BadRequest { code: "invalid_body", detail: "the body must be a JSON object".into() });
    }
    let invalid = |e: serde_json::Error| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() };
    if !may_hold_a_float(body) {
        return serde_json::from_slice(body).map_err(invalid);
    }
    let mut value: Value = serde_json::from_slice(body).map_err(invalid)?;
    whole_floats_as_integers(&mut value);
    serde_json::from_value(value).map_err(invalid)
}

/// Whether a digit is followed by `.`, `e` or `E` anywhere (inside strings too: then the
/// body just takes the slower path).
fn may_hold_a_float(body: &[u8]) -> bool {
    body.windows(2).any(|w| w[0].is_ascii_digit() && matches!(w[1], b'.' | b'e' | b'E'))
}

/// Rewrites whole floats that an `i64` holds exactly as integers.
fn whole_floats_as_integers(value: &mut Value) {
    /// 2^53: every whole float below it is exact.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < EXACT
            {
                #[allow(clippy::cast_possible_truncation)] // Whole and below 2^53: exact.
                let whole = f as i64;
                *n = Number::from(whole);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

/// An optional body: none (only whitespace) or `null` is `T::default()`, else a JSON
/// object.
pub(crate) fn optional_object<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let body = body.trim_ascii();
    if body.is_empty() || body == b"null" { Ok(T::default()) } else { object(body) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Named {
        name: Option<String>,
    }

    #[test]
    fn only_objects_are_bodies() {
        assert_eq!(object::<Named>(br#" {"name": "a"}"#).unwrap().name.as_deref(), Some("a"));
        // serde alone takes this for `{"name": "named-by-array"}`.
        assert!(serde_json::from_slice::<Named>(br#"["named-by-array"]"#).is_ok());
        for bad in [&br#"["named-by-array"]"#[..], b"[]", b"null", b"\"a\"", b"1", b" \n[]"] {
            let e = object::<Named>(bad).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest { code: "invalid_body", .. }), "{bad:?}");
            let e = object::<serde_json::Value>(bad).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest { code: "invalid_body", .. }), "{bad:?}");
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Counted {
        capacity: u32,
        ratio: Option<f64>,
        tags: Option<Vec<i64>>,
    }

    #[test]
    fn whole_floats_are_integers_and_nothing_else_changes() {
        let c: Counted = object(br#"{"capacity": 979.0, "ratio": 0.5, "tags": [1e2, -3.0]}"#).unwrap();
        assert_eq!(c, Counted { capacity: 979, ratio: Some(0.5), tags: Some(vec![100, -3]) });
        assert!(object::<Counted>(br#"{"capacity": 979.5}"#).is_err());
        assert!(object::<Counted>(br#"{"capacity": 1e300}"#).is_err());
        let v: Value = object(br#"{"name": "x.y", "n": 12}"#).unwrap();
        assert_eq!(v, serde_json::json!({"name": "x.y", "n": 12}));
    }

    #[test]
    fn an_optional_body_may_be_left_out_but_not_be_an_array() {
        assert_eq!(optional_object::<Named>(b"").unwrap(), Named::default());
        assert_eq!(optional_object::<Named>(b" \r\n").unwrap(), Named::default());
        assert_eq!(optional_object::<Named>(b"{}").unwrap(), Named::default());
        assert_eq!(optional_object::<Named>(b" null ").unwrap(), Named::default());
        assert!(optional_object::<Named>(b"[]").is_err());
        assert!(optional_object::<Named>(b"\"null\"").is_err());
    }
}
