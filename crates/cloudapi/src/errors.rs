//! Graph API failures (cloudapi.md §6) and what to do about them: [`GraphError::class`] for
//! the outbox (retry, give up, or alert an admin) and [`GraphError::explanation`] for agents.
//!
//! Classification is by Meta's `code`, never by its title (Meta deprecates titles). Only when
//! the code is unknown, or the body was not Meta's, does the HTTP status decide.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::send::SendValidationError;

/// Why a Graph API call failed. No variant ever holds the access token or a request URL.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with an error status. Built from Meta's `{"error":{…}}` body; when the
    /// body was not Meta's (a proxy's 502 page, say), `code` is `None`, `title` is the HTTP
    /// reason and `details` the start of the body.
    #[error("{}", api_display(*.http_status, *.code, .title))]
    Api {
        http_status: u16,
        /// Meta's `error.code`.
        code: Option<i64>,
        /// `error.error_subcode` (deprecated by Meta since v16, still sometimes sent).
        subcode: Option<i64>,
        /// `error.message` without its `(#code) ` prefix.
        title: String,
        /// `error.error_data.details` (or `error_user_msg`), Meta's explanation.
        details: Option<String>,
        /// Quote this in support tickets to Meta.
        fbtrace_id: Option<String>,
    },
    /// The request did not complete: connection, TLS, timeout, or the body broke off. The
    /// source error carries no URL.
    #[error("Graph API request failed: {kind}")]
    Transport {
        kind: TransportKind,
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body we could not read (the call may have taken effect).
    #[error("unexpected Graph API response: {0}")]
    Decode(String),
    /// The media download URL answered 404: it expired (after 5 minutes) or is wrong. Fetch
    /// a fresh one with [`GraphClient::media_url`](crate::GraphClient::media_url).
    #[error("media URL expired or not found")]
    MediaUrlExpired,
    /// Refused before anything was sent: the message (or media id or URL) breaks a limit.
    #[error("request not sent: {}", join(.0))]
    Invalid(Vec<SendValidationError>),
    /// The client's configuration is unusable (base URL, API version, token format).
    #[error("invalid Graph API client configuration: {0}")]
    Config(String),
}

/// What kind of transport failure ended a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Timeout,
    Connect,
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timed out",
            Self::Connect => "could not connect",
            Self::Other => "connection error",
        })
    }
}

/// What the caller should do about a [`GraphError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Temporary: try the same request again later. `after` is a hint for the first retry
    /// (longer for rate limits); `None` means "use your normal backoff".
    RetryLater { after: Option<Duration> },
    /// This request will never succeed as is: mark the message failed and tell the agent.
    Permanent,
    /// Nothing will succeed until an admin fixes the token, permissions, account or payment:
    /// alert, and hold (not drop) the outbox.
    FixConfiguration,
}

/// 130429, Cloud API throughput: a short global pause.
const THROUGHPUT_DELAY: Duration = Duration::from_secs(3);
/// 131056, pair rate limit: Meta allows one message per 6 s to the same user; bursts borrow
/// from later, so wait longer than that.
const PAIR_RATE_DELAY: Duration = Duration::from_secs(10);
/// 4 and 80007, app and WABA call limits: these windows are long, retrying soon is futile.
const CALL_LIMIT_DELAY: Duration = Duration::from_secs(60);
/// 131057, maintenance mode: lasts up to about a minute.
const MAINTENANCE_DELAY: Duration = Duration::from_secs(30);

impl GraphError {
    /// Retry, give up, or alert an admin. Transport errors (including timeouts) are
    /// retryable: the request may have reached Meta, so a retry can duplicate a message.
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Transport { .. } | Self::MediaUrlExpired => ErrorClass::RetryLater { after: None },
            // A success whose body we cannot read may have sent the message: do not resend.
            Self::Decode(_) | Self::Invalid(_) => ErrorClass::Permanent,
            Self::Config(_) => ErrorClass::FixConfiguration,
            Self::Api { http_status, code, .. } => {
                code.and_then(class_of_code).unwrap_or_else(|| class_of_status(*http_status))
            }
        }
    }

    /// One or two plain sentences for agents, saying what happened and what to do.
    #[must_use]
    pub fn explanation(&self) -> String {
        match self {
            Self::Transport { kind: TransportKind::Timeout, .. } => {
                "WhatsApp did not answer in time; the message will be retried.".into()
            }
            Self::Transport { .. } => "WhatsApp could not be reached; the message will be retried.".into(),
            Self::Decode(_) => "WhatsApp sent an answer we could not understand; the message \
                                may or may not have been sent."
                .into(),
            Self::MediaUrlExpired => "The file's download link expired; fetch the file again.".into(),
            Self::Invalid(errors) => {
                format!("The message breaks WhatsApp's rules: {}.", join(errors))
            }
            Self::Config(_) => "The WhatsApp connection is misconfigured; ask an administrator to check it.".into(),
            Self::Api { http_status, code, title, details, .. } => code
                .and_then(explain_code)
                .map(str::to_owned)
                .unwrap_or_else(|| explain_other(*http_status, *code, title, details.as_deref())),
        }
    }

    pub(crate) fn transport(source: reqwest::Error) -> Self {
        let kind = if source.is_timeout() {
            TransportKind::Timeout
        } else if source.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        Self::Transport { kind, source: source.without_url() }
    }

    /// The error for a non-2xx response with this body.
    pub(crate) fn from_response(http_status: u16, body: &[u8]) -> Self {
        serde_json::from_slice::<Value>(body).ok().and_then(|v| meta_error(http_status, &v)).unwrap_or_else(|| {
            Self::Api {
                http_status,
                code: None,
                subcode: None,
                title: reqwest::StatusCode::from_u16(http_status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map_or_else(|| format!("HTTP {http_status}"), str::to_owned),
                details: snippet(body),
                fbtrace_id: None,
            }
        })
    }
}

fn meta_error(http_status: u16, v: &Value) -> Option<GraphError> {
    let e = v.get("error")?;
    let code = int(e.get("code")?)?;
    let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
    let details = match e.get("error_data") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(data) => data.get("details").and_then(Value::as_str).map(str::to_owned),
        None => None,
    }
    .or_else(|| e.get("error_user_msg").and_then(Value::as_str).map(str::to_owned))
    .filter(|d| !d.is_empty());
    Some(GraphError::Api {
        http_status,
        code: Some(code),
        subcode: e.get("error_subcode").and_then(int),
        title: strip_code_prefix(message).to_owned(),
        details,
        fbtrace_id: e.get("fbtrace_id").and_then(Value::as_str).map(str::to_owned),
    })
}

/// An integer, or a string holding one.
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

/// `"(#130429) Rate limit hit"` → `"Rate limit hit"`.
fn strip_code_prefix(message: &str) -> &str {
    message
        .strip_prefix("(#")
        .and_then(|rest| rest.split_once(')'))
        .filter(|(digits, _)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .map_or(message, |(_, title)| title.trim_start())
}

/// The start of a non-Meta body, on one line, for diagnosis.
fn snippet(body: &[u8]) -> Option<String> {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    })
}

fn api_display(http_status: u16, code: Option<i64>, title: &str) -> String {
    match code {
        Some(code) => format!("Graph API error {code} (HTTP {http_status}): {title}"),
        None => format!("Graph API answered HTTP {http_status}: {title}"),
    }
}

fn join(errors: &[SendValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

fn class_of_code(code: i64) -> Option<ErrorClass> {
    let retry = |after| ErrorClass::RetryLater { after };
    Some(match code {
        130_429 => retry(Some(THROUGHPUT_DELAY)),
        131_056 => retry(Some(PAIR_RATE_DELAY)),
        4 | 80_007 => retry(Some(CALL_LIMIT_DELAY)),
        131_057 => retry(Some(MAINTENANCE_DELAY)),
        1 | 2 | 131_000 | 131_016 => retry(None),
        // 131005 access denied and 133010 number not registered are account set-up too.
        0 | 3 | 10 | 190 | 200..=299 | 368 | 131_005 | 131_031 | 131_042 | 133_010 => ErrorClass::FixConfiguration,
        // 131048 (spam rate limit) is a quality problem: retrying quickly makes it worse.
        100
        | 130_472
        | 130_497
        | 131_008
        | 131_009
        | 131_021
        | 131_026
        | 131_047..=131_051
        | 131_053
        | 132_000..=132_016
        | 132_068
        | 132_069 => ErrorClass::Permanent,
        _ => return None,
    })
}

fn class_of_status(http_status: u16) -> ErrorClass {
    match http_status {
        401 | 403 => ErrorClass::FixConfiguration,
        408 | 429 | 500..=599 => ErrorClass::RetryLater { after: None },
        _ => ErrorClass::Permanent,
    }
}

fn explain_code(code: i64) -> Option<&'static str> {
    Some(match code {
        0 | 190 => {
            "WhatsApp rejected our access token (expired or revoked); an administrator must \
             renew it."
        }
        3 | 10 | 200..=299 | 131_005 => "Our WhatsApp app lacks a permission it needs; an administrator must grant it.",
        4 | 80_007 => {
            "We made too many WhatsApp API calls in a short time; the message will be retried \
             in a minute."
        }
        1 | 2 | 131_000 | 131_016 => "WhatsApp had a temporary problem; the message will be retried.",
        130_429 => {
            "We are sending faster than WhatsApp allows for this number; the message will be \
             retried in a few seconds."
        }
        131_056 => {
            "Too many messages went to this customer in a short time; the message will be \
             retried shortly."
        }
        131_057 => {
            "The WhatsApp business account is in maintenance; the message will be retried in \
             a minute."
        }
        131_047 => {
            "More than 24 hours have passed since the customer last wrote; only a template can \
             be sent."
        }
        131_026 => {
            "The message could not be delivered: the number may not use WhatsApp, or the \
             customer must update WhatsApp or accept its terms."
        }
        131_048 => {
            "WhatsApp is limiting this number because earlier messages were reported or \
             blocked as spam; wait before sending more."
        }
        131_049 => {
            "WhatsApp held back this marketing message to limit how many the customer gets; \
             try again in a day or more."
        }
        131_050 => "The customer has stopped marketing messages from us.",
        131_051 => "WhatsApp does not support this type of message.",
        131_021 => "The recipient is our own business number.",
        131_053 => "WhatsApp could not use the attached file; check its type and size.",
        100 | 131_008 | 131_009 => {
            "WhatsApp rejected a missing or invalid value in the message; this is likely a \
             bug to report."
        }
        130_472 => "WhatsApp did not deliver the message because of an experiment it runs on this customer.",
        130_497 => "WhatsApp does not allow messages to the customer's country from this account.",
        131_031 => "The WhatsApp business account is locked; an administrator must contact Meta.",
        368 => {
            "The WhatsApp business account is temporarily blocked for policy violations; an \
             administrator must check it."
        }
        131_042 => {
            "The WhatsApp business account has a payment problem; an administrator must fix \
             billing."
        }
        133_010 => "Our business number is not registered with WhatsApp; an administrator must register it.",
        132_000..=132_016 | 132_068 | 132_069 => {
            "WhatsApp rejected the template: it may be missing, paused or disabled, or its \
             values do not match it."
        }
        _ => return None,
    })
}

fn explain_other(http_status: u16, code: Option<i64>, title: &str, details: Option<&str>) -> String {
    let what = match class_of_status(http_status) {
        ErrorClass::RetryLater { .. } => "WhatsApp had a temporary problem; the message will be retried.",
        ErrorClass::FixConfiguration => "WhatsApp refused our credentials; an administrator must check the connection.",
        ErrorClass::Permanent => "WhatsApp refused the message.",
    };
    match (code, details) {
        (Some(code), Some(details)) => format!("{what} (error {code}: {title}. {details})"),
        (Some(code), None) => format!("{what} (error {code}: {title})"),
        (None, _) => format!("{what} (HTTP {http_status})"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn api(http_status: u16, code: Option<i64>) -> GraphError {
        GraphError::Api { http_status, code, subcode: None, title: "t".into(), details: None, fbtrace_id: None }
    }

    const RETRY: ErrorClass = ErrorClass::RetryLater { after: None };
    const FIX: ErrorClass = ErrorClass::FixConfiguration;
    const PERM: ErrorClass = ErrorClass::Permanent;

    #[test]
    fn every_documented_code_has_its_class() {
        let table: &[(&[i64], ErrorClass)] = &[
            (&[1, 2, 131_000, 131_016], RETRY),
            (&[130_429], ErrorClass::RetryLater { after: Some(THROUGHPUT_DELAY) }),
            (&[131_056], ErrorClass::RetryLater { after: Some(PAIR_RATE_DELAY) }),
            (&[4, 80_007], ErrorClass::RetryLater { after: Some(CALL_LIMIT_DELAY) }),
            (&[131_057], ErrorClass::RetryLater { after: Some(MAINTENANCE_DELAY) }),
            (&[0, 190, 3, 10, 200, 250, 299, 131_031, 368, 131_042, 131_005, 133_010], FIX),
            (
                &[
                    131_047, 131_026, 131_051, 131_021, 131_049, 131_050, 131_048, 130_472, 130_497, 131_053, 100,
                    131_008, 131_009, 132_000, 132_001, 132_007, 132_012, 132_015, 132_016, 132_068, 132_069,
                ],
                PERM,
            ),
        ];
        for (codes, class) in table {
            for &code in *codes {
                // The code decides whatever the HTTP status says.
                for status in [400, 401, 403, 429, 500, 503] {
                    assert_eq!(api(status, Some(code)).class(), *class, "code {code}, HTTP {status}");
                }
                assert!(!api(400, Some(code)).explanation().contains("(error"), "code {code} is explained");
            }
        }
    }

    #[test]
    fn unknown_codes_and_non_meta_bodies_fall_back_to_the_http_status() {
        let table = [
            (400, PERM),
            (404, PERM),
            (422, PERM),
            (401, FIX),
            (403, FIX),
            (408, RETRY),
            (429, RETRY),
            (500, RETRY),
            (502, RETRY),
            (503, RETRY),
            (504, RETRY),
        ];
        for (status, class) in table {
            assert_eq!(api(status, Some(999_999)).class(), class, "unknown code, HTTP {status}");
            assert_eq!(api(status, None).class(), class, "no code, HTTP {status}");
        }
        // Near a documented range is not in it.
        assert_eq!(api(400, Some(132_017)).class(), PERM);
        assert_eq!(api(500, Some(132_017)).class(), RETRY);
        assert_eq!(api(400, Some(300)).class(), PERM);
    }

    #[test]
    fn local_errors_have_their_class() {
        assert_eq!(GraphError::MediaUrlExpired.class(), RETRY);
        assert_eq!(GraphError::Decode("x".into()).class(), PERM);
        assert_eq!(GraphError::Invalid(Vec::new()).class(), PERM);
        assert_eq!(GraphError::Config("x".into()).class(), FIX);
    }

    #[test]
    fn explanations_are_plain_sentences() {
        assert_eq!(
            api(400, Some(131_047)).explanation(),
            "More than 24 hours have passed since the customer last wrote; only a template can \
             be sent."
        );
        let unknown = GraphError::Api {
            http_status: 400,
            code: Some(135_000),
            subcode: None,
            title: "Generic user error".into(),
            details: Some("Something odd.".into()),
            fbtrace_id: None,
        };
        assert_eq!(
            unknown.explanation(),
            "WhatsApp refused the message. (error 135000: Generic user error. Something odd.)"
        );
        assert_eq!(
            api(502, None).explanation(),
            "WhatsApp had a temporary problem; the message will be retried. (HTTP 502)"
        );
        let invalid = GraphError::Invalid(vec![SendValidationError {
            field: "text.body".into(),
            message: "must not be empty".into(),
        }]);
        assert_eq!(invalid.explanation(), "The message breaks WhatsApp's rules: text.body: must not be empty.");
    }

    #[test]
    fn meta_error_bodies_are_parsed() {
        let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
            "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
            "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let GraphError::Api { http_status, code, subcode, title, details, fbtrace_id } =
            GraphError::from_response(400, body)
        else {
            panic!("not an Api error");
        };
        assert_eq!(http_status, 400);
        assert_eq!(code, Some(130_429));
        assert_eq!(subcode, Some(2_494_055));
        assert_eq!(title, "Rate limit hit");
        assert_eq!(details.as_deref(), Some("Cloud API message throughput has been reached."));
        assert_eq!(fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
    }

    #[test]
    fn odd_error_bodies_still_give_an_api_error() {
        // Code as a string, no prefix in the message, error_user_msg as details.
        let e = GraphError::from_response(
            400,
            br#"{"error":{"message":"Invalid parameter","code":"100","error_user_msg":"Bad to"}}"#,
        );
        assert!(matches!(
            &e,
            GraphError::Api { code: Some(100), title, details: Some(d), .. }
                if title == "Invalid parameter" && d == "Bad to"
        ));
        // Not Meta's: HTML from a proxy.
        let e = GraphError::from_response(502, b"<html>\n<body>Bad   gateway</body></html>");
        assert!(matches!(
            &e,
            GraphError::Api { http_status: 502, code: None, title, details: Some(d), .. }
                if title == "Bad Gateway" && d == "<html> <body>Bad gateway</body></html>"
        ));
        assert_eq!(e.to_string(), "Graph API answered HTTP 502: Bad Gateway");
        // JSON, but no code.
        let e = GraphError::from_response(500, br#"{"error":{"message":"oops"}}"#);
        assert!(matches!(e, GraphError::Api { code: None, .. }));
        // Empty body, long body.
        assert!(matches!(GraphError::from_response(503, b""), GraphError::Api { details: None, .. }));
        let long = "é".repeat(500);
        let GraphError::Api { details: Some(d), .. } = GraphError::from_response(500, long.as_bytes()) else {
            panic!("no details");
        };
        assert_eq!(d.chars().count(), 201);
    }

    #[test]
    fn only_a_numeric_code_prefix_is_stripped() {
        assert_eq!(strip_code_prefix("(#131047) Re-engagement message"), "Re-engagement message");
        assert_eq!(strip_code_prefix("(#) x"), "(#) x");
        assert_eq!(strip_code_prefix("(#abc) x"), "(#abc) x");
        assert_eq!(strip_code_prefix("plain"), "plain");
    }
}
