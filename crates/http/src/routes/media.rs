//! `GET /api/v1/messages/{id}/media`: the file of a message, from the local cache or
//! fetched from Meta (cloudapi.md §7) and cached on the way through. A file an agent
//! uploaded ([`Spool`]) is cached under the id Meta gave it, so it is served without
//! asking Meta.
//!
//! The cache is `media.dir`: one file per media id (`[A-Za-z0-9_-]` only) and a
//! `<id>.meta` JSON beside it. A download is streamed to the client while it is written
//! to a temporary file, which is renamed into place only once complete, so a partial
//! download is never served from the cache. The `.meta` is renamed first and the data
//! file last: the data file's presence is what marks an entry complete. A file's
//! modification time is when it was last used; `switchboard_core::media_cache` prunes by
//! it (`media.cache_max_age_days`, `media.cache_max_mb`).

use std::path::{Path, PathBuf};

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use switchboard_cloudapi::{GraphClient, GraphError, MediaDownload};
use switchboard_domain::MessageId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AppState;
use crate::error::ApiError;
use crate::guard::VisibleMessage;
use crate::openapi::Problem;

routes! {
    "/messages/{id}/media" => { get: media },
}

/// Read size when serving a cached file.
const CHUNK: usize = 64 * 1024;
const OCTET_STREAM: &str = "application/octet-stream";
/// A cached file served again is marked used at most this often.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the cache keeps beside a file.
#[derive(Serialize, Deserialize)]
struct CacheMeta {
    content_type: String,
}

/// The file of a message (image, video, audio, document, sticker): one a customer sent,
/// or one an agent sent by media id.
#[utoipa::path(get, path = "/messages/{id}/media", params(("id" = MessageId, Path)),
    responses(
        (status = 200, description = "The file, served with the type WhatsApp gave it (`application/octet-stream` if none), \
            `X-Content-Type-Options: nosniff` and a sandboxing `Content-Security-Policy`",
            content(("application/octet-stream")),
            headers(("Content-Disposition" = String, description = "`attachment`, with the file's name when it has one"))),
        (status = 410, description = "WhatsApp no longer has the file and it was not cached (`media_expired`)", body = Problem),
        (status = 502, description = "WhatsApp refused or could not be reached", body = Problem),
        (status = 503, description = "The file is not cached and WhatsApp is not connected (`media_unavailable`)", body = Problem),
    ))]
async fn media(
    VisibleMessage { message }: VisibleMessage,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let no_media = || ApiError::NotFound { what: "media" };
    let media = message.content.media().ok_or_else(no_media)?;
    let media_id = media.id.as_deref().ok_or_else(no_media)?;
    // Graph media ids are digits; anything else cannot be fetched, nor used as a file name.
    let key = cache_key(media_id).ok_or_else(no_media)?;
    let filename = media.filename.clone();

    let entry = CacheEntry::new(&state.media_dir, &key);
    if let Some(res) = entry.serve(filename.as_deref()).await {
        return Ok(res);
    }
    // Fetched with the token of the conversation's channel.
    let graph = state.channel_directory.client_for_conversation(state.store.as_ref(), message.conversation_id).await?;
    let Some(graph) = &graph else {
        return Err(ApiError::Unavailable {
            code: "media_unavailable",
            detail:
                "files are fetched from WhatsApp, which is not connected (sandbox mode), and this one is not cached"
                    .into(),
        });
    };
    let download = fetch(graph, media_id).await?;
    let content_type = download.content_type().map_or_else(|| OCTET_STREAM.to_owned(), ToOwned::to_owned);
    let mut res = response(&content_type, filename.as_deref());
    let length = download.content_length();
    if let Some(len) = length {
        res.insert_header((header::CONTENT_LENGTH, len));
    }
    let writer = match entry.writer(&content_type, length).await {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, dir = %state.media_dir.display(), "cannot cache media; serving it uncached");
            None
        }
    };
    Ok(res.streaming(relay(download, writer)))
}

/// The media id as a file name, if it is one already.
fn cache_key(media_id: &str) -> Option<String> {
    let key: String = media_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    (!key.is_empty() && key == media_id).then_some(key)
}

/// Looks the media id up and starts the download; a download URL that expired on the way
/// is looked up once more.
async fn fetch(graph: &GraphClient, media_id: &str) -> Result<MediaDownload, ApiError> {
    let mut expired_once = false;
    loop {
        let info = graph.media_url(media_id).await.map_err(|e| lookup_error(&e))?;
        match graph.download_media(&info.url).await {
            Ok(download) => return Ok(download),
            Err(GraphError::MediaUrlExpired) if !expired_once => expired_once = true,
            Err(GraphError::MediaUrlExpired) => return Err(expired()),
            Err(e) => return Err(ApiError::from(&e)),
        }
    }
}

fn lookup_error(e: &GraphError) -> ApiError {
    match e {
        // Unknown or expired media id (webhook media ids live 7 days).
        GraphError::Api { code: Some(100), .. } => expired(),
        GraphError::Invalid(_) => ApiError::NotFound { what: "media" },
        e => ApiError::from(e),
    }
}

fn expired() -> ApiError {
    ApiError::Gone {
        code: "media_expired",
        detail: "WhatsApp no longer has this file (files sent by customers are kept for 7 days) and it was not cached"
            .into(),
    }
}

/// Headers shared by cached and fetched files. Customers choose these files: never let a
/// browser run them as a page on our origin.
fn response(content_type: &str, filename: Option<&str>) -> HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.insert_header((
        header::CONTENT_TYPE,
        header::HeaderValue::from_str(content_type).unwrap_or(header::HeaderValue::from_static(OCTET_STREAM)),
    ))
    .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'"))
    .insert_header((header::CACHE_CONTROL, "private, max-age=86400"));
    if let Some(name) = filename.filter(|n| !n.is_empty()) {
        res.insert_header(content_disposition(name));
    }
    res
}

/// `attachment; filename="…"; filename*=UTF-8''…`, the plain name with only safe characters.
fn content_disposition(name: &str) -> ContentDisposition {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: header::Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition { disposition: DispositionType::Attachment, parameters }
}

/// One media id's place in the cache.
struct CacheEntry {
    dir: PathBuf,
    file: PathBuf,
    meta: PathBuf,
    key: String,
}

impl CacheEntry {
    fn new(dir: &Path, key: &str) -> Self {
        Self { dir: dir.to_owned(), file: dir.join(key), meta: dir.join(format!("{key}.meta")), key: key.to_owned() }
    }

    /// The cached file as a response, if there is a complete copy.
    async fn serve(&self, filename: Option<&str>) -> Option<HttpResponse> {
        let file = tokio::fs::File::open(&self.file).await.ok()?;
        let meta = tokio::fs::read(&self.meta).await.ok()?;
        let meta: CacheMeta = serde_json::from_slice(&meta).ok()?;
        let stat = file.metadata().await.ok()?;
        let file = touch(file, &stat).await;
        tracing::debug!(media = %self.key, "media served from the cache");
        let mut res = response(&meta.content_type, filename);
        res.insert_header((header::CONTENT_LENGTH, stat.len()));
        Some(res.streaming(read_file(file)))
    }

    /// A temporary file to download `length` bytes (when known) into.
    async fn writer(&self, content_type: &str, length: Option<u64>) -> std::io::Result<CacheWriter> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let tmp = self.dir.join(format!(".{}.{}.part", self.key, uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&tmp).await?;
        let meta =
            serde_json::to_vec(&CacheMeta { content_type: content_type.to_owned() }).map_err(std::io::Error::other)?;
        Ok(CacheWriter { file, tmp, entry: Self::new(&self.dir, &self.key), meta, left: length, committed: false })
    }
}

/// A file received from an agent, spooled in the cache's directory until Meta names it
/// ([`Spool::keep`]); dropped before that, it is removed.
pub(crate) struct Spool {
    file: tokio::fs::File,
    path: PathBuf,
    dir: PathBuf,
    len: u64,
    kept: bool,
}

impl Spool {
    pub(crate) async fn create(dir: &Path) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!(".upload.{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Self { file, path, dir: dir.to_owned(), len: 0, kept: false })
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes).await?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The file, complete on disk (to upload it).
    pub(crate) async fn finish(&mut self) -> std::io::Result<&Path> {
        self.file.flush().await?;
        Ok(&self.path)
    }

    pub(crate) const fn len(&self) -> u64 {
        self.len
    }

    /// Keeps the file in the cache as media `media_id`'s.
    pub(crate) async fn keep(mut self, media_id: &str, content_type: &str) -> std::io::Result<()> {
        let key = cache_key(media_id).ok_or_else(|| std::io::Error::other("not a media id"))?;
        let entry = CacheEntry::new(&self.dir, &key);
        let meta =
            serde_json::to_vec(&CacheMeta { content_type: content_type.to_owned() }).map_err(std::io::Error::other)?;
        let meta_tmp = self.path.with_extension("meta");
        tokio::fs::write(&meta_tmp, meta).await?;
        tokio::fs::rename(&meta_tmp, &entry.meta).await?;
        tokio::fs::rename(&self.path, &entry.file).await?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(self.path.with_extension("meta"));
        }
    }
}

/// Marks a cached file used now (its modification time), at most hourly: the cache is
/// pruned by how long ago files were last used (`switchboard_core::media_cache`).
async fn touch(file: tokio::fs::File, stat: &std::fs::Metadata) -> tokio::fs::File {
    let now = std::time::SystemTime::now();
    if stat.modified().is_ok_and(|m| now.duration_since(m).is_ok_and(|age| age < TOUCH_EVERY)) {
        return file;
    }
    let file = file.into_std().await;
    if let Err(e) = file.set_modified(now) {
        tracing::debug!(error = %e, "cannot mark a cached media file used");
    }
    tokio::fs::File::from_std(file)
}

/// A download being written to the cache. Dropped before [`CacheWriter::commit`] (the
/// download failed, or the client went away), it removes its temporary file.
struct CacheWriter {
    file: tokio::fs::File,
    tmp: PathBuf,
    entry: CacheEntry,
    meta: Vec<u8>,
    /// Bytes still to come, when Meta said how many.
    left: Option<u64>,
    committed: bool,
}

impl CacheWriter {
    /// Writes a chunk; true once every announced byte is written.
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<bool> {
        self.file.write_all(bytes).await?;
        self.left = self.left.map(|n| n.saturating_sub(bytes.len() as u64));
        Ok(self.left == Some(0))
    }

    async fn commit(mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        self.file.sync_data().await?;
        let meta_tmp = self.tmp.with_extension("meta");
        tokio::fs::write(&meta_tmp, &self.meta).await?;
        tokio::fs::rename(&meta_tmp, &self.entry.meta).await?;
        tokio::fs::rename(&self.tmp, &self.entry.file).await?;
        self.committed = true;
        tracing::debug!(media = %self.entry.key, "media cached");
        Ok(())
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
            let _ = std::fs::remove_file(self.tmp.with_extension("meta"));
        }
    }
}

/// Relays the download to the client, copying it into the cache; the copy is kept only
/// if the download completes. A cache write failure does not interrupt the client. When
/// Meta announced the length, the copy is kept before the last chunk goes out, so a
/// request that follows the client's download finds it cached.
fn relay(
    download: MediaDownload,
    writer: Option<CacheWriter>,
) -> impl futures_util::Stream<Item = Result<Bytes, GraphError>> {
    futures_util::stream::unfold(Some((download, writer)), |state| async move {
        let (mut download, mut writer) = state?;
        match download.chunk().await {
            Ok(Some(bytes)) => {
                if let Some(w) = writer.as_mut() {
                    match w.write(&bytes).await {
                        Ok(false) => {}
                        Ok(true) => {
                            if let Some(w) = writer.take()
                                && let Err(e) = w.commit().await
                            {
                                tracing::warn!(error = %e, "cannot store the downloaded media in the cache");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot write the media cache; serving the file uncached");
                            writer = None;
                        }
                    }
                }
                Some((Ok(bytes), Some((download, writer))))
            }
            Ok(None) => {
                if let Some(w) = writer
                    && let Err(e) = w.commit().await
                {
                    tracing::warn!(error = %e, "cannot store the downloaded media in the cache");
                }
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "media download broke off");
                Some((Err(e), None))
            }
        }
    })
}

/// A file as a stream of chunks.
fn read_file(file: tokio::fs::File) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_media_ids_name_cache_files() {
        assert_eq!(cache_key("1037543291543636").as_deref(), Some("1037543291543636"));
        assert_eq!(cache_key("abc_DEF-9").as_deref(), Some("abc_DEF-9"));
        for bad in ["", "../etc/passwd", "1/2", "1.meta", ".", "1 2", "é1"] {
            assert_eq!(cache_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn file_names_cannot_break_the_header() {
        let h = content_disposition("in\"voice\r\n.pdf").to_string();
        assert!(!h.contains('\r') && !h.contains('\n'), "{h}");
        assert!(h.starts_with("attachment; filename=\"in_voice__.pdf\""), "{h}");
        let h = content_disposition("factura año.pdf").to_string();
        assert!(h.contains("filename*=UTF-8''factura%20a%C3%B1o.pdf"), "{h}");
    }
}
