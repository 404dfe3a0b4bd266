//! JSON bodies read as JSON Schema reads them: `2.0` and `2e0` are the integer 2, so a
//! field described as an integer takes them (serde alone refuses a float for an integer).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use serde_json::{Number, Value};

/// Middleware for the API scope: rewrites whole floats in a JSON body as integers. Bodies
/// without one, and bodies that are not JSON, pass unchanged (the extractor reports those).
pub async fn whole_numbers(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if is_json(&req) {
        let body = req.extract::<Bytes>().await?;
        let body = rewrite(&body).map_or(body, Bytes::from);
        req.set_payload(body.into());
    }
    next.call(req).await
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence.get(essence.len().saturating_sub(5)..).is_some_and(|s| s.eq_ignore_ascii_case("+json"))
    })
}

/// The body with its whole floats as integers, or `None` when it has none (or is not JSON).
fn rewrite(body: &[u8]) -> Option<Vec<u8>> {
    if !body.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return None;
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    if !integers(&mut value) {
        return None;
    }
    serde_json::to_vec(&value).ok()
}

/// Rewrites whole floats (that an `i64` holds exactly) as integers; whether any was.
fn integers(value: &mut Value) -> bool {
    /// 2^53: every whole float below it is exact.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)] // Whole and below 2^53: exact.
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT => {
                *n = Number::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |any, v| integers(v) | any),
        Value::Object(fields) => fields.values_mut().fold(false, |any, v| integers(v) | any),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(body: &str) -> Option<String> {
        rewrite(body.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn whole_floats_become_integers_and_nothing_else_changes() {
        assert_eq!(text(r#"{"capacity":979.0}"#).as_deref(), Some(r#"{"capacity":979}"#));
        assert_eq!(text(r#"{"a":[1e2,-3.0],"b":{"c":0.0}}"#).as_deref(), Some(r#"{"a":[100,-3],"b":{"c":0}}"#));
        assert_eq!(text(r#"{"ratio":0.5,"name":"x.y"}"#), None);
        assert_eq!(text(r#"{"n":1e300}"#), None);
        assert_eq!(text(r#"{"n":12}"#), None);
        assert_eq!(text("not json."), None);
    }
}
