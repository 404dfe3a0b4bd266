//! Exporting one contact's data: a data-subject access request answered as a ZIP.
//!
//! The archive holds `media/<message id>.<ext>`, one file per media message whose file
//! could be had (from the media cache, else fetched from Meta while Meta still has it),
//! and `contact.json`: the profile, attributes, consent history, and every conversation
//! with its messages (content, delivery states, errors), labels, notes, CSAT survey and
//! link attribution. A media message whose file could not be had says why in its
//! `media.missing`; it never fails the export.
//!
//! Memory stays flat however many messages there are: conversations and messages are
//! read in keyset pages, the document is written page by page as it is read (serde
//! writes each item; the document is never built whole), and the archive goes out in
//! chunks to an [`AsyncWrite`] (a file, or the other end of an HTTP response) that
//! applies back-pressure. Entries are written in stream mode (sizes in data descriptors),
//! so the output needs no seeking. The only state that grows is one small record per
//! media message (which file it became, or why none), kept between the two passes: media
//! files first, then the document that names them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use switchboard_cloudapi::{GraphClient, GraphError};
use switchboard_domain::message::{MessageContent, MessageContext, Referral, StatusError};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ConversationStatus, DeliveryState, Direction, LabelId, LinkId,
    MessageId, NoteId, PhoneNumberId, TeamId,
};
use switchboard_store::{
    Contact, ConversationView, MessageCursor, MessageQuery, MessageView, Store, StoreError, ViewCursor, ViewQuery,
    ViewSort, Visibility,
};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use crate::channels::ChannelDirectory;

/// The version of `contact.json`'s layout (its `schema_version`): raised when a field
/// changes meaning or goes away; new fields may appear without it.
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

/// Rows per read.
const PAGE: u32 = 500;
/// The archive is handed on in chunks of about this size.
const CHUNK: usize = 64 * 1024;

/// Where media files come from.
#[derive(Clone)]
pub struct ExportOptions {
    /// The media cache (`media.dir`).
    pub media_dir: PathBuf,
    /// Fetches files that are not cached, each with the client of its conversation's
    /// channel ([`ChannelDirectory::client`]); in sandbox mode, cached files only.
    pub channels: Arc<ChannelDirectory>,
}

/// What an export wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub conversations: u64,
    pub messages: u64,
    /// Media files in the archive.
    pub media_files: u64,
    /// Media messages whose file could not be had (each says why in the document).
    pub media_missing: u64,
    /// The archive's size.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no such contact")]
    ContactNotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot encode the document: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes contact `contact`'s archive to `out` (which it flushes, not closes).
///
/// # Errors
/// [`ExportError::ContactNotFound`] before anything is written; otherwise a store or
/// write failure, after which what `out` received is not a valid archive.
pub async fn export_contact<W>(
    store: &dyn Store,
    options: &ExportOptions,
    contact: ContactId,
    now: DateTime<Utc>,
    out: &mut W,
) -> Result<ExportSummary, ExportError>
where
    W: AsyncWrite + Unpin + Send + ?Sized,
{
    let contact = store.contact(contact).await?.ok_or(ExportError::ContactNotFound)?;
    let mut zip = Archive::new(out, now);
    let mut summary = ExportSummary::default();

    // Pass 1: the media files.
    let mut media: HashMap<MessageId, MediaOutcome> = HashMap::new();
    let mut conversations = Conversations::new(contact.id, now);
    while let Some(page) = conversations.next(store).await? {
        for c in page {
            let mut after = None;
            loop {
                let q = MessageQuery { limit: PAGE, after };
                let page = store.list_messages(c.id, &q).await?;
                for m in &page.items {
                    if m.content.media().is_some() {
                        let outcome = media_file(&mut zip, options, &c.phone_number_id, m).await?;
                        match outcome {
                            MediaOutcome::File { .. } => summary.media_files += 1,
                            MediaOutcome::Missing(_) => summary.media_missing += 1,
                        }
                        media.insert(m.id, outcome);
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    }

    // Pass 2: the document.
    zip.start("contact.json", SimpleFileOptions::default().compression_method(CompressionMethod::Deflated))?;
    let head = DocumentHead {
        schema_version: EXPORT_SCHEMA_VERSION,
        kind: "switchboard.contact_export",
        exported_at: now,
        contact: ContactOut::from(&contact),
        consent: store
            .consent_history(contact.id)
            .await?
            .into_iter()
            .map(|e| ConsentOut {
                state: e.state.as_str(),
                source: e.source.as_str(),
                message_id: e.message_id,
                agent_id: e.agent_id,
                note: e.note,
                at: e.at,
            })
            .collect(),
    };
    zip.write_open(&head)?;
    zip.write(b",\"conversations\":[")?;
    let mut conversations = Conversations::new(contact.id, now);
    let mut first_conversation = true;
    while let Some(page) = conversations.next(store).await? {
        for c in page {
            if !std::mem::take(&mut first_conversation) {
                zip.write(b",")?;
            }
            summary.conversations += 1;
            summary.messages += conversation(&mut zip, store, &c, &media).await?;
            zip.drain().await?;
        }
    }
    zip.write(b"]}")?;
    summary.bytes = zip.finish().await?;
    Ok(summary)
}

/// The contact's conversations, newest first, a page at a time (by creation, which
/// does not change, so a conversation that moves on during the export is neither
/// skipped nor repeated).
struct Conversations {
    q: ViewQuery,
    done: bool,
}

impl Conversations {
    fn new(contact: ContactId, now: DateTime<Utc>) -> Self {
        let mut q = ViewQuery::new(Visibility::All, now);
        q.contact = Some(contact);
        q.sort = ViewSort::Newest;
        q.limit = PAGE;
        Self { q, done: false }
    }

    async fn next(&mut self, store: &dyn Store) -> Result<Option<Vec<ConversationView>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = store.view_conversations(&self.q).await?;
        match page.next {
            Some(next @ ViewCursor::Newest { .. }) => self.q.after = Some(next),
            _ => self.done = true,
        }
        Ok(Some(page.items))
    }
}

/// Writes one conversation's object; how many messages it had.
async fn conversation<W: AsyncWrite + Unpin + Send + ?Sized>(
    zip: &mut Archive<'_, W>,
    store: &dyn Store,
    c: &ConversationView,
    media: &HashMap<MessageId, MediaOutcome>,
) -> Result<u64, ExportError> {
    let labels = store.conversation_labels(c.id).await?;
    let attribution = store.conversation_attribution(c.id).await?;
    let csat = store.conversation_csat(c.id).await?;
    let head = ConversationOut {
        id: c.id,
        channel_id: c.channel_id,
        business_number: c.phone_number_id.as_str(),
        status: c.status,
        created_at: c.created_at,
        last_message_at: c.last_message_at,
        resolved_at: c.resolved_at,
        assignee_id: c.assignee_id,
        team_id: c.team_id,
        labels: labels
            .iter()
            .map(|l| LabelOut {
                id: l.label.id,
                name: l.label.name.as_str(),
                added_by: l.added_by,
                added_at: l.added_at,
            })
            .collect(),
        link_attribution: attribution.map(|a| AttributionOut {
            link_id: a.link_id,
            slug: a.slug,
            campaign: a.campaign,
            source: a.source,
            attributed_at: a.attributed_at,
            how: a.how,
        }),
        csat: csat.map(|s| CsatOut {
            survey_message_id: s.message_id,
            queued_at: s.queued_at,
            expires_at: s.expires_at,
            scale: serde_json::to_value(s.scale).unwrap_or(Value::Null),
            score: s.score.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            rated_at: s.rated_at,
            comment_asked_at: s.comment_asked_at,
            comment: s.comment,
            commented_at: s.commented_at,
        }),
    };
    zip.write_open(&head)?;

    zip.write(b",\"notes\":[")?;
    let mut after: Option<NoteId> = None;
    let mut first = true;
    loop {
        let page = store.notes(c.id, PAGE, after).await?;
        for n in &page.items {
            if !std::mem::take(&mut first) {
                zip.write(b",")?;
            }
            zip.json(&NoteOut {
                id: n.id,
                author_id: n.author_id,
                text: &n.text,
                mentions: &n.mentions,
                created_at: n.created_at,
            })?;
        }
        zip.drain().await?;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }

    zip.write(b"],\"messages\":[")?;
    let mut count = 0;
    let mut after: Option<MessageCursor> = None;
    loop {
        let page = store.list_messages(c.id, &MessageQuery { limit: PAGE, after }).await?;
        for m in &page.items {
            if count > 0 {
                zip.write(b",")?;
            }
            count += 1;
            let media = m.content.media().map(|_| match media.get(&m.id) {
                Some(MediaOutcome::File { path, bytes }) => {
                    MediaOut { file: Some(path), bytes: Some(*bytes), missing: None }
                }
                Some(MediaOutcome::Missing(why)) => MediaOut { file: None, bytes: None, missing: Some(why.as_str()) },
                None => MediaOut { file: None, bytes: None, missing: Some(Missing::ArrivedDuringExport.as_str()) },
            });
            zip.json(&MessageOut::new(m, media))?;
        }
        zip.drain().await?;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    zip.write(b"]}")?;
    Ok(count)
}

/// What became of a media message's file.
enum MediaOutcome {
    File { path: String, bytes: u64 },
    Missing(Missing),
}

/// Why a media message's file is not in the archive.
#[derive(Clone, Copy, Debug)]
enum Missing {
    /// The message names no file Meta could give (no media id).
    NoMediaId,
    /// Not cached, and WhatsApp is not connected (sandbox mode).
    NotCached,
    /// Not cached, and Meta no longer has it (customers' files are kept 7 days).
    Expired,
    /// Meta refused or could not be reached, or the download broke off.
    FetchFailed,
    /// The message arrived after its conversation's files were collected.
    ArrivedDuringExport,
}

impl Missing {
    const fn as_str(self) -> &'static str {
        match self {
            Self::NoMediaId => "no_media_id",
            Self::NotCached => "not_cached_and_whatsapp_not_connected",
            Self::Expired => "expired_at_whatsapp",
            Self::FetchFailed => "fetch_failed",
            Self::ArrivedDuringExport => "arrived_during_export",
        }
    }
}

/// Writes a media message's file into the archive: from the cache, else from Meta.
async fn media_file<W: AsyncWrite + Unpin + Send + ?Sized>(
    zip: &mut Archive<'_, W>,
    options: &ExportOptions,
    business_number: &PhoneNumberId,
    m: &MessageView,
) -> Result<MediaOutcome, ExportError> {
    let Some(media) = m.content.media() else { return Ok(MediaOutcome::Missing(Missing::NoMediaId)) };
    let Some(key) = media.id.as_deref().and_then(crate::media_cache::key) else {
        return Ok(MediaOutcome::Missing(Missing::NoMediaId));
    };
    let declared = media.mime_type.as_deref();
    let filename = media.filename.as_deref();
    if let Some((path, content_type)) = crate::media_cache::cached(&options.media_dir, key).await
        && let Ok(file) = tokio::fs::File::open(&path).await
    {
        let name = entry_name(m.id, content_type.as_deref().or(declared), filename);
        let bytes = zip.copy_file(&name, file).await?;
        return Ok(MediaOutcome::File { path: name, bytes });
    }
    let Some(graph) = options.channels.client(business_number) else {
        return Ok(MediaOutcome::Missing(Missing::NotCached));
    };
    // Downloaded to a temporary file first, so that a download that breaks off leaves no
    // partial entry (entries in a stream cannot be taken back). The name starts with a
    // dot: the cache's pruning removes one an interrupted export left behind.
    let tmp = options.media_dir.join(format!(".export.{}.part", uuid_simple()));
    let fetched = fetch(&graph, key, &options.media_dir, &tmp).await;
    let result = match fetched {
        Ok(content_type) => match tokio::fs::File::open(&tmp).await {
            Ok(file) => {
                let name = entry_name(m.id, content_type.as_deref().or(declared), filename);
                let bytes = zip.copy_file(&name, file).await;
                bytes.map(|bytes| MediaOutcome::File { path: name, bytes })
            }
            Err(e) => Err(e.into()),
        },
        Err(why) => Ok(MediaOutcome::Missing(why)),
    };
    let _ = tokio::fs::remove_file(&tmp).await;
    result
}

/// Downloads media `media_id` into `tmp`; its content type.
async fn fetch(graph: &GraphClient, media_id: &str, dir: &Path, tmp: &Path) -> Result<Option<String>, Missing> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, media = media_id, "cannot fetch a media file for an export");
        Missing::FetchFailed
    };
    let mut expired_once = false;
    let mut download = loop {
        let info = match graph.media_url(media_id).await {
            Ok(info) => info,
            Err(GraphError::Api { code: Some(100), .. }) => return Err(Missing::Expired),
            Err(e) => return Err(failed(&e)),
        };
        match graph.download_media(&info.url).await {
            Ok(d) => break d,
            Err(GraphError::MediaUrlExpired) if !expired_once => expired_once = true,
            Err(GraphError::MediaUrlExpired) => return Err(Missing::Expired),
            Err(e) => return Err(failed(&e)),
        }
    };
    let content_type = download.content_type().map(ToOwned::to_owned);
    tokio::fs::create_dir_all(dir).await.map_err(|e| failed(&e))?;
    let mut file = tokio::fs::File::create(tmp).await.map_err(|e| failed(&e))?;
    loop {
        match download.chunk().await {
            Ok(Some(bytes)) => file.write_all(&bytes).await.map_err(|e| failed(&e))?,
            Ok(None) => break,
            Err(e) => return Err(failed(&e)),
        }
    }
    file.flush().await.map_err(|e| failed(&e))?;
    Ok(content_type)
}

fn uuid_simple() -> String {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `media/<message id>.<ext>`: the extension by the file's type, else its name's.
fn entry_name(id: MessageId, content_type: Option<&str>, filename: Option<&str>) -> String {
    let by_type = content_type.and_then(|t| {
        let t = t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/webp" => "webp",
            "image/gif" => "gif",
            "video/mp4" => "mp4",
            "video/3gpp" => "3gp",
            "audio/ogg" => "ogg",
            "audio/mpeg" => "mp3",
            "audio/aac" => "aac",
            "audio/amr" => "amr",
            "audio/mp4" => "m4a",
            "application/pdf" => "pdf",
            "text/plain" => "txt",
            "application/msword" => "doc",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
            "application/vnd.ms-excel" => "xls",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
            "application/vnd.ms-powerpoint" => "ppt",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
            _ => return None,
        })
    });
    let by_name = || {
        let ext = filename?.rsplit_once('.')?.1.to_ascii_lowercase();
        (!ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(ext)
    };
    let ext = by_type.map(str::to_owned).or_else(by_name).unwrap_or_else(|| "bin".to_owned());
    format!("media/{id}.{ext}")
}

/// The archive being written: the zip writer fills a buffer that is handed to the output
/// (awaiting its back-pressure) whenever it holds a chunk.
struct Archive<'a, W: ?Sized> {
    zip: ZipWriter<StreamWriter<SharedBuf>>,
    buf: SharedBuf,
    out: &'a mut W,
    written: u64,
    modified: zip::DateTime,
    /// Reused for each item's JSON.
    scratch: Vec<u8>,
}

/// The zip writer's output, drained by [`Archive::drain`].
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a, W: AsyncWrite + Unpin + Send + ?Sized> Archive<'a, W> {
    fn new(out: &'a mut W, now: DateTime<Utc>) -> Self {
        let buf = SharedBuf::default();
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(now.year()).unwrap_or(1980),
            u8::try_from(now.month()).unwrap_or(1),
            u8::try_from(now.day()).unwrap_or(1),
            u8::try_from(now.hour()).unwrap_or(0),
            u8::try_from(now.minute()).unwrap_or(0),
            u8::try_from(now.second()).unwrap_or(0),
        )
        .unwrap_or_default();
        Self { zip: ZipWriter::new_stream(buf.clone()), buf, out, written: 0, modified, scratch: Vec::new() }
    }

    fn start(&mut self, name: &str, options: SimpleFileOptions) -> Result<(), ExportError> {
        // Sizes are unknown up front in a stream: Zip64 fields keep large entries valid.
        self.zip.start_file(name, options.last_modified_time(self.modified).large_file(true))?;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ExportError> {
        self.zip.write_all(bytes)?;
        Ok(())
    }

    /// Writes `value` as JSON, in one write (serde writes token by token; each write to
    /// the zip writer goes through the compressor and checksum).
    fn json<T: Serialize>(&mut self, value: &T) -> Result<(), ExportError> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, value)?;
        self.zip.write_all(&self.scratch)?;
        Ok(())
    }

    /// Writes `value`, an object, without its closing brace, so that fields written next
    /// belong to it.
    fn write_open<T: Serialize>(&mut self, value: &T) -> Result<(), ExportError> {
        let mut bytes = serde_json::to_vec(value)?;
        if bytes.pop() != Some(b'}') {
            return Err(ExportError::Json(serde::ser::Error::custom("not an object")));
        }
        self.write(&bytes)
    }

    /// Hands what the zip writer produced to the output once it is a chunk's worth.
    async fn drain(&mut self) -> Result<(), ExportError> {
        let ready = self.buf.0.lock().unwrap_or_else(PoisonError::into_inner).len() >= CHUNK;
        if ready { self.flush_out().await } else { Ok(()) }
    }

    async fn flush_out(&mut self) -> Result<(), ExportError> {
        let bytes = std::mem::take(&mut *self.buf.0.lock().unwrap_or_else(PoisonError::into_inner));
        if !bytes.is_empty() {
            self.out.write_all(&bytes).await?;
            self.written += bytes.len() as u64;
        }
        Ok(())
    }

    /// Copies a file into a new (stored, not compressed: media files are compressed
    /// already) entry; its size.
    async fn copy_file(&mut self, name: &str, mut file: tokio::fs::File) -> Result<u64, ExportError> {
        self.start(name, SimpleFileOptions::default().compression_method(CompressionMethod::Stored))?;
        let mut chunk = vec![0; CHUNK];
        let mut total = 0;
        loop {
            let n = file.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            self.write(&chunk[..n])?;
            total += n as u64;
            self.drain().await?;
        }
        Ok(total)
    }

    /// Ends the archive and flushes the output; the archive's size.
    async fn finish(self) -> Result<u64, ExportError> {
        let Self { zip, buf, out, written, .. } = self;
        zip.finish()?;
        let rest = std::mem::take(&mut *buf.0.lock().unwrap_or_else(PoisonError::into_inner));
        out.write_all(&rest).await?;
        out.flush().await?;
        Ok(written + rest.len() as u64)
    }
}

#[derive(Serialize)]
struct DocumentHead<'a> {
    schema_version: u32,
    kind: &'static str,
    exported_at: DateTime<Utc>,
    contact: ContactOut<'a>,
    /// Opt-outs and opt-ins, oldest first.
    consent: Vec<ConsentOut>,
}

/// One change of the contact's consent.
#[derive(Serialize)]
struct ConsentOut {
    /// `opted_out` or `opted_in`.
    state: &'static str,
    /// `keyword`, `agent`, `api` or `import`.
    source: &'static str,
    /// The customer's message that carried the keyword.
    message_id: Option<switchboard_domain::MessageId>,
    /// The agent who recorded it.
    agent_id: Option<switchboard_domain::AgentId>,
    note: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Serialize)]
struct ContactOut<'a> {
    id: ContactId,
    wa_id: &'a str,
    profile_name: Option<&'a str>,
    name: Option<&'a str>,
    attributes: &'a Map<String, Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> From<&'a Contact> for ContactOut<'a> {
    fn from(c: &'a Contact) -> Self {
        Self {
            id: c.id,
            wa_id: c.wa_id.as_str(),
            profile_name: c.profile_name.as_deref(),
            name: c.name.as_deref(),
            attributes: &c.attributes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize)]
struct ConversationOut<'a> {
    id: ConversationId,
    channel_id: ChannelId,
    /// The business's number (its Graph phone number id) the conversation is with.
    business_number: &'a str,
    status: ConversationStatus,
    created_at: DateTime<Utc>,
    last_message_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    assignee_id: Option<AgentId>,
    team_id: Option<TeamId>,
    labels: Vec<LabelOut<'a>>,
    /// The click-to-chat link or ad the conversation came from.
    link_attribution: Option<AttributionOut>,
    csat: Option<CsatOut>,
}

#[derive(Serialize)]
struct LabelOut<'a> {
    id: LabelId,
    name: &'a str,
    added_by: Option<AgentId>,
    added_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct AttributionOut {
    link_id: LinkId,
    slug: String,
    campaign: Option<String>,
    source: Option<String>,
    attributed_at: Option<DateTime<Utc>>,
    how: Option<Value>,
}

#[derive(Serialize)]
struct CsatOut {
    survey_message_id: Option<MessageId>,
    queued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    scale: Value,
    score: Option<Value>,
    rated_at: Option<DateTime<Utc>>,
    comment_asked_at: Option<DateTime<Utc>>,
    comment: Option<String>,
    commented_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct NoteOut<'a> {
    id: NoteId,
    author_id: Option<AgentId>,
    text: &'a str,
    mentions: &'a [AgentId],
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct MediaOut<'a> {
    /// The file's path in the archive.
    file: Option<&'a str>,
    bytes: Option<u64>,
    /// Why the file is not in the archive.
    missing: Option<&'static str>,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    id: MessageId,
    direction: Direction,
    wamid: Option<&'a str>,
    timestamp: DateTime<Utc>,
    created_at: DateTime<Utc>,
    /// What was sent or received, as WhatsApp described it.
    content: &'a MessageContent,
    /// The text agents saw, where it differs from the content's.
    text: Option<&'a str>,
    context: Option<&'a MessageContext>,
    referral: Option<&'a Referral>,
    errors: &'a [StatusError],
    state: DeliveryState,
    sent_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    error: Option<&'a StatusError>,
    sent_by: Option<AgentId>,
    auto_rule: Option<&'a str>,
    media: Option<MediaOut<'a>>,
}

impl<'a> MessageOut<'a> {
    fn new(m: &'a MessageView, media: Option<MediaOut<'a>>) -> Self {
        Self {
            id: m.id,
            direction: m.direction,
            wamid: m.wamid.as_ref().map(|w| w.as_str()),
            timestamp: m.timestamp,
            created_at: m.created_at,
            content: &m.content,
            text: m.text.as_deref(),
            context: m.context.as_ref(),
            referral: m.referral.as_ref(),
            errors: &m.errors,
            state: m.state,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            failed_at: m.failed_at,
            error: m.error.as_ref(),
            sent_by: m.sent_by,
            auto_rule: m.auto_rule.as_deref(),
            media,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_named_by_message_id_and_type() {
        let id = MessageId::new();
        assert_eq!(entry_name(id, Some("image/jpeg"), None), format!("media/{id}.jpg"));
        assert_eq!(entry_name(id, Some("audio/ogg; codecs=opus"), None), format!("media/{id}.ogg"));
        assert_eq!(entry_name(id, Some("application/x-unknown"), Some("Report.ODT")), format!("media/{id}.odt"));
        assert_eq!(entry_name(id, None, Some("../../etc/pass/wd")), format!("media/{id}.bin"));
        assert_eq!(entry_name(id, None, None), format!("media/{id}.bin"));
    }
}
