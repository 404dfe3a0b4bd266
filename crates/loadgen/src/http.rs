//! The HTTP side of sending one webhook: one shared keep-alive client.

use std::time::Duration;

use anyhow::{Context as _, Result};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

use crate::payload::SignedWebhook;
use crate::stats::{ErrorKind, Outcome};

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Posts signed webhooks to one URL over HTTP/1.1 keep-alive connections.
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl WebhookSender {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        let url = reqwest::Url::parse(base_url)
            .with_context(|| format!("invalid --url {base_url:?}"))?
            .join("/webhooks/whatsapp")?;
        let client = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(Self { client, url })
    }

    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    pub async fn send(&self, webhook: SignedWebhook) -> Outcome {
        let signature = match HeaderValue::try_from(webhook.signature) {
            Ok(v) => v,
            Err(_) => return Outcome::Error(ErrorKind::Other),
        };
        let result = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(SIGNATURE_HEADER, signature)
            .body(webhook.body)
            .send()
            .await;
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the (small) body to the end so the connection goes back to the pool.
                match response.bytes().await {
                    Ok(_) => Outcome::Status(status),
                    Err(e) => Outcome::Error(classify(&e)),
                }
            }
            Err(e) => Outcome::Error(classify(&e)),
        }
    }
}

fn classify(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Other
    }
}
