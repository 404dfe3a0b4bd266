//! The Graph API client (cloudapi.md §5–§7): send messages, mark them read, fetch media.
//!
//! One pooled HTTP client per [`GraphClient`]; clone it freely (clones share the pool). The
//! access token is only ever put in the `Authorization` header of requests to the configured
//! Graph API or to https media URLs; it is not in any error, log line or `Debug` output.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use reqwest::{Method, RequestBuilder, Response, Url, header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchboard_domain::{PhoneNumberId, WaId, Wamid};

use crate::errors::GraphError;
use crate::send::{OutboundMessage, SendValidationError, mark_read_json};

/// Largest JSON response body read; Meta's are a few hundred bytes.
const MAX_JSON_BODY: usize = 1024 * 1024;

/// How to reach the Graph API.
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// `https://graph.facebook.com`, or a mock server in tests. No query or fragment.
    pub base_url: String,
    /// Path segment such as `v25.0`.
    pub api_version: String,
    /// System-user access token (`SWITCHBOARD_ACCESS_TOKEN`). Redacted in `Debug`.
    pub access_token: SecretString,
    pub connect_timeout: Duration,
    /// Limit for a whole API call, and for each wait between chunks of a media download
    /// (downloads as a whole have no limit, so large files can finish).
    pub timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

impl GraphConfig {
    /// A configuration with default timeouts (5 s to connect, 30 s per call) and pool size.
    pub fn new(base_url: impl Into<String>, api_version: impl Into<String>, access_token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            api_version: api_version.into(),
            access_token,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            pool_max_idle_per_host: 32,
        }
    }
}

/// A Graph API client for one access token.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `{base_url}/{api_version}`, no trailing slash.
    api_root: String,
    base: Url,
    token: SecretString,
    timeout: Duration,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("api_root", &self.inner.api_root)
            .field("access_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Meta's answer to an accepted message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResponse {
    /// The new message's id; status webhooks refer to it.
    pub wamid: Wamid,
    /// The recipient's normalised WhatsApp id (`contacts[0].wa_id`), when Meta sends it.
    pub wa_id: Option<WaId>,
}

/// Where to download a media file from, valid for 5 minutes.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// Download with [`GraphClient::download_media`] (it needs the token).
    pub url: String,
    pub mime_type: Option<String>,
    /// As Meta sends it: hex here, base64 in webhooks (cloudapi.md §7).
    pub sha256: Option<String>,
    /// Bytes.
    pub file_size: Option<u64>,
}

impl fmt::Debug for MediaInfo {
    // The URL's query is a signed capability: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.url.split_once('?').map_or(self.url.as_str(), |(path, _)| path);
        f.debug_struct("MediaInfo")
            .field("url", &format_args!("{url}?…"))
            .field("mime_type", &self.mime_type)
            .field("sha256", &self.sha256)
            .field("file_size", &self.file_size)
            .finish()
    }
}

/// A media download in progress: headers are in, the body streams.
pub struct MediaDownload {
    response: Response,
}

impl fmt::Debug for MediaDownload {
    // Not derived: `reqwest::Response`'s Debug prints the URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaDownload")
            .field("content_type", &self.content_type())
            .field("content_length", &self.content_length())
            .finish_non_exhaustive()
    }
}

impl MediaDownload {
    /// The `Content-Type` header, such as `image/jpeg`.
    #[must_use]
    pub fn content_type(&self) -> Option<&str> {
        self.response.headers().get(header::CONTENT_TYPE)?.to_str().ok()
    }

    /// The `Content-Length` header, when sent.
    #[must_use]
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The next chunk of the file; `None` at the end.
    ///
    /// # Errors
    /// [`GraphError::Transport`] when the body breaks off or stalls longer than the timeout.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, GraphError> {
        self.response.chunk().await.map_err(GraphError::transport)
    }

    /// The rest of the file as a stream of chunks.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, GraphError>> + Send + 'static {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut download = state?;
            match download.chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(download))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

/// The longest a media upload may take (files go up to 100 MB).
pub const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl GraphClient {
    /// Builds the client and its connection pool (rustls).
    ///
    /// # Errors
    /// [`GraphError::Config`] for a base URL that is not http(s) or has a query, an API
    /// version that is not one path segment, or a token unusable in an HTTP header.
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        let GraphConfig { base_url, api_version, access_token, connect_timeout, timeout, pool_max_idle_per_host } =
            config;
        let base = Url::parse(&base_url).map_err(|e| GraphError::Config(format!("base_url is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(GraphError::Config("base_url must be an http(s) URL with a host".into()));
        }
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(GraphError::Config("base_url must not have a query, fragment or user name".into()));
        }
        let version_ok =
            !api_version.is_empty() && api_version.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        if !version_ok {
            return Err(GraphError::Config(format!(
                "api_version must be one path segment such as v25.0, not {api_version:?}"
            )));
        }
        let token = access_token.expose_secret();
        if token.is_empty() {
            return Err(GraphError::Config("the access token is empty".into()));
        }
        if header::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(GraphError::Config("the access token has characters not allowed in an HTTP header".into()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .read_timeout(timeout)
            .pool_max_idle_per_host(pool_max_idle_per_host)
            .build()
            .map_err(|e| GraphError::Config(format!("cannot build the HTTP client: {e}")))?;
        let api_root = format!("{}/{api_version}", base_url.trim_end_matches('/'));
        Ok(Self { inner: Arc::new(Inner { http, api_root, base, token: access_token, timeout }) })
    }

    /// The same client (connection pool, base URL, API version, timeouts) with another
    /// access token: a channel's own.
    ///
    /// # Errors
    /// [`GraphError::Config`] for an empty token or one unusable in an HTTP header.
    pub fn with_token(&self, access_token: SecretString) -> Result<Self, GraphError> {
        let token = access_token.expose_secret();
        if token.is_empty() {
            return Err(GraphError::Config("the access token is empty".into()));
        }
        if header::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
            return Err(GraphError::Config("the access token has characters not allowed in an HTTP header".into()));
        }
        let i = &self.inner;
        Ok(Self {
            inner: Arc::new(Inner {
                http: i.http.clone(),
                api_root: i.api_root.clone(),
                base: i.base.clone(),
                token: access_token,
                timeout: i.timeout,
            }),
        })
    }

    /// Sends `msg` from our number `phone_number_id`. Validates it first: an invalid message
    /// never reaches Meta.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] before sending; otherwise Meta's error, a transport error, or
    /// [`GraphError::Decode`] when a success body has no message id.
    pub async fn send(
        &self,
        phone_number_id: &PhoneNumberId,
        msg: &OutboundMessage,
    ) -> Result<SendResponse, GraphError> {
        msg.validate().map_err(GraphError::Invalid)?;
        let res = self.send_json(phone_number_id, &msg.to_json()).await?;
        tracing::debug!(%phone_number_id, wamid = %res.wamid, r#type = msg.body.message_type(), "message accepted by Meta");
        Ok(res)
    }

    /// Sends a request body that was built (and validated) from an [`OutboundMessage`]
    /// earlier, e.g. one stored in the outbox.
    ///
    /// # Errors
    /// As [`GraphClient::send`], without the validation step.
    pub async fn send_json(
        &self,
        phone_number_id: &PhoneNumberId,
        request: &Value,
    ) -> Result<SendResponse, GraphError> {
        let body = self.post_messages(phone_number_id, request).await?;
        let wamid = body
            .pointer("/messages/0/id")
            .and_then(Value::as_str)
            .ok_or_else(|| GraphError::Decode("no messages[0].id in the send response".into()))?;
        let wamid = Wamid::parse(wamid).map_err(|e| GraphError::Decode(format!("messages[0].id: {e}")))?;
        let wa_id = body.pointer("/contacts/0/wa_id").and_then(Value::as_str).and_then(|w| WaId::parse(w).ok());
        Ok(SendResponse { wamid, wa_id })
    }

    /// Marks `wamid` (an inbound message) and all before it as read; with `typing`, also
    /// shows the customer a typing indicator (until we reply, at most 25 s).
    ///
    /// # Errors
    /// Meta's error, a transport error, or [`GraphError::Decode`] if Meta says
    /// `"success": false`.
    pub async fn mark_read(
        &self,
        phone_number_id: &PhoneNumberId,
        wamid: &Wamid,
        typing: bool,
    ) -> Result<(), GraphError> {
        let body = self.post_messages(phone_number_id, &mark_read_json(wamid, typing)).await?;
        if body.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(GraphError::Decode("mark-read answered success: false".into()));
        }
        Ok(())
    }

    /// Looks up a media id (from a webhook, valid 7 days) for a download URL valid 5 minutes.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for an id that is not a plain token; Meta's error (an unknown
    /// or expired id is code 100, permanent); transport and decode errors.
    pub async fn media_url(&self, media_id: &str) -> Result<MediaInfo, GraphError> {
        let id_ok =
            !media_id.is_empty() && media_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(invalid("media_id", "must be a Graph API media id (digits)"));
        }
        let url = format!("{}/{media_id}", self.inner.api_root);
        let body = json_response(self.api_request(Method::GET, &url).send().await).await?;
        let url = body
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| GraphError::Decode("no url in the media response".into()))?;
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let file_size = body.get("file_size").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        Ok(MediaInfo { url: url.to_owned(), mime_type: text("mime_type"), sha256: text("sha256"), file_size })
    }

    /// Starts downloading a [`MediaInfo::url`] with the access token. Returns once the
    /// headers are in; stream the body from the [`MediaDownload`].
    ///
    /// The token is only sent to https URLs or to the configured Graph API's origin; reqwest
    /// drops it on redirects to another host.
    ///
    /// # Errors
    /// [`GraphError::MediaUrlExpired`] on 404 (fetch a new URL and retry);
    /// [`GraphError::Invalid`] for a URL the token must not go to; Meta's (or a synthetic)
    /// [`GraphError::Api`] for other statuses; transport errors.
    pub async fn download_media(&self, url: &str) -> Result<MediaDownload, GraphError> {
        let parsed = Url::parse(url).map_err(|_| invalid("url", "is not a URL"))?;
        let same_origin = parsed.origin() == self.inner.base.origin();
        if parsed.scheme() != "https" && !same_origin {
            return Err(invalid("url", "the access token is only sent over https"));
        }
        let response = self
            .inner
            .http
            .get(parsed)
            .bearer_auth(self.inner.token.expose_secret())
            .send()
            .await
            .map_err(GraphError::transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(GraphError::MediaUrlExpired);
        }
        if !status.is_success() {
            return Err(error_response(response).await);
        }
        Ok(MediaDownload { response })
    }

    /// Uploads the file at `path` (`media_type`, shown as `filename`) for our number
    /// `phone_number_id`, to send it by the returned media id (valid 30 days; cloudapi.md
    /// §7). The file is streamed from disk; the upload may take up to [`UPLOAD_TIMEOUT`].
    ///
    /// # Errors
    /// [`GraphError::Invalid`] when the file cannot be read or the media type is not one;
    /// Meta's error (131053: Meta could not use the file), a transport error, or
    /// [`GraphError::Decode`] when the answer has no id.
    pub async fn upload_media(
        &self,
        phone_number_id: &PhoneNumberId,
        path: &std::path::Path,
        media_type: &str,
        filename: Option<&str>,
    ) -> Result<String, GraphError> {
        let part = reqwest::multipart::Part::file(path)
            .await
            .map_err(|_| invalid("file", "cannot be read"))?
            .mime_str(media_type)
            .map_err(|_| invalid("type", "is not a media type"))?
            .file_name(filename.unwrap_or("file").to_owned());
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", media_type.to_owned())
            .part("file", part);
        let url = format!("{}/{phone_number_id}/media", self.inner.api_root);
        let request = self.api_request(Method::POST, &url).timeout(UPLOAD_TIMEOUT.max(self.inner.timeout));
        let body = json_response(request.multipart(form).send().await).await?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| GraphError::Decode("no id in the media upload response".into()))?;
        tracing::debug!(%phone_number_id, media_id = id, "media uploaded to Meta");
        Ok(id.to_owned())
    }

    /// One page of the message templates of WhatsApp Business Account `waba_id`
    /// (`GET /{waba-id}/message_templates`), after the cursor `after` of the previous
    /// page: the templates (Meta's objects) and the next page's cursor, `None` on the
    /// last page.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] for an id that is not digits; Meta's error, transport and
    /// decode errors.
    pub async fn message_templates(
        &self,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), GraphError> {
        if waba_id.is_empty() || !waba_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("waba_id", "must be digits"));
        }
        let mut url = Url::parse(&format!("{}/{waba_id}/message_templates", self.inner.api_root))
            .map_err(|e| GraphError::Config(format!("template URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("fields", "id,name,language,status,category,quality_score,components")
            .append_pair("limit", "100");
        if let Some(after) = after {
            url.query_pairs_mut().append_pair("after", after);
        }
        let body = json_response(self.api_request(Method::GET, url.as_str()).send().await).await?;
        let data = match body.get("data") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(GraphError::Decode("no data array in the templates response".into())),
        };
        // Meta gives `paging.next` only when there is a next page.
        let next = body
            .pointer("/paging/next")
            .and_then(Value::as_str)
            .and_then(|_| body.pointer("/paging/cursors/after"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok((data, next))
    }

    async fn post_messages(&self, phone_number_id: &PhoneNumberId, body: &Value) -> Result<Value, GraphError> {
        let url = format!("{}/{phone_number_id}/messages", self.inner.api_root);
        json_response(self.api_request(Method::POST, &url).json(body).send().await).await
    }

    /// An authenticated request with the per-call timeout.
    fn api_request(&self, method: Method, url: &str) -> RequestBuilder {
        self.inner.http.request(method, url).bearer_auth(self.inner.token.expose_secret()).timeout(self.inner.timeout)
    }
}

fn invalid(field: &str, message: &str) -> GraphError {
    GraphError::Invalid(vec![SendValidationError { field: field.into(), message: message.into() }])
}

/// A JSON API response: the 2xx body as JSON, or the error the response stands for.
async fn json_response(response: Result<Response, reqwest::Error>) -> Result<Value, GraphError> {
    let response = response.map_err(GraphError::transport)?;
    let status = response.status();
    if !status.is_success() {
        return Err(error_response(response).await);
    }
    let (body, complete) = read_capped(response).await?;
    if !complete {
        return Err(GraphError::Decode(format!("response larger than {MAX_JSON_BODY} bytes")));
    }
    serde_json::from_slice(&body).map_err(|e| GraphError::Decode(format!("response is not JSON: {e}")))
}

/// The error a non-2xx response stands for, from (the start of) its body.
async fn error_response(response: Response) -> GraphError {
    let http_status = response.status().as_u16();
    let error = match read_capped(response).await {
        Ok((body, _)) => GraphError::from_response(http_status, &body),
        Err(_) => GraphError::from_response(http_status, b""),
    };
    if let GraphError::Api { code, fbtrace_id, .. } = &error {
        tracing::debug!(http_status, ?code, ?fbtrace_id, "Graph API error");
    }
    error
}

/// Reads at most [`MAX_JSON_BODY`] bytes of a body; `false` when there was more.
async fn read_capped(mut response: Response) -> Result<(Bytes, bool), GraphError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(GraphError::transport)? {
        if body.len() + chunk.len() > MAX_JSON_BODY {
            return Ok((body.freeze(), false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;
    use serde_json::json;
    use wiremock::matchers::{bearer_token, body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::errors::{ErrorClass, TransportKind};
    use crate::send::{
        InteractiveHeader, ListRow, ListSection, MediaKind, MediaSource, OutboundBody, ReplyButton, TemplateComponent,
        TemplateParameter,
    };

    const TOKEN: &str = "EAAtest-secret-token";
    const PHONE: &str = "106540352242922";
    const WAMID: &str = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
    const MESSAGES: &str = "/v25.0/106540352242922/messages";

    fn client(server: &MockServer) -> GraphClient {
        client_with_timeout(server, Duration::from_secs(5))
    }

    fn client_with_timeout(server: &MockServer, timeout: Duration) -> GraphClient {
        let mut config = GraphConfig::new(server.uri(), "v25.0", SecretString::from(TOKEN));
        config.timeout = timeout;
        GraphClient::new(config).unwrap()
    }

    fn phone() -> PhoneNumberId {
        PhoneNumberId::parse(PHONE).unwrap()
    }

    fn wamid() -> Wamid {
        Wamid::parse(WAMID).unwrap()
    }

    fn to(body: OutboundBody) -> OutboundMessage {
        OutboundMessage::new(WaId::parse("+16505551234").unwrap(), body)
    }

    fn accepted() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": WAMID}],
        }))
    }

    /// The envelope every send shares, with `type` and its object.
    fn envelope(kind: &str, content: Value) -> Value {
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "16505551234",
            "type": kind,
            kind: content,
        })
    }

    /// Sends `msg` to a fresh mock that only accepts exactly `expected`, with the bearer
    /// token, on the messages path.
    async fn assert_sends(msg: OutboundMessage, expected: Value) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("content-type", "application/json"))
            .and(body_json(&expected))
            .respond_with(accepted())
            .expect(1)
            .mount(&server)
            .await;
        let sent = client(&server).send(&phone(), &msg).await;
        let sent = sent.unwrap_or_else(|e| panic!("{e}: expected body {expected}, sent {}", msg.to_json()));
        assert_eq!(sent.wamid, wamid());
        assert_eq!(sent.wa_id.map(|w| w.to_string()).as_deref(), Some("16505551234"));
    }

    async fn error_from(response: ResponseTemplate) -> GraphError {
        let server = MockServer::start().await;
        Mock::given(method("POST")).and(path(MESSAGES)).respond_with(response).expect(1).mount(&server).await;
        let msg = to(OutboundBody::Text { body: "hi".into(), preview_url: false });
        client(&server).send(&phone(), &msg).await.unwrap_err()
    }

    fn assert_no_secrets(text: &str) {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains("/v25.0/"), "URL leaked: {text}");
        assert!(!text.contains("mid="), "media URL query leaked: {text}");
    }

    #[tokio::test]
    async fn text_is_sent_with_bearer_token_and_parsed() {
        assert_sends(
            to(OutboundBody::Text { body: "Hello ünïcode".into(), preview_url: true }),
            envelope("text", json!({"preview_url": true, "body": "Hello ünïcode"})),
        )
        .await;
    }

    #[tokio::test]
    async fn reply_carries_context_and_callback_data() {
        let mut msg = to(OutboundBody::Text { body: "Yes".into(), preview_url: false });
        msg.reply_to = Some(wamid());
        msg.biz_opaque_callback_data = Some("ticket-42".into());
        let mut expected = envelope("text", json!({"preview_url": false, "body": "Yes"}));
        expected["context"] = json!({"message_id": WAMID});
        expected["biz_opaque_callback_data"] = json!("ticket-42");
        assert_sends(msg, expected).await;
    }

    #[tokio::test]
    async fn image_by_link_with_caption() {
        assert_sends(
            to(OutboundBody::Media {
                kind: MediaKind::Image,
                source: MediaSource::Link("https://example.com/a.jpg".into()),
                caption: Some("Your receipt".into()),
                filename: None,
            }),
            envelope("image", json!({"link": "https://example.com/a.jpg", "caption": "Your receipt"})),
        )
        .await;
    }

    #[tokio::test]
    async fn document_by_id_with_filename() {
        assert_sends(
            to(OutboundBody::Media {
                kind: MediaKind::Document,
                source: MediaSource::Id("1037543291543636".into()),
                caption: Some("Invoice".into()),
                filename: Some("invoice.pdf".into()),
            }),
            envelope("document", json!({"id": "1037543291543636", "caption": "Invoice", "filename": "invoice.pdf"})),
        )
        .await;
    }

    #[tokio::test]
    async fn audio_video_and_sticker() {
        for (kind, name) in [(MediaKind::Audio, "audio"), (MediaKind::Video, "video"), (MediaKind::Sticker, "sticker")]
        {
            assert_sends(
                to(OutboundBody::Media { kind, source: MediaSource::Id("77".into()), caption: None, filename: None }),
                envelope(name, json!({"id": "77"})),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn location() {
        assert_sends(
            to(OutboundBody::Location {
                latitude: 37.483_07,
                longitude: -122.148_98,
                name: Some("Head office".into()),
                address: Some("1 Hacker Way".into()),
            }),
            envelope(
                "location",
                json!({
                    "latitude": 37.483_07,
                    "longitude": -122.148_98,
                    "name": "Head office",
                    "address": "1 Hacker Way",
                }),
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn contacts_pass_through() {
        let card = json!({"name": {"formatted_name": "Ana Silva", "first_name": "Ana"},
                          "phones": [{"phone": "+351912345678", "type": "CELL"}]});
        assert_sends(to(OutboundBody::Contacts(vec![card.clone()])), envelope("contacts", json!([card]))).await;
    }

    #[tokio::test]
    async fn template_with_every_component() {
        assert_sends(
            to(OutboundBody::Template {
                name: "order_update".into(),
                language: "en_US".into(),
                components: vec![
                    TemplateComponent::Header(vec![TemplateParameter::Document {
                        source: MediaSource::Link("https://example.com/o.pdf".into()),
                        filename: Some("order.pdf".into()),
                    }]),
                    TemplateComponent::Body(vec![
                        TemplateParameter::text("Ana"),
                        TemplateParameter::Text { text: "42".into(), parameter_name: Some("order_id".into()) },
                        TemplateParameter::Currency {
                            fallback_value: "$100.99".into(),
                            code: "USD".into(),
                            amount_1000: 100_990,
                        },
                        TemplateParameter::DateTime { fallback_value: "February 25, 1977".into() },
                    ]),
                    TemplateComponent::QuickReplyButton { index: 0, payload: "STOP".into() },
                    TemplateComponent::UrlButton { index: 1, url_suffix: "orders/42".into() },
                ],
            }),
            envelope(
                "template",
                json!({
                    "name": "order_update",
                    "language": {"code": "en_US"},
                    "components": [
                        {"type": "header", "parameters": [
                            {"type": "document", "document": {"link": "https://example.com/o.pdf", "filename": "order.pdf"}},
                        ]},
                        {"type": "body", "parameters": [
                            {"type": "text", "text": "Ana"},
                            {"type": "text", "parameter_name": "order_id", "text": "42"},
                            {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100_990}},
                            {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                        ]},
                        {"type": "button", "sub_type": "quick_reply", "index": "0",
                         "parameters": [{"type": "payload", "payload": "STOP"}]},
                        {"type": "button", "sub_type": "url", "index": "1",
                         "parameters": [{"type": "text", "text": "orders/42"}]},
                    ],
                }),
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn template_without_components_omits_them() {
        assert_sends(
            to(OutboundBody::Template { name: "hello_world".into(), language: "en_US".into(), components: vec![] }),
            envelope("template", json!({"name": "hello_world", "language": {"code": "en_US"}})),
        )
        .await;
    }

    #[tokio::test]
    async fn reply_buttons_with_image_header_and_footer() {
        assert_sends(
            to(OutboundBody::Buttons {
                header: Some(InteractiveHeader::Image(MediaSource::Id("55".into()))),
                body: "Did that help?".into(),
                footer: Some("Support".into()),
                buttons: vec![
                    ReplyButton { id: "yes".into(), title: "Yes".into() },
                    ReplyButton { id: "no".into(), title: "No".into() },
                ],
            }),
            envelope(
                "interactive",
                json!({
                    "type": "button",
                    "header": {"type": "image", "image": {"id": "55"}},
                    "body": {"text": "Did that help?"},
                    "footer": {"text": "Support"},
                    "action": {"buttons": [
                        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "no", "title": "No"}},
                    ]},
                }),
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn reply_buttons_with_text_header_only_body() {
        assert_sends(
            to(OutboundBody::Buttons {
                header: Some(InteractiveHeader::Text("Survey".into())),
                body: "OK?".into(),
                footer: None,
                buttons: vec![ReplyButton { id: "ok".into(), title: "OK".into() }],
            }),
            envelope(
                "interactive",
                json!({
                    "type": "button",
                    "header": {"type": "text", "text": "Survey"},
                    "body": {"text": "OK?"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "ok", "title": "OK"}}]},
                }),
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn list() {
        assert_sends(
            to(OutboundBody::List {
                header: Some("Menu".into()),
                body: "What do you need?".into(),
                footer: Some("Reply anytime".into()),
                button: "Options".into(),
                sections: vec![
                    ListSection {
                        title: Some("Orders".into()),
                        rows: vec![ListRow {
                            id: "track".into(),
                            title: "Track an order".into(),
                            description: Some("Where is my parcel?".into()),
                        }],
                    },
                    ListSection {
                        title: Some("Other".into()),
                        rows: vec![ListRow { id: "agent".into(), title: "Talk to us".into(), description: None }],
                    },
                ],
            }),
            envelope(
                "interactive",
                json!({
                    "type": "list",
                    "header": {"type": "text", "text": "Menu"},
                    "body": {"text": "What do you need?"},
                    "footer": {"text": "Reply anytime"},
                    "action": {
                        "button": "Options",
                        "sections": [
                            {"title": "Orders", "rows": [
                                {"id": "track", "title": "Track an order", "description": "Where is my parcel?"},
                            ]},
                            {"title": "Other", "rows": [{"id": "agent", "title": "Talk to us"}]},
                        ],
                    },
                }),
            ),
        )
        .await;
    }

    #[tokio::test]
    async fn reaction_and_its_removal() {
        for emoji in ["👍", ""] {
            assert_sends(
                to(OutboundBody::Reaction { message_id: wamid(), emoji: emoji.into() }),
                envelope("reaction", json!({"message_id": WAMID, "emoji": emoji})),
            )
            .await;
        }
    }

    #[tokio::test]
    async fn mark_read_with_typing_indicator() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES))
            .and(bearer_token(TOKEN))
            .and(body_json(json!({
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": WAMID,
                "typing_indicator": {"type": "text"},
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
            .expect(1)
            .mount(&server)
            .await;
        client(&server).mark_read(&phone(), &wamid(), true).await.unwrap();
    }

    #[tokio::test]
    async fn mark_read_without_typing_and_refused() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES))
            .and(body_json(json!({"messaging_product": "whatsapp", "status": "read", "message_id": WAMID})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": false})))
            .expect(1)
            .mount(&server)
            .await;
        let e = client(&server).mark_read(&phone(), &wamid(), false).await.unwrap_err();
        assert!(matches!(e, GraphError::Decode(_)), "{e:?}");
    }

    #[tokio::test]
    async fn throughput_limit_is_parsed_and_retried_soon() {
        let e = error_from(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
                "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
                "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
            "application/json",
        ))
        .await;
        let GraphError::Api { http_status, code, subcode, title, details, fbtrace_id } = &e else {
            panic!("{e:?}");
        };
        assert_eq!((*http_status, *code, *subcode), (400, Some(130_429), Some(2_494_055)));
        assert_eq!(title, "Rate limit hit");
        assert_eq!(details.as_deref(), Some("Cloud API message throughput has been reached."));
        assert_eq!(fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert!(matches!(e.class(), ErrorClass::RetryLater { after: Some(d) } if d >= Duration::from_secs(1)));
        assert_eq!(e.to_string(), "Graph API error 130429 (HTTP 400): Rate limit hit");
    }

    #[tokio::test]
    async fn closed_window_is_permanent_and_explained() {
        let e = error_from(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131_047,
            "error_data": {"messaging_product": "whatsapp",
                           "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
            "fbtrace_id": "A1b2",
        }})))
        .await;
        assert!(matches!(e, GraphError::Api { code: Some(131_047), .. }), "{e:?}");
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.explanation().contains("only a template can be sent"), "{}", e.explanation());
    }

    #[tokio::test]
    async fn expired_token_needs_an_admin() {
        let e = error_from(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Error validating access token: Session has expired on Friday, 11-Sep-26.",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
            "fbtrace_id": "Bx",
        }})))
        .await;
        assert!(
            matches!(&e, GraphError::Api { http_status: 401, code: Some(190), subcode: Some(463), title, .. }
                if title.starts_with("Error validating access token")),
            "{e:?}"
        );
        assert_eq!(e.class(), ErrorClass::FixConfiguration);
    }

    #[tokio::test]
    async fn non_meta_502_is_retried() {
        let e = error_from(
            ResponseTemplate::new(502).set_body_raw("<html><body>502 Bad Gateway</body></html>", "text/html"),
        )
        .await;
        assert!(
            matches!(&e, GraphError::Api { http_status: 502, code: None, details: Some(d), .. } if d.contains("502 Bad Gateway")),
            "{e:?}"
        );
        assert_eq!(e.class(), ErrorClass::RetryLater { after: None });
    }

    #[tokio::test]
    async fn timeout_is_a_transport_error_to_retry() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(accepted().set_delay(Duration::from_millis(1500)))
            .expect(1)
            .mount(&server)
            .await;
        let graph = client_with_timeout(&server, Duration::from_millis(100));
        let msg = to(OutboundBody::Text { body: "hi".into(), preview_url: false });
        let e = graph.send(&phone(), &msg).await.unwrap_err();
        assert!(matches!(e, GraphError::Transport { kind: TransportKind::Timeout, .. }), "{e:?}");
        assert_eq!(e.class(), ErrorClass::RetryLater { after: None });
        assert_no_secrets(&format!("{e} {e:?} {:?}", std::error::Error::source(&e)));
    }

    #[tokio::test]
    async fn unreachable_server_is_a_transport_error() {
        // A port nobody listens on (wiremock pools its servers, so dropping one is no good).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let graph =
            GraphClient::new(GraphConfig::new(format!("http://127.0.0.1:{port}"), "v25.0", SecretString::from(TOKEN)))
                .unwrap();
        let msg = to(OutboundBody::Text { body: "hi".into(), preview_url: false });
        let e = graph.send(&phone(), &msg).await.unwrap_err();
        assert!(matches!(e, GraphError::Transport { kind: TransportKind::Connect, .. }), "{e:?}");
        assert_eq!(e.class(), ErrorClass::RetryLater { after: None });
        assert_no_secrets(&format!("{e} {e:?}"));
    }

    #[tokio::test]
    async fn a_file_is_uploaded_as_multipart_and_sent_by_the_id_meta_gives() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v25.0/106540352242922/media"))
            .and(bearer_token(TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "1037543291543636"})))
            .expect(1)
            .mount(&server)
            .await;
        let file = std::env::temp_dir().join(format!("upload-{}.pdf", std::process::id()));
        std::fs::write(&file, b"%PDF-1.4 invoice").unwrap();
        let id = client(&server).upload_media(&phone(), &file, "application/pdf", Some("invoice.pdf")).await.unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(id, "1037543291543636");
        let request = &server.received_requests().await.unwrap()[0];
        let content_type = request.headers.get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(content_type.starts_with("multipart/form-data; boundary="), "{content_type}");
        let body = String::from_utf8_lossy(&request.body);
        for needle in [
            "name=\"messaging_product\"\r\n\r\nwhatsapp",
            "name=\"type\"\r\n\r\napplication/pdf",
            "name=\"file\"; filename=\"invoice.pdf\"",
            "Content-Type: application/pdf",
            "%PDF-1.4 invoice",
        ] {
            assert!(body.contains(needle), "{needle:?} missing from {body}");
        }
    }

    #[tokio::test]
    async fn invalid_message_is_never_sent() {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(accepted()).expect(0).mount(&server).await;
        let msg = to(OutboundBody::Buttons {
            header: None,
            body: "Pick".into(),
            footer: None,
            buttons: (0..4).map(|i| ReplyButton { id: i.to_string(), title: i.to_string() }).collect(),
        });
        let e = client(&server).send(&phone(), &msg).await.unwrap_err();
        let GraphError::Invalid(errors) = &e else { panic!("{e:?}") };
        assert_eq!(errors[0].field, "buttons[3]");
        assert_eq!(e.class(), ErrorClass::Permanent);
    }

    #[tokio::test]
    async fn success_without_a_message_id_is_a_decode_error() {
        let e = error_from(ResponseTemplate::new(200).set_body_json(json!({"messaging_product": "whatsapp"}))).await;
        assert!(matches!(e, GraphError::Decode(_)), "{e:?}");
        let e = error_from(ResponseTemplate::new(200).set_body_raw("not json", "text/plain")).await;
        assert!(matches!(e, GraphError::Decode(_)), "{e:?}");
    }

    #[tokio::test]
    async fn media_url_is_looked_up() {
        let server = MockServer::start().await;
        let url = format!("{}/whatsapp_business/attachments/?mid=1037&ext=1&hash=ATs", server.uri());
        Mock::given(method("GET"))
            .and(path("/v25.0/1037543291543636"))
            .and(bearer_token(TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": "image/jpeg",
                "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "file_size": "303833",
                "id": "1037543291543636",
            })))
            .expect(1)
            .mount(&server)
            .await;
        let info = client(&server).media_url("1037543291543636").await.unwrap();
        assert_eq!(info.url, url);
        assert_eq!(info.mime_type.as_deref(), Some("image/jpeg"));
        assert_eq!(info.file_size, Some(303_833));
        assert_eq!(info.sha256.as_deref().map(str::len), Some(64));
        assert_no_secrets(&format!("{info:?}"));
    }

    #[tokio::test]
    async fn media_ids_are_not_paths() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(accepted()).expect(0).mount(&server).await;
        for id in ["", "../1/messages", "1?x=y", "1 2"] {
            let e = client(&server).media_url(id).await.unwrap_err();
            assert!(matches!(e, GraphError::Invalid(_)), "{id:?}: {e:?}");
        }
    }

    #[tokio::test]
    async fn unknown_media_id_is_permanent() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
                "message": "Unsupported get request. Object with ID '1' does not exist",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "C"}})))
            .expect(1)
            .mount(&server)
            .await;
        let e = client(&server).media_url("1").await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Permanent);
    }

    #[tokio::test]
    async fn media_is_downloaded_with_the_token() {
        let server = MockServer::start().await;
        let file = vec![7u8; 300_000];
        Mock::given(method("GET"))
            .and(path("/whatsapp_business/attachments/"))
            .and(query_param("mid", "1037"))
            .and(bearer_token(TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_raw(file.clone(), "image/jpeg"))
            .expect(2)
            .mount(&server)
            .await;
        let url = format!("{}/whatsapp_business/attachments/?mid=1037&ext=1", server.uri());
        let graph = client(&server);

        let mut download = graph.download_media(&url).await.unwrap();
        assert_eq!(download.content_type(), Some("image/jpeg"));
        assert_eq!(download.content_length(), Some(300_000));
        assert_no_secrets(&format!("{download:?}"));
        let mut got = Vec::new();
        while let Some(chunk) = download.chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, file);

        let chunks: Vec<_> = graph.download_media(&url).await.unwrap().into_stream().collect().await;
        let got: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
        assert_eq!(got, file);
    }

    #[tokio::test]
    async fn expired_media_url_is_reported_as_such() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(404)).expect(1).mount(&server).await;
        let url = format!("{}/whatsapp_business/attachments/?mid=1", server.uri());
        let e = client(&server).download_media(&url).await.unwrap_err();
        assert!(matches!(e, GraphError::MediaUrlExpired), "{e:?}");
        assert_eq!(e.class(), ErrorClass::RetryLater { after: None });
    }

    #[tokio::test]
    async fn download_refused_with_401_needs_an_admin() {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).expect(1).mount(&server).await;
        let url = format!("{}/media?mid=1", server.uri());
        let e = client(&server).download_media(&url).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::FixConfiguration);
    }

    #[tokio::test]
    async fn token_is_not_sent_to_other_plain_http_hosts() {
        let server = MockServer::start().await;
        let other = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&other).await;
        let graph = client(&server);
        for url in [format!("{}/media?mid=1", other.uri()), "not a url".into(), "ftp://x/y".into()] {
            let e = graph.download_media(&url).await.unwrap_err();
            assert!(matches!(e, GraphError::Invalid(_)), "{url}: {e:?}");
        }
    }

    #[tokio::test]
    async fn base_url_may_have_a_path_and_trailing_slash() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/graph/v25.0/106540352242922/messages"))
            .respond_with(accepted())
            .expect(1)
            .mount(&server)
            .await;
        let graph =
            GraphClient::new(GraphConfig::new(format!("{}/graph/", server.uri()), "v25.0", SecretString::from(TOKEN)))
                .unwrap();
        let msg = to(OutboundBody::Text { body: "hi".into(), preview_url: false });
        graph.send(&phone(), &msg).await.unwrap();
    }

    #[test]
    fn bad_configuration_is_refused() {
        let config = |base: &str, version: &str, token: &str| {
            GraphClient::new(GraphConfig::new(base, version, SecretString::from(token)))
        };
        assert!(config("https://graph.facebook.com", "v25.0", TOKEN).is_ok());
        for (base, version, token) in [
            ("graph.facebook.com", "v25.0", TOKEN),
            ("ftp://graph.facebook.com", "v25.0", TOKEN),
            ("https://graph.facebook.com?x=1", "v25.0", TOKEN),
            ("https://graph.facebook.com", "", TOKEN),
            ("https://graph.facebook.com", "v25.0/x", TOKEN),
            ("https://graph.facebook.com", "v25.0", ""),
            ("https://graph.facebook.com", "v25.0", "bad\ntoken"),
        ] {
            let e = config(base, version, token).unwrap_err();
            assert_eq!(e.class(), ErrorClass::FixConfiguration, "{base} {version}");
            assert!(!format!("{e} {e:?}").contains("bad\ntoken"));
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = GraphConfig::new("https://graph.facebook.com", "v25.0", SecretString::from(TOKEN));
        assert_no_secrets(&format!("{config:?}"));
        let graph = GraphClient::new(config).unwrap();
        assert!(!format!("{graph:?}").contains(TOKEN));
        let info = MediaInfo {
            url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&hash=x".into(),
            mime_type: None,
            sha256: None,
            file_size: None,
        };
        assert_no_secrets(&format!("{info:?}"));
    }
}
