//! Click-to-chat attribution: when a conversation's first message carries a link's
//! reference code (or comes from a Click-to-WhatsApp ad a link names), the conversation
//! is attributed to that link, in the ingest transaction that stores the message.

use chrono::{DateTime, Utc};
use switchboard_domain::inbound::InboundMessage;
use switchboard_domain::link::RefFormat;
use switchboard_domain::{ConversationId, LinkId, MessageContent, MessageId};
use switchboard_store::{Attribution, AttributionSource, IngestTx, StoreError};

/// Attributes the conversation `message` just started (`new_conversation`; otherwise
/// nothing happens) to the link it came from: an ad referral with a link's
/// `ad_source_id` first, else a reference code written in `format` in a text message.
/// Returns the link, if any.
pub async fn attribute_first_message(
    tx: &mut dyn IngestTx,
    format: &RefFormat,
    new_conversation: bool,
    conversation: ConversationId,
    message_id: MessageId,
    message: &InboundMessage,
    at: DateTime<Utc>,
) -> Result<Option<LinkId>, StoreError> {
    if !new_conversation {
        return Ok(None);
    }
    if let Some(referral) = &message.referral
        && let Some(source_id) = referral.source_id.as_deref().filter(|s| !s.is_empty())
    {
        let source = AttributionSource::Ad {
            source_id,
            ctwa_clid: referral.ctwa_clid.as_deref(),
            headline: referral.headline.as_deref(),
        };
        let a = Attribution { conversation, message: message_id, source, at };
        if let Some(link) = tx.attribute_conversation(&a).await? {
            tracing::debug!(%conversation, link_id = %link, via = "ad", "conversation attributed to a link");
            return Ok(Some(link));
        }
    }
    let MessageContent::Text { body } = &message.content else { return Ok(None) };
    let Some((code, stripped)) = format.strip(body) else { return Ok(None) };
    let source = AttributionSource::RefCode { code: &code, stripped_text: &stripped };
    let link = tx.attribute_conversation(&Attribution { conversation, message: message_id, source, at }).await?;
    if let Some(link) = link {
        tracing::debug!(%conversation, link_id = %link, via = "ref", "conversation attributed to a link");
    }
    Ok(link)
}
