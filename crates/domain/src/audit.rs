//! The audit log's vocabulary: what was done ([`AuditAction`], stable snake_case names
//! that the API and the database store), to what ([`AuditTarget`]), and the redaction
//! every before/after goes through ([`redact`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! audit_actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal),+ $(,)?) => {
        /// What an audit entry records. The names are stable: stored, filtered on and
        /// shown by the API (each is its variant in snake_case; a test checks both agree).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum AuditAction {
            $($(#[$doc])* $variant,)+
        }

        impl AuditAction {
            /// Every action, in the order declared.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable name (`sign_in`, `label_created`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }
        }
    };
}

audit_actions! {
    /// A session was opened with the right password.
    SignIn => "sign_in",
    /// A wrong email, password or second-factor code.
    SignInFailed => "sign_in_failed",
    SignOut => "sign_out",
    /// A session ended by its agent from another session, or by an admin.
    SessionRevoked => "session_revoked",
    /// An agent created through the API (with a first token).
    AgentCreated => "agent_created",
    /// An invitation link to set a password was issued.
    AgentInvited => "agent_invited",
    /// Name, email, availability, capacity, TOTP requirement or activity changed.
    AgentUpdated => "agent_updated",
    AgentDeactivated => "agent_deactivated",
    RoleChanged => "role_changed",
    /// A password reset link was issued.
    PasswordResetIssued => "password_reset_issued",
    TokenCreated => "token_created",
    TokenRevoked => "token_revoked",
    TotpEnabled => "totp_enabled",
    TotpDisabled => "totp_disabled",
    /// Workspace-wide settings (security, assignment policy…).
    SettingsChanged => "settings_changed",
    LabelCreated => "label_created",
    LabelUpdated => "label_updated",
    LabelDeleted => "label_deleted",
    TeamCreated => "team_created",
    TeamUpdated => "team_updated",
    TeamDeleted => "team_deleted",
    TeamMembersChanged => "team_members_changed",
    QuickReplyCreated => "quick_reply_created",
    QuickReplyUpdated => "quick_reply_updated",
    QuickReplyDeleted => "quick_reply_deleted",
    RuleCreated => "rule_created",
    RuleUpdated => "rule_updated",
    RuleDeleted => "rule_deleted",
    RulesReordered => "rules_reordered",
    /// A channel's business hours.
    HoursChanged => "hours_changed",
    GreetingChanged => "greeting_changed",
    AwayChanged => "away_changed",
    /// A channel's other settings (its auto-reply switches, assignment policy…).
    ChannelChanged => "channel_changed",
    CsatSettingsChanged => "csat_settings_changed",
    /// A channel's or a team's SLA targets set or removed.
    SlaPolicyChanged => "sla_policy_changed",
    /// A channel added through the API (its credentials never recorded).
    ChannelCreated => "channel_created",
    /// The opt-out and opt-in keywords and confirmations.
    ConsentSettingsChanged => "consent_settings_changed",
    WebhookEndpointCreated => "webhook_endpoint_created",
    WebhookEndpointUpdated => "webhook_endpoint_updated",
    WebhookEndpointDeleted => "webhook_endpoint_deleted",
    WebhookSecretRotated => "webhook_secret_rotated",
    /// A dead or failed outbox entry queued again.
    OutboxRetried => "outbox_retried",
    LinkCreated => "link_created",
    LinkUpdated => "link_updated",
    ContactExported => "contact_exported",
    ContactErased => "contact_erased",
    RetentionChanged => "retention_changed",
    ConsentChanged => "consent_changed",
}

impl AuditAction {
    /// The action named `s`, if any.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an entry is about: a type (`agent`, `label`, `webhook_endpoint`, `channel`…) and
/// its id as the API spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: &'static str,
    pub id: String,
}

impl AuditTarget {
    #[must_use]
    pub fn new(kind: &'static str, id: impl std::fmt::Display) -> Self {
        Self { kind, id: id.to_string() }
    }
}

/// The longest target type or id kept, in characters.
pub const TARGET_MAX: usize = 100;

/// Whether a JSON key names a secret: passwords, tokens, secrets, TOTP seeds, keys.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret")
        || k.contains("password")
        || k == "token"
        || k.ends_with("_token")
        || k.contains("totp_seed")
        || k.ends_with("_key")
        || k == "key"
        || k.contains("authorization")
}

/// `value` with every secret-named field replaced by `"[redacted]"`, at any depth. The
/// before/after of an entry are public API representations, which carry no secrets; this
/// is the second guard, so a representation that grows one later still never reaches
/// the log.
#[must_use]
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret_key(&k) && !v.is_null() {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), Value::String(a.as_str().into()));
        }
        assert_eq!(AuditAction::parse("nope"), None);
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = serde_json::json!({
            "name": "n", "secret": "whsec_x", "token": "sbt_x",
            "nested": [{"password": "p", "api_token": "t", "url": "https://x"}],
            "signing_secret": null
        });
        let r = redact(v);
        let s = r.to_string();
        assert!(!s.contains("whsec_x") && !s.contains("sbt_x") && !s.contains("\"p\""));
        assert_eq!(r["nested"][0]["url"], "https://x");
        assert_eq!(r["signing_secret"], Value::Null);
    }
}
