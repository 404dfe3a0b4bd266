//! `/admin/quick-replies`: the quick replies agents send with `/shortcut`, searched,
//! created, edited and deleted through `/api/v1/admin/quick-replies`, each form with a live
//! preview of what it sends, filled in by the engine for a sample contact.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde_json::Value;
use switchboard_core::admin::QuickReplySample;
use switchboard_domain::autoreply::{QuickReply, Shortcut};

use super::Nav;
use super::preview::{ReplyView, problems};
use crate::AppState;
use crate::console::{ConsoleError, Layout, Page, query_pairs, render};
use crate::extract::Admin;
use crate::json::Body;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/quick-replies", web::get().to(page)).route("/quick-replies/preview", web::post().to(preview));
}

/// A sample contact's name, for the preview.
pub(super) const SAMPLE_NAME: &str = "Ana García";

/// A quick reply as its form shows it (empty for the new one).
#[derive(Default)]
pub(super) struct Row {
    /// The id, or `new`.
    pub key: String,
    pub shortcut: String,
    pub text: String,
    /// `image`, `video`, `document`, `audio`, or "" for none.
    pub media_kind: String,
    pub media_link: String,
    pub media_id: String,
    pub media_filename: String,
    /// `(id, title)`.
    pub buttons: Vec<(String, String)>,
}

impl Row {
    fn new(q: QuickReply) -> Self {
        let media = q.media.as_ref();
        Self {
            key: q.id.to_string(),
            shortcut: q.shortcut.as_str().to_owned(),
            text: q.text,
            media_kind: media.map(|m| m.kind.as_str().to_owned()).unwrap_or_default(),
            media_link: media.and_then(|m| m.link.clone()).unwrap_or_default(),
            media_id: media.and_then(|m| m.id.clone()).unwrap_or_default(),
            media_filename: media.and_then(|m| m.filename.clone()).unwrap_or_default(),
            buttons: q.buttons.into_iter().map(|b| (b.id, b.title)).collect(),
        }
    }

    /// What the list shows under the shortcut.
    pub fn summary(&self) -> String {
        let mut s: String = self.text.chars().take(80).collect();
        if self.text.chars().count() > 80 {
            s.push('…');
        }
        s
    }
}

#[derive(Template)]
#[template(path = "console/admin_quick_replies.html")]
struct QuickReplies {
    layout: Layout,
    nav: Nav,
    /// The search, as typed.
    q: String,
    rows: Vec<Row>,
    /// How many there are in all (the search may show fewer).
    total: usize,
    blank: Row,
}

/// Whether a quick reply matches the search: its shortcut (with or without the slash) or
/// its text contains it, case ignored.
fn matches(q: &QuickReply, search: &str) -> bool {
    let search = search.trim().trim_start_matches('/').to_lowercase();
    search.is_empty() || q.shortcut.as_str().contains(&search) || q.text.to_lowercase().contains(&search)
}

/// `GET /admin/quick-replies?q=…`: the quick replies (those matching `q`), in shortcut order.
async fn page(
    Page(admin): Page<Admin>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query_pairs(&req)?.into_iter().find(|(k, _)| k == "q").map(|(_, v)| v).unwrap_or_default();
    let all = state.store.quick_replies().await?;
    let total = all.len();
    let rows = all.into_iter().filter(|r| matches(r, &q)).map(Row::new).collect();
    render(&QuickReplies {
        layout: Layout::signed_in("Quick replies", &admin.agent),
        nav: Nav::at("/admin/quick-replies"),
        q,
        rows,
        total,
        blank: Row { key: "new".into(), ..Row::default() },
    })
}

/// One sample's messages.
struct Sample {
    who: String,
    replies: Vec<ReplyView>,
}

#[derive(Template)]
#[template(path = "console/admin_quick_reply_preview.html")]
struct Preview {
    channel: Option<String>,
    samples: Vec<Sample>,
}

/// `POST /admin/quick-replies/preview`, a quick reply's body as the API takes it: what it
/// sends, filled in by the engine for a contact named [`SAMPLE_NAME`] and for one without
/// a name, with the first channel's business name and hours, sent by this admin.
async fn preview(
    Page(admin): Page<Admin>,
    mut body: Body<QuickReply>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    // The shortcut changes nothing in what is sent: the text is previewed while the
    // shortcut is still being typed (saving names it if it is not one).
    let object = body.object_mut();
    if object.get("shortcut").and_then(Value::as_str).is_none_or(|s| Shortcut::parse(s).is_err()) {
        object.insert("shortcut".into(), Value::String("preview".into()));
    }
    let qr = match body.read() {
        Ok(qr) => qr,
        Err(e) => return problems(e),
    };
    let agent_name = admin.agent.0.name.as_str();
    let now = Utc::now();
    let mut samples = Vec::new();
    let mut channel = None;
    for (who, name) in [(format!("To {SAMPLE_NAME}"), Some(SAMPLE_NAME)), ("To a contact without a name".into(), None)]
    {
        let sample = QuickReplySample { channel: None, contact_name: name, agent_name, now };
        match state.config().preview_quick_reply(&qr, &sample).await {
            Ok(p) => {
                channel = p.channel.map(|c| c.name);
                samples.push(Sample { who, replies: p.replies.iter().map(ReplyView::from).collect() });
            }
            Err(e) => return problems(e.into()),
        }
    }
    render(&Preview { channel, samples })
}
