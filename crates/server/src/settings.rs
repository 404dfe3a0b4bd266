//! Layered settings: the embedded `config/default.toml`, then an optional `--config`
//! file, then environment variables (`SWITCHBOARD__SECTION__KEY`, and the short names of
//! DESIGN.md §3). Secrets are `SecretString`s: their `Debug` is redacted and
//! `check-config` masks them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use switchboard_domain::PhoneNumberId;

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Short environment names for the keys set most often (DESIGN.md §3).
const ALIASES: &[(&str, &str)] = &[
    ("SWITCHBOARD_LISTEN", "http.listen"),
    ("SWITCHBOARD_DATABASE_URL", "database.url"),
    ("SWITCHBOARD_APP_SECRET", "whatsapp.app_secret"),
    ("SWITCHBOARD_VERIFY_TOKEN", "whatsapp.verify_token"),
    ("SWITCHBOARD_ACCESS_TOKEN", "whatsapp.access_token"),
    ("SWITCHBOARD_PHONE_NUMBER_ID", "whatsapp.phone_number_id"),
    ("SWITCHBOARD_GRAPH_BASE_URL", "graph.base_url"),
];

/// Secrets that may also come from a file named by `<NAME>_FILE`.
const SECRET_FILES: &[(&str, &str)] = &[
    ("SWITCHBOARD_APP_SECRET_FILE", "whatsapp.app_secret"),
    ("SWITCHBOARD_VERIFY_TOKEN_FILE", "whatsapp.verify_token"),
    ("SWITCHBOARD_ACCESS_TOKEN_FILE", "whatsapp.access_token"),
    ("SWITCHBOARD_DATABASE_URL_FILE", "database.url"),
    ("SWITCHBOARD_SECRETS__KEY_FILE", "secrets.key"),
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: cannot read {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("configuration: {key}: {problem}. {fix}")]
    Invalid { key: &'static str, problem: String, fix: &'static str },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub whatsapp: WhatsAppSettings,
    pub graph: GraphSettings,
    pub media: MediaSettings,
    pub webhooks: WebhookSettings,
    pub ingest: IngestSettings,
    pub sender: SenderSettings,
    pub log: LogSettings,
    pub links: LinkSettings,
    pub events: EventsSettings,
    pub assignment: AssignmentSettings,
    pub console: ConsoleSettings,
    pub secrets: SecretsSettings,
    pub outgoing_webhooks: OutgoingWebhookSettings,
    pub audit: AuditSettings,
    pub retention: RetentionSettings,
}

/// Retention policies' purge (`[retention]`; the policies are per channel, in the
/// database).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// The most messages a purge removes per second, on average; 0: as fast as the
    /// pause between batches allows.
    pub messages_per_second: u32,
}

/// The audit log (`[audit]`, `GET /api/v1/audit`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Entries older than this many days are deleted by housekeeping; 0: kept forever.
    pub retention_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: String,
    pub workers: usize,
    pub webhook_body_limit: usize,
    pub webhook_body_timeout_secs: u64,
    pub webhook_buffer_limit: usize,
    pub max_connections: usize,
    /// Serve `/metrics` on this address instead; empty: on `listen`.
    pub metrics_listen: String,
    pub api_body_limit: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password: a secret.
    pub url: SecretString,
    pub max_connections: u32,
    pub migrate_on_start: bool,
    pub acquire_timeout_secs: u64,
    pub sqlite_synchronous: SqliteSynchronous,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Normal,
    Full,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSettings {
    pub phone_number_id: String,
    pub channel_name: String,
    /// The default channel's number as customers dial it (wa.me links need it).
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub app_secret: Option<SecretString>,
    #[serde(default)]
    pub verify_token: Option<SecretString>,
    #[serde(default)]
    pub access_token: Option<SecretString>,
    pub sandbox: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    pub base_url: String,
    pub api_version: String,
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    /// Where fetched media files are cached.
    pub dir: PathBuf,
    /// Cached files not used for this many days are removed; 0: no age limit.
    pub cache_max_age_days: u32,
    /// Past this size (MiB), the least recently used cached files are removed; 0: no cap.
    pub cache_max_mb: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub max_batch: usize,
    pub queue_capacity: usize,
    pub body_retention_days: u32,
    /// Days an applied delivery's row (its deduplication key) is kept: longer than Meta
    /// retries (7 days).
    pub event_retention_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    pub enabled: bool,
    pub batch_size: u32,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderSettings {
    pub enabled: bool,
    pub batch_size: u32,
    pub concurrency: usize,
    pub lease_secs: u64,
    /// How much longer a job whose lease ran out waits for its status webhook before
    /// another sender sends it again.
    pub reconcile_grace_secs: u64,
    pub max_attempts: u32,
    pub max_age_hours: u64,
    pub backoff_base_secs: u64,
    pub backoff_cap_secs: u64,
    pub throughput_per_second: u32,
    pub pair_per_minute: u32,
    pub pause_on_config_error_secs: u64,
    pub poll_interval_ms: u64,
}

/// Outgoing webhooks (`[outgoing_webhooks]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutgoingWebhookSettings {
    /// Run the delivery worker in this process.
    pub enabled: bool,
    /// Comma-separated IP addresses deliveries may go to although they are loopback,
    /// private or link-local (empty: none).
    pub allowed_private_addresses: String,
    pub timeout_secs: u64,
    pub disable_after_days: u64,
    pub rotation_overlap_hours: u64,
    pub batch_size: u32,
    pub concurrency: usize,
    /// Requests in flight to one endpoint at once.
    pub requests_per_endpoint: usize,
    pub poll_interval_ms: u64,
    /// After a round that was not a full batch, wait this long (milliseconds) before the
    /// next, so rounds carry batches (0: go again at once).
    pub linger_ms: u64,
    /// Messages every endpoint has received (or given up on) are deleted, with their
    /// delivery log, after this many days.
    pub retention_days: u32,
}

/// Click-to-chat links (`[links]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// Where this server is reachable from the internet (`https://support.example.com`);
    /// empty: the API answers with relative short-link paths.
    pub public_url: String,
    /// How a link's reference code is written into its prefilled text: `{code}` once.
    pub ref_format: String,
    /// Clicks are counted in memory and written this often (seconds).
    pub click_flush_secs: u64,
}

/// Live updates (`[events]`, `GET /api/v1/events`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// A quiet stream gets a comment line this often (milliseconds).
    pub keep_alive_ms: u64,
    /// Events older than this are purged (days); a client that reconnects later misses
    /// them.
    pub retention_days: u32,
    /// The hub looks for new events at least this often even when not woken
    /// (milliseconds; a safety net).
    pub poll_interval_ms: u64,
}

/// Auto-assignment (`[assignment]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentSettings {
    /// Run the assigner in this process.
    pub enabled: bool,
    /// Seconds between looks when not woken.
    pub interval_secs: u64,
    /// Most assignments per transaction.
    pub batch_size: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

/// Sign-in to the console: sessions, invitations, the rate limit, cookies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    pub session_idle_minutes: u64,
    pub session_max_days: u64,
    pub invitation_hours: u64,
    pub sign_in_failures_per_account: u32,
    pub sign_in_failures_per_client: u32,
    pub sign_in_failure_window_secs: u64,
    /// Always mark the session cookie `Secure`.
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-Proto` and `X-Forwarded-For` from a reverse proxy.
    pub trust_proxy: bool,
}

/// The key secrets at rest (TOTP secrets) are sealed with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// 64 hexadecimal digits; empty: read or create `key_file`.
    pub key: Option<SecretString>,
    /// Where a generated key is kept; empty: `secrets.key` beside the SQLite database
    /// (or under `./data/` with PostgreSQL).
    pub key_file: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Settings {
    /// Loads from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(file, std::env::vars().collect())
    }

    /// Loads with an explicit environment (tests).
    pub fn load_from(file: Option<&Path>, env: HashMap<String, String>) -> Result<Self, SettingsError> {
        let mut b = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| SettingsError::File { path: path.to_owned(), source })?;
            b = b.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let nested: HashMap<String, String> =
            env.iter().filter(|(k, _)| k.starts_with("SWITCHBOARD__")).map(|(k, v)| (k.clone(), v.clone())).collect();
        b = b.add_source(
            Environment::with_prefix("SWITCHBOARD").prefix_separator("__").separator("__").source(Some(nested)),
        );
        for (var, key) in SECRET_FILES {
            if let Some(path) = env.get(*var).filter(|p| !p.is_empty()) {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| SettingsError::File { path: path.into(), source })?;
                b = b.set_override(*key, text.trim_end_matches(['\n', '\r']).to_owned())?;
            }
        }
        for (var, key) in ALIASES {
            if let Some(v) = env.get(*var) {
                b = b.set_override(*key, v.clone())?;
            }
        }
        let mut s: Self = b.build()?.try_deserialize()?;
        // An empty secret is no secret.
        for secret in
            [&mut s.whatsapp.app_secret, &mut s.whatsapp.verify_token, &mut s.whatsapp.access_token, &mut s.secrets.key]
        {
            if secret.as_ref().is_some_and(|v| v.expose_secret().is_empty()) {
                *secret = None;
            }
        }
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.listen()?;
        self.metrics_listen()?;
        self.backend()?;
        self.phone_number_id()?;
        let positive = |key: &'static str, v: u64, fix: &'static str| {
            if v == 0 {
                Err(SettingsError::Invalid { key, problem: "must be greater than 0".into(), fix })
            } else {
                Ok(())
            }
        };
        positive("http.max_connections", self.http.max_connections as u64, "Set it to e.g. 1024.")?;
        positive("http.webhook_body_timeout_secs", self.http.webhook_body_timeout_secs, "Set it to e.g. 10.")?;
        positive("database.max_connections", self.database.max_connections.into(), "Set it to the pool size, e.g. 8.")?;
        positive("webhooks.max_batch", self.webhooks.max_batch as u64, "Set it to e.g. 512.")?;
        positive("webhooks.queue_capacity", self.webhooks.queue_capacity as u64, "Set it to e.g. 16384.")?;
        positive("ingest.batch_size", self.ingest.batch_size.into(), "Set it to e.g. 256.")?;
        positive("ingest.poll_interval_ms", self.ingest.poll_interval_ms, "Set it to e.g. 1000.")?;
        positive("sender.batch_size", self.sender.batch_size.into(), "Set it to e.g. 128.")?;
        positive("sender.concurrency", self.sender.concurrency as u64, "Set it to e.g. 64.")?;
        positive("sender.lease_secs", self.sender.lease_secs, "Set it to e.g. 60.")?;
        positive("sender.max_attempts", self.sender.max_attempts.into(), "Set it to e.g. 10.")?;
        positive("sender.poll_interval_ms", self.sender.poll_interval_ms, "Set it to e.g. 500.")?;
        positive("graph.timeout_secs", self.graph.timeout_secs, "Set it to e.g. 30.")?;
        positive("events.keep_alive_ms", self.events.keep_alive_ms, "Set it to e.g. 15000.")?;
        positive("events.retention_days", self.events.retention_days.into(), "Set it to e.g. 7.")?;
        positive("events.poll_interval_ms", self.events.poll_interval_ms, "Set it to e.g. 1000.")?;
        positive("assignment.interval_secs", self.assignment.interval_secs, "Set it to e.g. 5.")?;
        positive("assignment.batch_size", self.assignment.batch_size.into(), "Set it to e.g. 100.")?;
        positive("links.click_flush_secs", self.links.click_flush_secs, "Set it to e.g. 10.")?;
        positive("outgoing_webhooks.timeout_secs", self.outgoing_webhooks.timeout_secs, "Set it to e.g. 15.")?;
        positive(
            "outgoing_webhooks.disable_after_days",
            self.outgoing_webhooks.disable_after_days,
            "Set it to e.g. 5.",
        )?;
        positive(
            "outgoing_webhooks.retention_days",
            self.outgoing_webhooks.retention_days.into(),
            "Set it to e.g. 30.",
        )?;
        positive("outgoing_webhooks.batch_size", self.outgoing_webhooks.batch_size.into(), "Set it to e.g. 100.")?;
        positive("outgoing_webhooks.concurrency", self.outgoing_webhooks.concurrency as u64, "Set it to e.g. 16.")?;
        positive(
            "outgoing_webhooks.requests_per_endpoint",
            self.outgoing_webhooks.requests_per_endpoint as u64,
            "Set it to e.g. 8.",
        )?;
        positive(
            "outgoing_webhooks.poll_interval_ms",
            self.outgoing_webhooks.poll_interval_ms,
            "Set it to e.g. 1000.",
        )?;
        self.allowed_private_addresses()?;
        positive("console.session_idle_minutes", self.console.session_idle_minutes, "Set it to e.g. 720.")?;
        positive("console.session_max_days", self.console.session_max_days, "Set it to e.g. 30.")?;
        positive("console.invitation_hours", self.console.invitation_hours, "Set it to e.g. 72.")?;
        positive(
            "console.sign_in_failure_window_secs",
            self.console.sign_in_failure_window_secs,
            "Set it to e.g. 900.",
        )?;
        if self.console.session_idle_minutes > 525_600
            || self.console.session_max_days > 3650
            || self.console.invitation_hours > 8760
        {
            return Err(SettingsError::Invalid {
                key: "console",
                problem: "a session or invitation lifetime is longer than allowed (idle: a year, absolute: ten years, invitation: a year)".into(),
                fix: "Keep the defaults (720 minutes, 30 days, 72 hours) or something close.",
            });
        }
        if let Some(key) = &self.secrets.key
            && switchboard_core::auth::SecretKey::from_hex(key.expose_secret()).is_err()
        {
            return Err(SettingsError::Invalid {
                key: "secrets.key",
                problem: "is not 64 hexadecimal digits".into(),
                fix: "Generate one with `openssl rand -hex 32` (SWITCHBOARD__SECRETS__KEY or SWITCHBOARD_SECRETS__KEY_FILE), or leave it empty to have one generated in the data directory.",
            });
        }
        if self.webhooks.event_retention_days < 8
            || self.webhooks.event_retention_days < self.webhooks.body_retention_days
        {
            return Err(SettingsError::Invalid {
                key: "webhooks.event_retention_days",
                problem: format!(
                    "{} days is less than Meta's 7 days of retries plus a day, or than webhooks.body_retention_days",
                    self.webhooks.event_retention_days
                ),
                fix: "A retry after the row is deleted would be stored again: keep at least 8, and at least webhooks.body_retention_days (default 10).",
            });
        }
        if self.sender.throughput_per_second > 1000 {
            return Err(SettingsError::Invalid {
                key: "sender.throughput_per_second",
                problem: format!("{} is above Meta's highest tier", self.sender.throughput_per_second),
                fix: "Meta allows at most 1000 messages/s per number; use 80 unless Meta upgraded the number, or 0 to disable the limit.",
            });
        }
        if self.http.webhook_body_limit < 64 * 1024 {
            return Err(SettingsError::Invalid {
                key: "http.webhook_body_limit",
                problem: format!("{} bytes is too small for Meta's deliveries", self.http.webhook_body_limit),
                fix: "Meta sends up to 3 MiB; keep the default 3145728.",
            });
        }
        if self.http.webhook_buffer_limit < self.http.webhook_body_limit {
            return Err(SettingsError::Invalid {
                key: "http.webhook_buffer_limit",
                problem: format!(
                    "{} bytes is less than http.webhook_body_limit ({})",
                    self.http.webhook_buffer_limit, self.http.webhook_body_limit
                ),
                fix: "A body of the largest size must fit: keep the default 67108864 (64 MiB).",
            });
        }
        if self.media.dir.as_os_str().is_empty() {
            return Err(SettingsError::Invalid {
                key: "media.dir",
                problem: "must not be empty".into(),
                fix: "Set SWITCHBOARD__MEDIA__DIR to a writable directory, e.g. data/media.",
            });
        }
        self.ref_format()?;
        self.public_url()?;
        self.display_phone_number()?;
        let base = &self.graph.base_url;
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(SettingsError::Invalid {
                key: "graph.base_url",
                problem: "must be an http(s) URL".into(),
                fix: "Set SWITCHBOARD_GRAPH_BASE_URL to https://graph.facebook.com (or a local mock in tests).",
            });
        }
        Ok(())
    }

    pub fn listen(&self) -> Result<SocketAddr, SettingsError> {
        self.http.listen.parse().map_err(|_| SettingsError::Invalid {
            key: "http.listen",
            problem: format!("`{}` is not an address and port", self.http.listen),
            fix: "Set SWITCHBOARD_LISTEN to e.g. 127.0.0.1:8080 or 0.0.0.0:8080.",
        })
    }

    /// Where `/metrics` has its own listener, if anywhere.
    pub fn metrics_listen(&self) -> Result<Option<SocketAddr>, SettingsError> {
        let raw = self.http.metrics_listen.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(|_| SettingsError::Invalid {
            key: "http.metrics_listen",
            problem: format!("`{raw}` is not an address and port"),
            fix: "Set SWITCHBOARD__HTTP__METRICS_LISTEN to e.g. 127.0.0.1:9090, or leave it empty to serve /metrics on http.listen.",
        })
    }

    pub fn backend(&self) -> Result<Backend, SettingsError> {
        let url = self.database.url.expose_secret();
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(SettingsError::Invalid {
                key: "database.url",
                problem: format!("unsupported database URL `{}`", redact_url(url)),
                fix: "Set SWITCHBOARD_DATABASE_URL to sqlite://path/to/file.db or postgres://user@host/db.",
            })
        }
    }

    /// The default channel's number, if one is configured.
    pub fn phone_number_id(&self) -> Result<Option<PhoneNumberId>, SettingsError> {
        let raw = self.whatsapp.phone_number_id.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        PhoneNumberId::parse(raw).map(Some).map_err(|e| SettingsError::Invalid {
            key: "whatsapp.phone_number_id",
            problem: e.to_string(),
            fix: "Set SWITCHBOARD_PHONE_NUMBER_ID to the numeric Phone number ID shown in Meta's App Dashboard (WhatsApp > API Setup).",
        })
    }

    /// How links write their reference code (`links.ref_format`).
    pub fn ref_format(&self) -> Result<switchboard_domain::link::RefFormat, SettingsError> {
        switchboard_domain::link::RefFormat::parse(&self.links.ref_format).map_err(|e| SettingsError::Invalid {
            key: "links.ref_format",
            problem: format!("{:?} {e}", self.links.ref_format),
            fix: "Set SWITCHBOARD__LINKS__REF_FORMAT to a template such as \"(ref {code})\".",
        })
    }

    /// The public base URL short links are built on, without a trailing slash; `None`
    /// when unset (relative paths).
    pub fn public_url(&self) -> Result<Option<String>, SettingsError> {
        let raw = self.links.public_url.trim().trim_end_matches('/');
        if raw.is_empty() {
            return Ok(None);
        }
        let ok = url::Url::parse(raw)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none());
        if !ok {
            return Err(SettingsError::Invalid {
                key: "links.public_url",
                problem: format!("`{raw}` is not an http(s) URL"),
                fix: "Set SWITCHBOARD__LINKS__PUBLIC_URL to the address customers reach this server at, e.g. https://support.example.com, or leave it empty.",
            });
        }
        Ok(Some(raw.to_owned()))
    }

    /// The default channel's number as customers dial it, if configured.
    pub fn display_phone_number(&self) -> Result<Option<switchboard_domain::link::PhoneNumber>, SettingsError> {
        let raw = self.whatsapp.display_phone_number.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        switchboard_domain::link::PhoneNumber::parse(raw, None).map(Some).map_err(|e| SettingsError::Invalid {
            key: "whatsapp.display_phone_number",
            problem: e.to_string(),
            fix: "Set SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER to the business number in international format, e.g. +44 7700 900123.",
        })
    }

    #[must_use]
    pub const fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.database.acquire_timeout_secs)
    }

    /// Whether outbound messages go to the sandbox rather than Meta.
    #[must_use]
    pub const fn uses_sandbox(&self) -> bool {
        self.whatsapp.sandbox || self.whatsapp.access_token.is_none()
    }

    #[must_use]
    pub fn housekeeping_options(&self) -> switchboard_core::HousekeepingOptions {
        let days = |n: u32| Duration::from_secs(u64::from(n) * 86_400);
        let m = &self.media;
        switchboard_core::HousekeepingOptions {
            body_retention: days(self.webhooks.body_retention_days),
            event_retention: days(self.webhooks.event_retention_days),
            webhook_log_retention: days(self.outgoing_webhooks.retention_days),
            media: Some((
                m.dir.clone(),
                switchboard_core::MediaCacheLimits {
                    max_age: (m.cache_max_age_days > 0).then(|| days(m.cache_max_age_days)),
                    max_bytes: (m.cache_max_mb > 0).then(|| m.cache_max_mb.saturating_mul(1 << 20)),
                },
            )),
            audit_retention: (self.audit.retention_days > 0).then(|| days(self.audit.retention_days)),
            retention_pace: switchboard_core::RetentionPace {
                messages_per_second: (self.retention.messages_per_second > 0)
                    .then_some(self.retention.messages_per_second),
                ..switchboard_core::RetentionPace::default()
            },
            ..switchboard_core::HousekeepingOptions::default()
        }
    }

    #[must_use]
    pub fn auth_options(&self) -> switchboard_core::AuthOptions {
        let c = &self.console;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        switchboard_core::AuthOptions {
            session_idle: chrono::Duration::minutes(clamp(c.session_idle_minutes)),
            session_max: chrono::Duration::days(clamp(c.session_max_days)),
            invitation_ttl: chrono::Duration::hours(clamp(c.invitation_hours)),
            failures_per_account: c.sign_in_failures_per_account,
            failures_per_client: c.sign_in_failures_per_client,
            failure_window: chrono::Duration::seconds(clamp(c.sign_in_failure_window_secs.min(86_400 * 366))),
        }
    }

    /// Where a generated secrets key is kept: `secrets.key_file`, else `secrets.key`
    /// beside the SQLite database file, else `data/secrets.key`.
    #[must_use]
    pub fn secrets_key_file(&self) -> PathBuf {
        if !self.secrets.key_file.as_os_str().is_empty() {
            return self.secrets.key_file.clone();
        }
        let url = self.database.url.expose_secret();
        if matches!(self.backend(), Ok(Backend::Sqlite)) {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path);
            if !path.is_empty() && !path.starts_with(":memory:") {
                let dir = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                return dir.join("secrets.key");
            }
        }
        PathBuf::from("data/secrets.key")
    }

    #[must_use]
    pub fn assigner_options(&self) -> switchboard_core::AssignerOptions {
        switchboard_core::AssignerOptions {
            interval: Duration::from_secs(self.assignment.interval_secs),
            batch_size: self.assignment.batch_size,
        }
    }

    #[must_use]
    pub fn live_options(&self) -> switchboard_core::LiveOptions {
        switchboard_core::LiveOptions {
            keep_alive: Duration::from_millis(self.events.keep_alive_ms),
            poll_interval: Duration::from_millis(self.events.poll_interval_ms),
            ..switchboard_core::LiveOptions::default()
        }
    }

    #[must_use]
    pub fn sender_options(&self) -> switchboard_core::SenderOptions {
        let s = &self.sender;
        switchboard_core::SenderOptions {
            batch_size: s.batch_size,
            concurrency: s.concurrency,
            lease: Duration::from_secs(s.lease_secs),
            reconcile_grace: Duration::from_secs(s.reconcile_grace_secs),
            max_attempts: s.max_attempts,
            max_age: Duration::from_secs(s.max_age_hours * 3600),
            backoff_base: Duration::from_secs(s.backoff_base_secs),
            backoff_cap: Duration::from_secs(s.backoff_cap_secs),
            throughput_per_second: s.throughput_per_second,
            pair_per_minute: s.pair_per_minute,
            pause_on_config_error: Duration::from_secs(s.pause_on_config_error_secs),
            poll_interval: Duration::from_millis(s.poll_interval_ms),
        }
    }

    /// `outgoing_webhooks.allowed_private_addresses`, parsed.
    pub fn allowed_private_addresses(&self) -> Result<Vec<std::net::IpAddr>, SettingsError> {
        self.outgoing_webhooks
            .allowed_private_addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().map_err(|_| SettingsError::Invalid {
                    key: "outgoing_webhooks.allowed_private_addresses",
                    problem: format!("{a:?} is not an IP address"),
                    fix: "List IP addresses separated by commas, e.g. \"127.0.0.1, ::1\".",
                })
            })
            .collect()
    }

    /// The outgoing webhook worker's options.
    pub fn webhook_options(&self) -> Result<switchboard_core::WebhookOptions, SettingsError> {
        let w = &self.outgoing_webhooks;
        Ok(switchboard_core::WebhookOptions {
            allowed_private_addresses: self.allowed_private_addresses()?,
            timeout: Duration::from_secs(w.timeout_secs),
            disable_after: Duration::from_secs(w.disable_after_days * 86_400),
            rotation_overlap: Duration::from_secs(w.rotation_overlap_hours * 3600),
            batch_size: w.batch_size,
            concurrency: w.concurrency,
            requests_per_endpoint: w.requests_per_endpoint,
            lease: Duration::from_secs(w.timeout_secs * 2 + 30),
            poll_interval: Duration::from_millis(w.poll_interval_ms),
            linger: Duration::from_millis(w.linger_ms),
        })
    }

    /// What this configuration cannot do, in plain words, for the start-up log.
    #[must_use]
    pub fn limitations(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.whatsapp.app_secret.is_none() {
            out.push("no app secret (SWITCHBOARD_APP_SECRET): webhook deliveries are refused with 503 and Meta retries them; nothing is received");
        }
        if self.whatsapp.verify_token.is_none() {
            out.push("no verify token (SWITCHBOARD_VERIFY_TOKEN): Meta's webhook verification handshake is refused");
        }
        if self.whatsapp.access_token.is_none() {
            out.push("no access token (SWITCHBOARD_ACCESS_TOKEN): outbound messages go to the sandbox (recorded, not sent to WhatsApp)");
        } else if self.whatsapp.sandbox {
            out.push("whatsapp.sandbox = true: outbound messages go to the sandbox (recorded, not sent to WhatsApp)");
        }
        if self.whatsapp.phone_number_id.trim().is_empty() {
            out.push("no phone number id (SWITCHBOARD_PHONE_NUMBER_ID): no channel is configured; deliveries are kept and reported, not applied");
        }
        out
    }

    /// The effective configuration as TOML, secrets masked (`check-config`).
    #[must_use]
    pub fn to_masked_toml(&self) -> String {
        let mask = |s: &Option<SecretString>| if s.is_some() { "\"********\" # set" } else { "\"\" # not set" };
        let h = &self.http;
        let d = &self.database;
        let w = &self.whatsapp;
        format!(
            "[http]\nlisten = {:?}\nworkers = {}\nwebhook_body_limit = {}\nwebhook_body_timeout_secs = {}\nwebhook_buffer_limit = {}\nmax_connections = {}\nmetrics_listen = {:?}\napi_body_limit = {}\nshutdown_timeout_secs = {}\n\n\
             [database]\nurl = {:?}\nmax_connections = {}\nmigrate_on_start = {}\nacquire_timeout_secs = {}\nsqlite_synchronous = \"{}\"\n\n\
             [whatsapp]\nphone_number_id = {:?}\nchannel_name = {:?}\ndisplay_phone_number = {:?}\napp_secret = {}\nverify_token = {}\naccess_token = {}\nsandbox = {}\n\n\
             [graph]\nbase_url = {:?}\napi_version = {:?}\nconnect_timeout_secs = {}\ntimeout_secs = {}\n\n\
             [media]\ndir = {:?}\ncache_max_age_days = {}\ncache_max_mb = {}\n\n\
             [webhooks]\nmax_batch = {}\nqueue_capacity = {}\nbody_retention_days = {}\nevent_retention_days = {}\n\n\
             [ingest]\nenabled = {}\nbatch_size = {}\npoll_interval_ms = {}\n\n\
             [sender]\nenabled = {}\nbatch_size = {}\nconcurrency = {}\nlease_secs = {}\nreconcile_grace_secs = {}\nmax_attempts = {}\nmax_age_hours = {}\nbackoff_base_secs = {}\nbackoff_cap_secs = {}\nthroughput_per_second = {}\npair_per_minute = {}\npause_on_config_error_secs = {}\npoll_interval_ms = {}\n\n\
             [log]\nformat = \"{}\"\nfilter = {:?}\n",
            h.listen,
            h.workers,
            h.webhook_body_limit,
            h.webhook_body_timeout_secs,
            h.webhook_buffer_limit,
            h.max_connections,
            h.metrics_listen,
            h.api_body_limit,
            h.shutdown_timeout_secs,
            redact_url(d.url.expose_secret()),
            d.max_connections,
            d.migrate_on_start,
            d.acquire_timeout_secs,
            match d.sqlite_synchronous {
                SqliteSynchronous::Normal => "normal",
                SqliteSynchronous::Full => "full",
            },
            w.phone_number_id,
            w.channel_name,
            w.display_phone_number,
            mask(&w.app_secret),
            mask(&w.verify_token),
            mask(&w.access_token),
            w.sandbox,
            self.graph.base_url,
            self.graph.api_version,
            self.graph.connect_timeout_secs,
            self.graph.timeout_secs,
            self.media.dir.display().to_string(),
            self.media.cache_max_age_days,
            self.media.cache_max_mb,
            self.webhooks.max_batch,
            self.webhooks.queue_capacity,
            self.webhooks.body_retention_days,
            self.webhooks.event_retention_days,
            self.ingest.enabled,
            self.ingest.batch_size,
            self.ingest.poll_interval_ms,
            self.sender.enabled,
            self.sender.batch_size,
            self.sender.concurrency,
            self.sender.lease_secs,
            self.sender.reconcile_grace_secs,
            self.sender.max_attempts,
            self.sender.max_age_hours,
            self.sender.backoff_base_secs,
            self.sender.backoff_cap_secs,
            self.sender.throughput_per_second,
            self.sender.pair_per_minute,
            self.sender.pause_on_config_error_secs,
            self.sender.poll_interval_ms,
            match self.log.format {
                LogFormat::Pretty => "pretty",
                LogFormat::Json => "json",
            },
            self.log.filter,
        ) + &format!(
            "\n[links]\npublic_url = {:?}\nref_format = {:?}\nclick_flush_secs = {}\n",
            self.links.public_url, self.links.ref_format, self.links.click_flush_secs,
        ) + &format!(
            "\n[events]\nkeep_alive_ms = {}\nretention_days = {}\npoll_interval_ms = {}\n",
            self.events.keep_alive_ms, self.events.retention_days, self.events.poll_interval_ms,
        ) + &format!("\n[audit]\nretention_days = {}\n", self.audit.retention_days)
            + &format!("\n[retention]\nmessages_per_second = {}\n", self.retention.messages_per_second)
            + &format!(
                "\n[assignment]\nenabled = {}\ninterval_secs = {}\nbatch_size = {}\n",
                self.assignment.enabled, self.assignment.interval_secs, self.assignment.batch_size,
            )
            + &format!(
                "\n[console]\nsession_idle_minutes = {}\nsession_max_days = {}\ninvitation_hours = {}\nsign_in_failures_per_account = {}\nsign_in_failures_per_client = {}\nsign_in_failure_window_secs = {}\nsecure_cookies = {}\ntrust_proxy = {}\n",
                self.console.session_idle_minutes,
                self.console.session_max_days,
                self.console.invitation_hours,
                self.console.sign_in_failures_per_account,
                self.console.sign_in_failures_per_client,
                self.console.sign_in_failure_window_secs,
                self.console.secure_cookies,
                self.console.trust_proxy,
            )
            + &format!(
                "\n[secrets]\nkey = {}\nkey_file = {:?}\n",
                if self.secrets.key.is_some() { "\"********\" # set" } else { "\"\" # not set" },
                self.secrets.key_file.display().to_string(),
            )
            + &format!(
                "\n[outgoing_webhooks]\nenabled = {}\nallowed_private_addresses = {:?}\ntimeout_secs = {}\ndisable_after_days = {}\nrotation_overlap_hours = {}\nbatch_size = {}\nconcurrency = {}\nrequests_per_endpoint = {}\npoll_interval_ms = {}\nlinger_ms = {}\n",
                self.outgoing_webhooks.enabled,
                self.outgoing_webhooks.allowed_private_addresses,
                self.outgoing_webhooks.timeout_secs,
                self.outgoing_webhooks.disable_after_days,
                self.outgoing_webhooks.rotation_overlap_hours,
                self.outgoing_webhooks.batch_size,
                self.outgoing_webhooks.concurrency,
                self.outgoing_webhooks.requests_per_endpoint,
                self.outgoing_webhooks.poll_interval_ms,
                self.outgoing_webhooks.linger_ms,
            )
    }
}

/// A database URL with its password replaced by `***`: the one after the user name, and
/// the value of any query parameter that names a password, secret or key
/// (`?password=…`, `sslpassword=…`).
#[must_use]
pub fn redact_url(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw) else {
        return "<unparsable URL>".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        ["pass", "pwd", "secret", "token"].iter().any(|w| k.contains(w)) || k == "key"
    };
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) { "***".to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_load_with_no_files_and_no_environment() {
        let s = Settings::load_from(None, HashMap::new()).unwrap();
        assert_eq!(s.listen().unwrap().to_string(), "127.0.0.1:8080");
        assert_eq!(s.backend().unwrap(), Backend::Sqlite);
        assert!(s.whatsapp.app_secret.is_none());
        assert_eq!(s.limitations().len(), 4);
        assert_eq!(s.housekeeping_options().retention_pace.messages_per_second, Some(1_000));
    }

    #[test]
    fn short_and_nested_environment_names_override_the_defaults() {
        let s = Settings::load_from(
            None,
            env(&[
                ("SWITCHBOARD_LISTEN", "0.0.0.0:9000"),
                ("SWITCHBOARD_DATABASE_URL", "postgres://app:hunter2@db/switchboard"),
                ("SWITCHBOARD_APP_SECRET", "s3cret"),
                ("SWITCHBOARD_PHONE_NUMBER_ID", "106540352242922"),
                ("SWITCHBOARD__INGEST__BATCH_SIZE", "128"),
                ("SWITCHBOARD__RETENTION__MESSAGES_PER_SECOND", "0"),
            ]),
        )
        .unwrap();
        assert_eq!(s.http.listen, "0.0.0.0:9000");
        assert_eq!(s.backend().unwrap(), Backend::Postgres);
        assert_eq!(s.ingest.batch_size, 128);
        assert_eq!(s.housekeeping_options().retention_pace.messages_per_second, None, "0: no limit");
        assert_eq!(s.phone_number_id().unwrap().unwrap().as_str(), "106540352242922");
        assert_eq!(s.whatsapp.app_secret.as_ref().unwrap().expose_secret(), "s3cret");
    }

    #[test]
    fn secrets_never_show_in_debug_or_check_config() {
        let s = Settings::load_from(
            None,
            env(&[
                ("SWITCHBOARD_APP_SECRET", "s3cret-value"),
                ("SWITCHBOARD_DATABASE_URL", "postgres://app:hunter2@db/x"),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?}\n{}", s.to_masked_toml());
        assert!(!shown.contains("s3cret-value"));
        assert!(!shown.contains("hunter2"));
        assert!(s.to_masked_toml().contains("postgres://app:***@db/x"));
        // A password given as a query parameter is masked too; other parameters stay.
        let s = Settings::load_from(
            None,
            env(&[(
                "SWITCHBOARD_DATABASE_URL",
                "postgres://app@db/x?sslmode=verify-full&password=hunter2&sslpassword=k3y&application_name=sb",
            )]),
        )
        .unwrap();
        let shown = s.to_masked_toml();
        assert!(!shown.contains("hunter2") && !shown.contains("k3y"), "{shown}");
        assert!(
            shown.contains("postgres://app@db/x?sslmode=verify-full&password=***&sslpassword=***&application_name=sb"),
            "{shown}"
        );
        assert!(s.to_masked_toml().contains("[media]\ndir = \"data/media\""));
    }

    #[test]
    fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
        let path = std::env::temp_dir().join(format!("sb-settings-{}.toml", std::process::id()));
        std::fs::write(&path, "[ingest]\nbatch_size = 7\npoll_interval_ms = 50\n").unwrap();
        let s = Settings::load_from(Some(&path), env(&[("SWITCHBOARD__INGEST__BATCH_SIZE", "9")])).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(s.ingest.batch_size, 9);
        assert_eq!(s.ingest.poll_interval_ms, 50);
    }

    #[test]
    fn invalid_values_name_the_key_and_say_how_to_fix_it() {
        let err = |pairs: &[(&str, &str)]| Settings::load_from(None, env(pairs)).unwrap_err().to_string();
        let e = err(&[("SWITCHBOARD_DATABASE_URL", "mysql://x")]);
        assert!(e.contains("database.url") && e.contains("SWITCHBOARD_DATABASE_URL"), "{e}");
        let e = err(&[("SWITCHBOARD_LISTEN", "localhost")]);
        assert!(e.contains("http.listen"), "{e}");
        let e = err(&[("SWITCHBOARD_PHONE_NUMBER_ID", "+1 555")]);
        assert!(e.contains("whatsapp.phone_number_id"), "{e}");
        let e = err(&[("SWITCHBOARD__INGEST__BATCH_SIZE", "0")]);
        assert!(e.contains("ingest.batch_size"), "{e}");
        let e = err(&[("SWITCHBOARD__WEBHOOKS__EVENT_RETENTION_DAYS", "7")]);
        assert!(e.contains("webhooks.event_retention_days"), "{e}");
        let e = err(&[("SWITCHBOARD__WEBHOOKS__BODY_RETENTION_DAYS", "30")]);
        assert!(e.contains("webhooks.event_retention_days"), "{e}");
        let e = err(&[("SWITCHBOARD__HTTP__NO_SUCH_KEY", "1")]);
        assert!(e.contains("no_such_key"), "{e}");
    }

    #[test]
    fn link_settings_are_checked_and_normalised() {
        let s = Settings::load_from(None, HashMap::new()).unwrap();
        assert_eq!(s.public_url().unwrap(), None);
        assert_eq!(s.ref_format().unwrap(), switchboard_domain::link::RefFormat::default());
        assert_eq!(s.display_phone_number().unwrap(), None);
        let s = Settings::load_from(
            None,
            env(&[
                ("SWITCHBOARD__LINKS__PUBLIC_URL", "https://chat.example.com/support/"),
                ("SWITCHBOARD__LINKS__REF_FORMAT", "#{code}"),
                ("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", "+44 7700 900123"),
            ]),
        )
        .unwrap();
        assert_eq!(s.public_url().unwrap().as_deref(), Some("https://chat.example.com/support"));
        assert_eq!(s.display_phone_number().unwrap().map(|p| p.digits().to_owned()).as_deref(), Some("447700900123"));
        assert!(s.to_masked_toml().contains("ref_format = \"#{code}\""));
        let err = |pairs: &[(&str, &str)]| Settings::load_from(None, env(pairs)).unwrap_err().to_string();
        assert!(err(&[("SWITCHBOARD__LINKS__REF_FORMAT", "ref")]).contains("links.ref_format"));
        assert!(err(&[("SWITCHBOARD__LINKS__PUBLIC_URL", "chat.example.com")]).contains("links.public_url"));
        assert!(
            err(&[("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", "12")]).contains("whatsapp.display_phone_number")
        );
    }

    #[test]
    fn secrets_can_come_from_files() {
        let path = std::env::temp_dir().join(format!("sb-secret-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").unwrap();
        let s = Settings::load_from(None, env(&[("SWITCHBOARD_APP_SECRET_FILE", path.to_str().unwrap())])).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(s.whatsapp.app_secret.unwrap().expose_secret(), "from-file");
    }
}
