//! The console's static files, embedded in the binary and served under names that carry
//! a hash of their content (`console.3f2a9c1b.css`), so they can be cached for a year
//! and a new build never serves a stale copy.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    /// The name templates know it by.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/console.css"),
    },
    Asset {
        name: "inbox.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/inbox.css"),
    },
    Asset {
        name: "conversation.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/conversation.css"),
    },
    Asset {
        name: "admin.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/admin.css"),
    },
    Asset {
        name: "reports.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/reports.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/console.js"),
    },
    Asset {
        name: "inbox.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/inbox.js"),
    },
    Asset {
        name: "conversation.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/conversation.js"),
    },
    Asset {
        name: "admin.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/admin.js"),
    },
    // htmx 2.0.11 and its SSE extension 2.2.4 (npm `htmx.org`, `htmx-ext-sse`), 0BSD:
    // assets/vendor/LICENSE-*.
    Asset {
        name: "htmx.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "htmx-sse.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-ext-sse-2.2.4.min.js"),
    },
];

/// The files, each with its served name.
static HASHED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.bytes);
            let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            (format!("{stem}.{hash}.{ext}"), a)
        })
        .collect()
});

/// Where the templates find the files.
#[derive(Debug)]
pub struct AssetUrls {
    pub css: String,
    pub inbox_css: String,
    pub conversation_css: String,
    /// The admin pages' own (`admin_base.html`).
    pub admin_css: String,
    /// The reports page's own (`reports.html`).
    pub reports_css: String,
    pub js: String,
    pub inbox_js: String,
    pub conversation_js: String,
    pub admin_js: String,
    pub htmx: String,
    pub htmx_sse: String,
}

pub static URLS: LazyLock<AssetUrls> = LazyLock::new(|| AssetUrls {
    css: url("console.css"),
    inbox_css: url("inbox.css"),
    conversation_css: url("conversation.css"),
    admin_css: url("admin.css"),
    reports_css: url("reports.css"),
    js: url("console.js"),
    inbox_js: url("inbox.js"),
    conversation_js: url("conversation.js"),
    admin_js: url("admin.js"),
    htmx: url("htmx.js"),
    htmx_sse: url("htmx-sse.js"),
});

const PREFIX: &str = "/assets/";

fn url(name: &str) -> String {
    HASHED.iter().find(|(_, a)| a.name == name).map_or_else(String::new, |(served, _)| format!("{PREFIX}{served}"))
}

/// `GET /assets/{file}`: only the hashed names exist; each is immutable.
pub(super) async fn serve(file: web::Path<String>) -> HttpResponse {
    match HASHED.iter().find(|(served, _)| *served == *file) {
        Some((_, asset)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")))
            .body(asset.bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_hashed_url_that_serves_it() {
        let urls = &*URLS;
        for u in [
            &urls.css,
            &urls.inbox_css,
            &urls.conversation_css,
            &urls.js,
            &urls.inbox_js,
            &urls.conversation_js,
            &urls.admin_css,
            &urls.admin_js,
            &urls.reports_css,
            &urls.htmx,
            &urls.htmx_sse,
        ] {
            let name = u.strip_prefix(PREFIX).unwrap_or_default();
            assert!(HASHED.iter().any(|(served, _)| served == name), "{u}");
            assert_eq!(name.matches('.').count(), 2, "{u}: stem.hash.ext");
        }
    }
}
