//! The command line: `serve`, `migrate`, `check-config`, `simulate`, `link`, `agent create`,
//! `agent invite`, `contact export`.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use switchboard_core::audit::EntryExt;
use switchboard_domain::{AgentName, AgentRole, AuditAction, Email, NewAgent};
use switchboard_store::StoreError;

use crate::settings::Settings;
use crate::{startup, telemetry};

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "A self-hosted WhatsApp support inbox")]
pub struct Cli {
    /// A TOML file whose keys override the built-in defaults (environment variables
    /// override both).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies database migrations first unless told not to).
    Serve {
        /// Do not apply migrations at start-up.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration and print it, secrets masked.
    CheckConfig,
    /// Send a correctly signed sample inbound message to a running server, as Meta
    /// would, to see the whole path work without Meta.
    Simulate {
        /// The server's base URL (default: http://<http.listen>).
        #[arg(long)]
        url: Option<String>,
        /// The customer's WhatsApp number (digits).
        #[arg(long, default_value = "15550001234")]
        from: String,
        /// The customer's profile name.
        #[arg(long, default_value = "Test Customer")]
        name: String,
        /// The message text.
        #[arg(long, default_value = "Hello! I need help with my order.")]
        text: String,
    },
    /// Print a wa.me click-to-chat link (and optionally write it as a QR code). Needs no
    /// database.
    Link {
        /// The business's WhatsApp number, e.g. "+1 555 0100" or, with --region, national format.
        #[arg(long)]
        phone: Option<String>,
        /// ISO 3166 alpha-2 region for numbers written without a country code (e.g. US, GB, IN).
        #[arg(long)]
        region: Option<String>,
        /// Text to prefill in the customer's composer (they still have to send it).
        #[arg(long)]
        text: Option<String>,
        /// Write a QR code of the wa.me link to this file (.png or .svg).
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
        /// The QR code's minimum width and height in pixels.
        #[arg(long, default_value_t = 512)]
        size: u32,
    },
    /// Manage agents.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Contacts' data: export (a data-subject access request) and erasure.
    Contact {
        #[command(subcommand)]
        command: ContactCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Write everything stored about a contact (a data-subject access request) to a ZIP:
    /// contact.json (profile, attributes, consent, every conversation with its messages,
    /// delivery states, labels, notes, CSAT answers, link attribution) and their media
    /// files (from the media cache, else fetched from WhatsApp while it still has them).
    Export {
        /// The contact's WhatsApp number (digits, as WhatsApp gives it).
        #[arg(long)]
        wa_id: String,
        /// The ZIP file to write (replaced if it exists; written whole or not at all).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Erase a contact (right to erasure): their name, number, message bodies, media files,
    /// raw webhook payloads, notes and attributes are removed or irreversibly anonymised;
    /// conversation counts and KPI times stay. Prints the erasure's id.
    Erase {
        /// The contact's WhatsApp number (digits, an optional leading +).
        #[arg(long)]
        wa_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent and print their API token (shown once, only its hash is kept) on
    /// standard output, and a one-time link to set their console password on standard
    /// error.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value_t = Role::Agent)]
        role: Role,
    },
    /// Print a new one-time link for an agent to set their console password (an
    /// invitation, or a reset if they have one: accepting a reset signs them out
    /// everywhere). It expires after console.invitation_hours.
    Invite {
        #[arg(long)]
        email: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Role {
    Admin,
    Agent,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { no_migrate } => {
            telemetry::init(settings.log.format, &settings.log.filter);
            if no_migrate {
                settings.database.migrate_on_start = false;
            }
            startup::start(&settings).await?.run_until_signalled().await
        }
        Command::Migrate => {
            telemetry::init(settings.log.format, &settings.log.filter);
            let store = startup::connect_store(&settings).await?;
            store.migrate().await.context("cannot apply database migrations")?;
            let ready = store.readiness().await?;
            store.close().await;
            anyhow::ensure!(
                ready.pending_migrations.is_empty(),
                "migrations still pending: {:?}",
                ready.pending_migrations
            );
            println!("database schema is up to date ({})", store.backend());
            Ok(())
        }
        Command::CheckConfig => {
            print!("{}", settings.to_masked_toml());
            let limitations = settings.limitations();
            if limitations.is_empty() {
                eprintln!("configuration is valid");
            } else {
                eprintln!("configuration is valid, with these limitations:");
                for l in limitations {
                    eprintln!("  - {l}");
                }
            }
            Ok(())
        }
        Command::Link { phone, region, text, qr, size } => {
            link(phone.as_deref(), region.as_deref(), text.as_deref(), qr.as_deref(), size)
        }
        Command::Simulate { url, from, name, text } => simulate(&settings, url, &from, &name, &text).await,
        Command::Agent { command: AgentCommand::Create { name, email, role } } => {
            let agent = NewAgent {
                name: AgentName::parse(&name).context("--name")?,
                email: Email::parse(&email).context("--email")?,
                role: match role {
                    Role::Admin => AgentRole::Admin,
                    Role::Agent => AgentRole::Agent,
                },
            };
            let store = startup::connect_store(&settings).await?;
            store.migrate().await.context("cannot apply database migrations")?;
            let token = new_token();
            let created = store.create_agent(&agent, &switchboard_http::hash_token(&token), Utc::now()).await;
            if created.is_err() {
                store.close().await;
            }
            let created = match created {
                Err(StoreError::Conflict { .. }) => {
                    anyhow::bail!("an agent with email {} already exists", agent.email.as_str())
                }
                other => other?,
            };
            let link = invitation_link(&settings, &*store, created.id).await;
            store.close().await;
            eprintln!(
                "created {} {} ({}); its API token is shown once:",
                created.role,
                created.id,
                created.email.as_str()
            );
            println!("{token}");
            match link {
                Ok((url, expires_at)) => {
                    eprintln!("to set a console password, open (once, before {expires_at}): {url}");
                }
                Err(e) => eprintln!("no invitation link could be made ({e:#}); use `switchboard agent invite`"),
            }
            Ok(())
        }
        Command::Contact { command: ContactCommand::Export { wa_id, out } } => {
            let wa_id = switchboard_domain::WaId::parse(&wa_id).context("--wa-id")?;
            let graph = startup::graph_client(&settings)?;
            let key = std::sync::Arc::new(startup::secrets_key(&settings)?);
            let store = startup::connect_store(&settings).await?;
            let result = async {
                store.migrate().await.context("cannot apply database migrations")?;
                // Media are fetched with the token of each conversation's channel.
                let channels = std::sync::Arc::new(switchboard_core::ChannelDirectory::new(
                    key,
                    graph,
                    settings.whatsapp.app_secret.clone(),
                ));
                channels.refresh(&*store).await.context("cannot load the channels")?;
                let contact = store
                    .contact_by_wa_id(&wa_id)
                    .await?
                    .with_context(|| format!("no contact has the WhatsApp number {}", wa_id.as_str()))?;
                let options = switchboard_core::ExportOptions { media_dir: settings.media.dir.clone(), channels };
                let entry =
                    switchboard_core::Actor::SYSTEM.entry(AuditAction::ContactExported).target("contact", contact.id);
                switchboard_core::Audit::new(&*store).record(entry).await;
                export_to_file(&*store, &options, contact.id, &out).await
            }
            .await;
            store.close().await;
            let summary = result?;
            eprintln!(
                "wrote {} ({} bytes): {} conversations, {} messages, {} media files{}",
                out.display(),
                summary.bytes,
                summary.conversations,
                summary.messages,
                summary.media_files,
                if summary.media_missing > 0 {
                    format!(" ({} not available, listed in contact.json with the reason)", summary.media_missing)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Contact { command: ContactCommand::Erase { wa_id } } => {
            let wa_id = switchboard_domain::WaId::parse(&wa_id).context("--wa-id")?;
            let store = startup::connect_store(&settings).await?;
            store.migrate().await.context("cannot apply database migrations")?;
            let result = async {
                let contact =
                    store.contact_by_wa_id(&wa_id).await?.context("no contact has this number (already erased?)")?.id;
                let privacy = switchboard_core::Privacy::new(&*store, Some(settings.media.dir.as_path()));
                let job = privacy.erase_contact(contact, None).await?.context("the contact disappeared meanwhile")?;
                let entry =
                    switchboard_core::Actor::SYSTEM.entry(AuditAction::ContactErased).target("contact", contact);
                switchboard_core::Audit::new(&*store)
                    .record(entry.after(&serde_json::json!({
                        "erasure_id": job.id, "messages": job.messages, "events": job.events,
                    })))
                    .await;
                anyhow::Ok(job)
            }
            .await;
            store.close().await;
            let job = result?;
            eprintln!("contact {} erased: {} messages, {} webhook bodies", job.contact_id, job.messages, job.events);
            println!("{}", job.id);
            Ok(())
        }
        Command::Agent { command: AgentCommand::Invite { email } } => {
            let email = Email::parse(&email).context("--email")?;
            let store = startup::connect_store(&settings).await?;
            store.migrate().await.context("cannot apply database migrations")?;
            let result = async {
                let creds = store
                    .credentials_by_email(&email)
                    .await?
                    .with_context(|| format!("no agent has the email {}", email.as_str()))?;
                anyhow::ensure!(creds.agent.active, "agent {} is deactivated", email.as_str());
                invitation_link(&settings, &*store, creds.agent.id).await
            }
            .await;
            store.close().await;
            let (url, expires_at) = result?;
            eprintln!("a one-time link to set the console password, valid until {expires_at}:");
            println!("{url}");
            Ok(())
        }
    }
}

/// A one-time link for the agent to set a console password (an invitation, or a reset if
/// they have one), built on links.public_url or the listen address; and its expiry.
async fn invitation_link(
    settings: &Settings,
    store: &dyn switchboard_store::Store,
    agent: switchboard_domain::AgentId,
) -> anyhow::Result<(String, chrono::DateTime<Utc>)> {
    use switchboard_store::InvitationPurpose;
    let config = switchboard_core::AuthConfig {
        options: std::sync::Arc::new(settings.auth_options()),
        key: std::sync::Arc::new(startup::secrets_key(settings)?),
    };
    let creds = store.credentials(agent).await?;
    let purpose = if creds.password_hash.is_some() { InvitationPurpose::Reset } else { InvitationPurpose::Invite };
    let created = switchboard_core::Auth::new(store, &config)
        .create_invitation(agent, purpose, &switchboard_core::Actor::SYSTEM)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = settings.public_url()?.unwrap_or_else(|| format!("http://{}", settings.http.listen));
    Ok((format!("{base}/invitation/{}", created.token), created.invitation.expires_at))
}

/// Exports a contact to `out`, through a temporary file beside it renamed into place
/// once complete.
async fn export_to_file(
    store: &dyn switchboard_store::Store,
    options: &switchboard_core::ExportOptions,
    contact: switchboard_domain::ContactId,
    out: &std::path::Path,
) -> anyhow::Result<switchboard_core::ExportSummary> {
    let name = out.file_name().with_context(|| format!("--out {}: not a file name", out.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".part");
    let tmp = out.with_file_name(tmp_name);
    let written = async {
        let file = tokio::fs::File::create(&tmp).await.with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut file = tokio::io::BufWriter::new(file);
        let summary = switchboard_core::export_contact(store, options, contact, Utc::now(), &mut file).await?;
        file.into_inner().sync_all().await?;
        tokio::fs::rename(&tmp, out).await.with_context(|| format!("cannot write {}", out.display()))?;
        anyhow::Ok(summary)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

/// A new API token (shared with the HTTP API, which creates them too).
pub use switchboard_http::new_token;

/// Prints a click-to-chat link and, with `qr`, writes it as a QR code.
fn link(
    phone: Option<&str>,
    region: Option<&str>,
    text: Option<&str>,
    qr: Option<&std::path::Path>,
    size: u32,
) -> anyhow::Result<()> {
    use switchboard_domain::link::{ClickToChat, PhoneNumber, PrefilledText};
    let link = ClickToChat {
        phone: phone.map(|p| PhoneNumber::parse(p, region)).transpose().context("--phone")?,
        text: text.map(PrefilledText::parse).transpose().context("--text")?,
    };
    anyhow::ensure!(link.phone.is_some() || link.text.is_some(), "give --phone, --text or both");
    let url = link.wa_me_url();
    if let Some(path) = qr {
        write_qr(&url, path, size)?;
        eprintln!("wrote a QR code of the link to {}", path.display());
    }
    println!("{url}");
    println!("{}", link.api_whatsapp_url());
    Ok(())
}

/// Writes `data` as a QR code: SVG or PNG, chosen by the file's extension.
fn write_qr(data: &str, path: &std::path::Path, size: u32) -> anyhow::Result<()> {
    use qrcode::QrCode;
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let code = QrCode::new(data.as_bytes()).context("the link is too long for a QR code")?;
    match ext.as_deref() {
        Some("svg") => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(size, size).build();
            std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))
        }
        Some("png") => {
            let img = code.render::<image::Luma<u8>>().min_dimensions(size, size).build();
            img.save_with_format(path, image::ImageFormat::Png)
                .with_context(|| format!("cannot write {}", path.display()))
        }
        _ => anyhow::bail!("--qr {}: the file must end in .png or .svg", path.display()),
    }
}

/// Posts one signed text message, shaped exactly as Meta's deliveries are.
async fn simulate(settings: &Settings, url: Option<String>, from: &str, name: &str, text: &str) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let secret = settings
        .whatsapp
        .app_secret
        .as_ref()
        .context("simulate signs like Meta, so it needs the server's app secret: set SWITCHBOARD_APP_SECRET")?;
    let phone_number_id = settings
        .phone_number_id()?
        .context("simulate writes to the default channel: set SWITCHBOARD_PHONE_NUMBER_ID")?;
    let from = switchboard_domain::WaId::parse(from).context("--from")?;
    let now = Utc::now();
    let wamid = format!("wamid.simulated.{}", now.timestamp_nanos_opt().unwrap_or_default());
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": phone_number_id.as_str(), "phone_number_id": phone_number_id.as_str()},
            "contacts": [{"profile": {"name": name}, "wa_id": from.as_str()}],
            "messages": [{"from": from.as_str(), "id": wamid, "timestamp": now.timestamp().to_string(), "type": "text", "text": {"body": text}}]
        }}]}]
    });
    let body = serde_json::to_vec(&body)?;
    let signature = switchboard_cloudapi::signature::sign(secret.expose_secret().as_bytes(), &body);
    let base = url.unwrap_or_else(|| format!("http://{}", settings.http.listen));
    let res = reqwest::Client::new()
        .post(format!("{}/webhooks/whatsapp", base.trim_end_matches('/')))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}; is `switchboard serve` running?"))?;
    let status = res.status();
    anyhow::ensure!(status.is_success(), "the server answered {status}: {}", res.text().await.unwrap_or_default());
    println!("delivered {wamid}; see it with GET {base}/api/v1/conversations");
    Ok(())
}
