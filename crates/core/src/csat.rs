//! CSAT surveys in WhatsApp: planned when a conversation is resolved, answered by a tap.
//!
//! - **On resolve** ([`plan_survey`], called by `Inbox::set_status`): when the channel's
//!   survey is on and the conversation passes its label condition, the survey is built
//!   here and queued by the store in the resolution's transaction, as an automatic message
//!   (`auto_rule = "csat"`) whose outbox job is due after the configured delay (the
//!   outbox's `run_at`: no worker of its own, and a crash loses nothing). The window is
//!   judged at that due time: it only moves forward, so a survey due while it is open is
//!   sent as interactive buttons (3 points) or a list (1–5); one due after it closes is
//!   the configured template with one quick-reply button per choice, or not sent at all
//!   without a template. A conversation is resolved once (a later message starts a new
//!   one) and the store refuses a second survey: never twice.
//! - **On a tap** ([`record_answer`], in the ingest transaction): a tapped choice carries
//!   `csat:<conversation>:<score>`. It is stored in *that* conversation, which stays
//!   resolved: it opens no new conversation and triggers no greeting or rule. A later tap
//!   within the response window changes the rating. After the first rating, the follow-up
//!   question (if configured) is sent, within the contact's hourly cap of automatic
//!   messages, and the contact's next text is stored as the comment (unless they started
//!   a new conversation since).

use crate::AdminError;
use crate::inbox::Invalid;
use chrono::{DateTime, Utc};
use switchboard_cloudapi::{OutboundBody, OutboundMessage, TemplateComponent};
use switchboard_domain::autoreply::{AutoReplyConfig, RuleRef};
use switchboard_domain::csat::{CsatSettings, CsatSettingsInput, LabelCondition};
use switchboard_domain::{ChannelId, ConversationId, ConversationStatus, MessageContent, WaId, window};
use switchboard_store::{
    CsatAnswerIn, CsatAnswerOutcome, IngestTx, NewAutoReply, NewOutbound, NewSurvey, Store, StoreError,
};

/// A channel's survey settings (`None`: never set), for admins.
pub async fn settings(store: &dyn Store, channel: ChannelId) -> Result<Option<CsatSettings>, AdminError> {
    store.csat_settings(channel).await.map_err(not_found("channel"))
}

/// Sets a channel's survey settings from what an admin wrote: every field that breaks a
/// rule is named (as in the body), and the label the condition names must exist.
pub async fn set_settings(
    store: &dyn Store,
    channel: ChannelId,
    input: CsatSettingsInput,
    at: DateTime<Utc>,
) -> Result<CsatSettings, AdminError> {
    let label = input.label;
    let settings = CsatSettings::parse(input)
        .map_err(|e| AdminError::Invalid(e.errors.into_iter().map(|f| Invalid::new(f.path, f.message)).collect()))?;
    if let Some(LabelCondition::With { label_id } | LabelCondition::Without { label_id }) = label
        && store.label(label_id).await?.is_none()
    {
        return Err(AdminError::Invalid(vec![Invalid::new("label.label_id", "no label has this id")]));
    }
    store.put_csat_settings(channel, Some(&settings), at).await.map_err(not_found("channel"))?;
    tracing::info!(channel_id = %channel, enabled = settings.enabled(), "satisfaction survey settings set");
    Ok(settings)
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> AdminError {
    move |e| match e {
        StoreError::NotFound => AdminError::NotFound { what },
        e => AdminError::Store(e),
    }
}

/// The survey `conversation` gets if it is resolved at `now`, or `None` (the channel's
/// survey is off, the label condition leaves it out, the window will be closed and no
/// template is configured).
pub async fn plan_survey(
    store: &dyn Store,
    conversation: ConversationId,
    now: DateTime<Utc>,
) -> Result<Option<NewSurvey>, StoreError> {
    let Some(view) = store.conversation(conversation).await? else { return Ok(None) };
    if view.status == ConversationStatus::Resolved {
        return Ok(None);
    }
    let settings = match store.csat_settings(view.channel_id).await {
        Ok(Some(s)) if s.enabled() => s,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let labels: Vec<_> = store.conversation_labels(conversation).await?.into_iter().map(|l| l.label.id).collect();
    if !settings.admits(&labels) {
        tracing::debug!(conversation_id = %conversation, "no survey: the label condition leaves it out");
        return Ok(None);
    }
    let run_at = now + settings.delay();
    let Some((content, body)) = survey_body(&settings, conversation, view.window_closes_at, run_at) else {
        tracing::info!(conversation_id = %conversation, channel_id = %view.channel_id, "no survey: the customer-service window will be closed and no template is configured");
        return Ok(None);
    };
    let msg = OutboundMessage { to: view.contact.wa_id.clone(), reply_to: None, body, biz_opaque_callback_data: None };
    if let Err(errors) = msg.validate() {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        tracing::warn!(conversation_id = %conversation, ?fields, "no survey: it would break Meta's limits");
        return Ok(None);
    }
    Ok(Some(NewSurvey {
        content,
        request: msg.to_json(),
        run_at,
        expires_at: run_at + settings.response_window(),
        scale: settings.scale(),
    }))
}

/// The survey message for a conversation whose window closes at `window_closes_at`, due
/// at `run_at`: interactive while the window is open then, else the template.
fn survey_body(
    settings: &CsatSettings,
    conversation: ConversationId,
    window_closes_at: Option<DateTime<Utc>>,
    run_at: DateTime<Utc>,
) -> Option<(MessageContent, OutboundBody)> {
    if window::is_open(window_closes_at, run_at) {
        let reply = settings.interactive(conversation);
        return Some((reply.to_content(), OutboundBody::from(&reply)));
    }
    let template = settings.template()?;
    let components = settings
        .choices(conversation)
        .into_iter()
        .enumerate()
        .map(|(i, c)| TemplateComponent::QuickReplyButton { index: u8::try_from(i).unwrap_or(u8::MAX), payload: c.id })
        .collect();
    let content = MessageContent::Template {
        name: template.name.clone(),
        language: template.language.clone(),
        parameters: Vec::new(),
    };
    Some((
        content,
        OutboundBody::Template { name: template.name.clone(), language: template.language.clone(), components },
    ))
}

/// A customer's tap, as the ingest worker hands it over.
pub(crate) struct Tap<'a> {
    pub input: CsatAnswerIn<'a>,
    pub wa_id: &'a WaId,
}

/// Records a tap (see the module docs): `Some(messages queued)` if it was a survey's
/// answer (stored, or a duplicate), `None` if the message is an ordinary one.
pub(crate) async fn record_answer(
    store: &dyn Store,
    tx: &mut dyn IngestTx,
    tap: &Tap<'_>,
    settings: Option<&CsatSettings>,
    now: DateTime<Utc>,
) -> Result<Option<usize>, StoreError> {
    let (conversation, contact, message_id, score, first) = match tx.record_csat_answer(&tap.input).await? {
        CsatAnswerOutcome::NotOurs => return Ok(None),
        CsatAnswerOutcome::Duplicate => return Ok(Some(0)),
        CsatAnswerOutcome::Rated { conversation, contact, message_id, score, first } => {
            (conversation, contact, message_id, score, first)
        }
    };
    metrics::counter!("switchboard_csat_responses_total", "score" => score.to_string()).increment(1);
    tracing::info!(conversation_id = %conversation, %message_id, score = score.get(), first, "satisfaction rating recorded");
    let Some(question) = settings.and_then(CsatSettings::follow_up).filter(|_| first) else { return Ok(Some(0)) };
    // Loop protection, as for every automatic message: the contact's hourly cap.
    let facts = tx.auto_reply_facts(conversation, contact, message_id, now).await?;
    let cap = cap_of(&store.auto_reply_config(tap.input.channel).await?);
    if facts.auto_replies_last_hour >= cap {
        tracing::info!(conversation_id = %conversation, cap, "follow-up question not sent: the contact reached the hourly cap of automatic messages");
        return Ok(Some(0));
    }
    let body = OutboundBody::Text { body: question.to_owned(), preview_url: false };
    let msg = OutboundMessage { to: tap.wa_id.clone(), reply_to: None, body, biz_opaque_callback_data: None };
    if msg.validate().is_err() {
        return Ok(Some(0));
    }
    let content = MessageContent::Text { body: question.to_owned() };
    let request = msg.to_json();
    let reply = NewAutoReply {
        message: NewOutbound {
            conversation_id: conversation,
            content: &content,
            request: &request,
            sent_by: None,
            idempotency_key: None,
            at: now,
        },
        rule: RuleRef::Csat,
    };
    tx.enqueue_auto_replies(&[reply]).await?;
    tx.csat_comment_asked(conversation, now).await?;
    Ok(Some(1))
}

/// The contact's hourly cap of automatic messages on `config`'s channel.
pub(crate) const fn cap_of(config: &AutoReplyConfig) -> u32 {
    config.limits.max_auto_replies_per_contact_per_hour
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::Duration;
    use serde_json::json;

    use super::*;

    fn settings(v: serde_json::Value) -> CsatSettings {
        CsatSettings::parse(serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn inside_the_window_a_list_or_buttons_outside_the_template_or_nothing() {
        let now = Utc::now();
        let c = ConversationId::new();
        let open = Some(now + Duration::hours(2));
        let five = settings(json!({"question": "Rate us", "template": {"name": "csat_5", "language": "en"}}));
        let (content, body) = survey_body(&five, c, open, now).unwrap();
        assert!(matches!(body, OutboundBody::List { .. }), "{body:?}");
        assert!(matches!(content, MessageContent::InteractiveMessage { ref style, .. } if style == "list"));
        // Due after the window closes (a delay): the template, one payload per choice.
        let (_, body) = survey_body(&five, c, open, now + Duration::hours(3)).unwrap();
        let OutboundBody::Template { name, components, .. } = body else { panic!() };
        assert_eq!(name, "csat_5");
        assert_eq!(components.len(), 5);
        assert!(
            matches!(&components[0], TemplateComponent::QuickReplyButton { index: 0, payload } if *payload == format!("csat:{c}:5"))
        );
        let three = settings(json!({"question": "Rate us", "scale": "three_point"}));
        assert!(matches!(survey_body(&three, c, open, now).unwrap().1, OutboundBody::Buttons { .. }));
        assert!(survey_body(&three, c, None, now).is_none(), "no window, no template: nothing");
    }
}
