//! Message templates as Meta approved them: what each component needs when the template
//! is sent (its variables, the header's media type, the buttons' parameters), read from
//! Meta's component definitions (`GET /{waba-id}/message_templates`).

use serde::Serialize;
use serde_json::Value;

/// What a header needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum HeaderNeed {
    /// A text header and its variables (none, or one).
    Text {
        variables: Vec<String>,
    },
    Image,
    Video,
    Document,
    Location,
}

impl HeaderNeed {
    /// The media type a send must give for this header, if any.
    #[must_use]
    pub const fn media(&self) -> Option<&'static str> {
        match self {
            Self::Image => Some("image"),
            Self::Video => Some("video"),
            Self::Document => Some("document"),
            Self::Text { .. } | Self::Location => None,
        }
    }
}

/// What a button needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ButtonNeed {
    /// Its position (0-based), as sends refer to it.
    pub index: u8,
    /// Meta's type, lowercased: `url`, `quick_reply`, `copy_code`, `phone_number`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The variables of a dynamic URL (its suffix): a send must give one parameter.
    pub variables: Vec<String>,
}

/// The variables a template's components need when it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TemplateNeeds {
    pub header: Option<HeaderNeed>,
    /// The body's variables in order: `1`, `2`… or names for named parameters.
    pub body: Vec<String>,
    pub buttons: Vec<ButtonNeed>,
}

/// The `{{…}}` variables of `text`, in order of first appearance, without repeats.
#[must_use]
pub fn variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && !out.iter().any(|v| v == name) {
            out.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    out
}

impl TemplateNeeds {
    /// Reads Meta's `components` array; unknown parts are ignored (they need nothing).
    #[must_use]
    pub fn of(components: &Value) -> Self {
        let mut needs = Self::default();
        let text = |c: &Value| c.get("text").and_then(Value::as_str).map(variables).unwrap_or_default();
        for c in components.as_array().map(Vec::as_slice).unwrap_or_default() {
            let kind = c.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
            match kind.as_str() {
                "HEADER" => {
                    let format = c.get("format").and_then(Value::as_str).unwrap_or("TEXT").to_ascii_uppercase();
                    needs.header = Some(match format.as_str() {
                        "IMAGE" => HeaderNeed::Image,
                        "VIDEO" => HeaderNeed::Video,
                        "DOCUMENT" => HeaderNeed::Document,
                        "LOCATION" => HeaderNeed::Location,
                        _ => HeaderNeed::Text { variables: text(c) },
                    });
                }
                "BODY" => needs.body = text(c),
                "BUTTONS" => {
                    let buttons = c.get("buttons").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                    for (i, b) in buttons.iter().enumerate() {
                        let kind = b.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
                        let variables = if kind == "url" {
                            b.get("url").and_then(Value::as_str).map(variables).unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        needs.buttons.push(ButtonNeed { index: u8::try_from(i).unwrap_or(u8::MAX), kind, variables });
                    }
                }
                _ => {}
            }
        }
        needs
    }
}

/// A template's review status, as Meta names it (`APPROVED`, `PENDING`, `REJECTED`,
/// `PAUSED`, `DISABLED`…): only an approved template can be sent.
#[must_use]
pub fn is_sendable(status: &str) -> bool {
    status.eq_ignore_ascii_case("APPROVED")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn variables_are_read_from_every_component() {
        let components = json!([
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["x"]}},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{ 3 }}. Thanks {{1}}!"},
            {"type": "FOOTER", "text": "Acme {{not_a_variable"},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Track", "url": "https://acme.example/track/{{1}}"},
                {"type": "QUICK_REPLY", "text": "Stop"},
            ]},
        ]);
        let needs = TemplateNeeds::of(&components);
        assert_eq!(needs.header, Some(HeaderNeed::Image));
        assert_eq!(needs.body, ["1", "2", "3"]);
        assert_eq!(needs.buttons.len(), 2);
        assert_eq!(needs.buttons[0].kind, "url");
        assert_eq!(needs.buttons[0].variables, ["1"]);
        assert!(needs.buttons[1].variables.is_empty());
        let text = TemplateNeeds::of(&json!([{"type": "HEADER", "format": "TEXT", "text": "Hello {{name}}"}]));
        assert_eq!(text.header, Some(HeaderNeed::Text { variables: vec!["name".into()] }));
        assert_eq!(TemplateNeeds::of(&json!("nonsense")), TemplateNeeds::default());
    }
}
