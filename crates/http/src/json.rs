//! Request bodies of the API are JSON objects.
//!
//! serde reads a struct from a JSON array too (its fields in order), so `["x"]` would
//! pass for `{"name": "x"}`; and a `serde_json::Value` body may be anything. Every JSON
//! body is therefore read through [`Json`] (or [`optional_object`] where the body may be
//! left out), which answers 400 `invalid_body` unless the body is an object. No route
//! takes an array or `null` as its body. `tests/api/bodies.rs` sends an array to every
//! operation the OpenAPI description gives a body.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

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

/// The body as `T`, if it is a JSON object.
pub(crate) fn object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::BadRequest { code: "invalid_body", detail: "the body must be a JSON object".into() });
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })
}

/// An optional body: none (or only whitespace) is `T::default()`, else a JSON object.
pub(crate) fn optional_object<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.trim_ascii().is_empty() { Ok(T::default()) } else { object(body) }
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

    #[test]
    fn an_optional_body_may_be_left_out_but_not_be_an_array() {
        assert_eq!(optional_object::<Named>(b"").unwrap(), Named::default());
        assert_eq!(optional_object::<Named>(b" \r\n").unwrap(), Named::default());
        assert_eq!(optional_object::<Named>(b"{}").unwrap(), Named::default());
        assert!(optional_object::<Named>(b"[]").is_err());
        assert!(optional_object::<Named>(b"null").is_err());
    }
}
