//! An agent's file: checked against Meta's types and sizes, uploaded to Meta's media
//! endpoint from our number, then sent by the media id Meta gives, as any reply.
//!
//! The window is checked before the upload, so a file is never uploaded for a message
//! that could not be sent.

use std::path::Path;

use chrono::Utc;
use switchboard_cloudapi::{MediaKind, MediaSource, OutboundBody};
use switchboard_domain::message::{Media, MessageContent};
use switchboard_domain::{Attachment, AttachmentKind, ConversationId, MessageId, window};
use switchboard_store::{Agent, MessageView};

use super::{Compose, Inbox, InboxError, Outgoing};
use crate::channels::ChannelDirectory;

/// A file an agent sends, already received into `file`.
#[derive(Debug)]
pub struct Upload<'a> {
    pub attachment: Attachment,
    pub file: &'a Path,
    /// Shown under images, videos and documents.
    pub caption: Option<String>,
    pub reply_to: Option<MessageId>,
}

/// What was sent: the message queued and the id Meta gave the file.
#[derive(Debug)]
pub struct SentAttachment {
    pub message: MessageView,
    pub media_id: String,
}

impl Inbox<'_> {
    /// Uploads `upload` with the client of the conversation's channel (its own access
    /// token, else the configured one; none in sandbox mode, so nothing can be uploaded)
    /// and queues it as `agent`'s reply in `conversation`.
    pub async fn send_attachment(
        &self,
        agent: &Agent,
        conversation: ConversationId,
        upload: Upload<'_>,
        channels: &ChannelDirectory,
        idempotency_key: Option<&str>,
    ) -> Result<SentAttachment, InboxError> {
        let view = self.store.conversation(conversation).await?.ok_or(InboxError::NotFound { what: "conversation" })?;
        if !window::is_open(view.window_closes_at, Utc::now()) {
            return Err(InboxError::WindowClosed { closed_at: view.window_closes_at });
        }
        let graph = channels
            .client(&view.phone_number_id)
            .ok_or(InboxError::Unavailable("files are uploaded to WhatsApp, which is not connected (sandbox mode)"))?;
        let Upload { attachment, file, caption, reply_to } = upload;
        let media_id = graph
            .upload_media(&view.phone_number_id, file, attachment.media_type(), attachment.filename())
            .await
            .map_err(InboxError::Upload)?;
        tracing::info!(conversation_id = %conversation, agent_id = %agent.id, media_id, kind = %attachment.kind(), "file uploaded");
        let shown = Media {
            id: Some(media_id.clone()),
            mime_type: Some(attachment.media_type().to_owned()),
            caption: caption.clone(),
            filename: attachment.filename().map(str::to_owned),
            ..Media::default()
        };
        let (kind, content) = match attachment.kind() {
            AttachmentKind::Image => (MediaKind::Image, MessageContent::Image(shown)),
            AttachmentKind::Video => (MediaKind::Video, MessageContent::Video(shown)),
            AttachmentKind::Audio => (MediaKind::Audio, MessageContent::Audio(shown)),
            AttachmentKind::Document => (MediaKind::Document, MessageContent::Document(shown)),
            AttachmentKind::Sticker => (MediaKind::Sticker, MessageContent::Sticker(shown)),
        };
        // Documents show their name; Meta refuses one on other kinds.
        let filename = (kind == MediaKind::Document).then(|| attachment.filename().map(str::to_owned)).flatten();
        let body = OutboundBody::Media { kind, source: MediaSource::Id(media_id.clone()), caption, filename };
        let message = self
            .reply(agent, conversation, Compose::Message(Outgoing { body, content, reply_to }), idempotency_key)
            .await?;
        Ok(SentAttachment { message, media_id })
    }
}
