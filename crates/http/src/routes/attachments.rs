//! `POST /api/v1/conversations/{id}/attachments`: an agent sends a file. The body is the
//! file itself, typed by `Content-Type`; it is checked against Meta's types and sizes,
//! received to disk (never held whole in memory), uploaded to Meta's media endpoint and
//! sent by the id Meta gives (the use case: `Inbox::send_attachment`). The file stays in
//! the media cache, so the thread shows it without asking Meta.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use switchboard_core::inbox::Upload;
use switchboard_domain::{Attachment, AttachmentError, AttachmentKind, ConversationId, MessageId};
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::guard::VisibleConversation;
use crate::openapi::Problem;
use crate::routes::conversations::MessageJson;
use crate::routes::media::Spool;
use crate::routes::replies::idempotency_key;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttachmentParams {
    /// The file's name, shown with documents (1 to 240 characters).
    filename: Option<String>,
    /// Shown under images, videos and documents.
    caption: Option<String>,
    /// A message of this conversation to quote.
    reply_to: Option<MessageId>,
}

/// Sends a file: the request body is the file, `Content-Type` its media type. WhatsApp
/// takes images (JPEG, PNG) up to 5 MB, videos (MP4, 3GPP) and audio (AAC, AMR, MP3, M4A,
/// OGG Opus) up to 16 MB, documents (PDF, TXT, Word, Excel, PowerPoint) up to 100 MB and
/// stickers (WebP) up to 500 KB. Only inside the customer-service window.
#[utoipa::path(post, path = "/conversations/{id}/attachments",
    params(
        ("id" = ConversationId, Path),
        AttachmentParams,
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 200,
            description = "As for replies: a request repeated with the same key queues nothing new."),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file, sent with its own media type as `Content-Type` (`image/jpeg`, `application/pdf`…)"),
    responses(
        (status = 202, description = "Uploaded to WhatsApp and queued in the outbox", body = MessageJson),
        (status = 413, description = "Larger than WhatsApp takes for its type", body = Problem),
        (status = 422, description = "A type WhatsApp does not take (`Content-Type`), an empty file (`file`), a bad \
            `filename`, a caption on audio or a sticker; or the customer-service window is closed (`window_closed`)",
            body = Problem),
        (status = 502, description = "WhatsApp did not take the file", body = Problem),
        (status = 503, description = "WhatsApp is not connected (sandbox mode)", body = Problem),
    ))]
pub(crate) async fn upload(
    VisibleConversation { id, agent }: VisibleConversation,
    req: HttpRequest,
    params: web::Query<AttachmentParams>,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::field("Content-Type", "the file's media type is required"))?
        .to_owned();
    let kind = AttachmentKind::of_media_type(&media_type).ok_or_else(|| {
        ApiError::field("Content-Type", AttachmentError::UnsupportedType { media_type: media_type.clone() }.to_string())
    })?;
    let limit = kind.max_bytes();
    let too_large = || ApiError::PayloadTooLarge { limit: usize::try_from(limit).unwrap_or(usize::MAX) };
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut spool = Spool::create(&state.media_dir).await.map_err(|e| ApiError::Internal(e.into()))?;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest { code: "invalid_body", detail: e.to_string() })?;
        if spool.len() + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        spool.write(&chunk).await.map_err(|e| ApiError::Internal(e.into()))?;
    }
    let params = params.into_inner();
    let attachment = Attachment::parse(&media_type, spool.len(), params.filename.as_deref()).map_err(|e| {
        let field = if e == AttachmentError::Filename { "filename" } else { "file" };
        ApiError::field(field, e.to_string())
    })?;
    let file = spool.finish().await.map_err(|e| ApiError::Internal(e.into()))?.to_owned();
    let upload = Upload { attachment, file: &file, caption: params.caption, reply_to: params.reply_to };
    let sent = state.inbox().send_attachment(&agent.0, id, upload, &state.channel_directory, key.as_deref()).await?;
    if let Err(e) = spool.keep(&sent.media_id, &media_type).await {
        tracing::warn!(error = %e, media_id = sent.media_id, "cannot keep the uploaded file in the media cache");
    }
    Ok(HttpResponse::Accepted().json(MessageJson::from(sent.message)))
}
