//! What the admin screens' previews have in common: a message as the customer would get
//! it, and a draft's problems shown where the preview goes.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use switchboard_domain::autoreply::{MediaAttachment, ReplyBody};

use crate::console::ConsoleError;
use crate::error::ApiError;

/// One message as a preview shows it.
pub struct ReplyView {
    /// Text, media, buttons or list.
    pub kind: &'static str,
    /// The text, caption or body ("" for none).
    pub text: String,
    /// The attached file: its kind and where it comes from.
    pub media: Option<String>,
    /// Reply buttons' titles, or a list's rows (`title — description`).
    pub options: Vec<String>,
    /// The label of the button that opens a list.
    pub list_button: Option<String>,
}

fn media(m: &MediaAttachment) -> String {
    let from = m.link.as_deref().map_or_else(|| format!("media id {}", m.id.as_deref().unwrap_or("?")), str::to_owned);
    match &m.filename {
        Some(f) => format!("{} “{f}” ({from})", m.kind.as_str()),
        None => format!("{} ({from})", m.kind.as_str()),
    }
}

impl From<&ReplyBody> for ReplyView {
    fn from(r: &ReplyBody) -> Self {
        match r {
            ReplyBody::Text { body } => {
                Self { kind: "Text", text: body.clone(), media: None, options: Vec::new(), list_button: None }
            }
            ReplyBody::Media { media: m, caption } => Self {
                kind: "Media",
                text: caption.clone().unwrap_or_default(),
                media: Some(media(m)),
                options: Vec::new(),
                list_button: None,
            },
            ReplyBody::Buttons { header, body, buttons } => Self {
                kind: "Buttons",
                text: body.clone(),
                media: header.as_ref().map(media),
                options: buttons.iter().map(|b| b.title.clone()).collect(),
                list_button: None,
            },
            ReplyBody::List { body, button, sections } => Self {
                kind: "List",
                text: body.clone(),
                media: None,
                options: sections
                    .iter()
                    .flat_map(|s| s.rows.iter())
                    .map(|r| match &r.description {
                        Some(d) => format!("{} — {d}", r.title),
                        None => r.title.clone(),
                    })
                    .collect(),
                list_button: Some(button.clone()),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/admin_problems.html")]
struct Problems<'a> {
    message: String,
    fields: &'a [crate::FieldError],
}

/// A preview's answer when its draft cannot be previewed: the API's error (a 422 naming
/// the fields, a 409…) as a fragment whose `#error-message` admin.js shows in the
/// preview's place.
pub fn problems(error: ApiError) -> Result<HttpResponse, ConsoleError> {
    let fields = match &error {
        ApiError::Validation(fields) => fields.as_slice(),
        ApiError::Internal(_) | ApiError::Unauthorized | ApiError::Forbidden => {
            return Err(ConsoleError::Api(error));
        }
        _ => &[],
    };
    let status = actix_web::ResponseError::status_code(&error);
    let message = match &error {
        ApiError::Validation(_) => "Not valid yet:".to_owned(),
        e => e.to_string(),
    };
    let html = Problems { message, fields }
        .render()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("render")))?;
    Ok(HttpResponse::build(if status.is_success() { StatusCode::UNPROCESSABLE_ENTITY } else { status })
        .content_type("text/html; charset=utf-8")
        .body(html))
}
