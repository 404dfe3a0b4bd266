//! `GET /live`: the console's live stream. The same subscription as `GET /api/v1/events`
//! (`routes::events::stream`: the process's one `LiveHub`, the same visibility and
//! access re-checks, resuming with `Last-Event-ID`); only the frames differ, shaped for
//! htmx's SSE extension. Per event the agent may see:
//!
//! ```text
//! id: 42
//! event: inbox
//! data: <conversation id>
//!
//! id: 42
//! event: c-<conversation id>
//! data: <kind>                  (message_created, message_status, assignment_changed…)
//! ```
//!
//! and, for a message from the customer, a third, `event: inbound` (data: the
//! conversation id), which the inbox counts in the tab title while the tab is hidden.
//! Elements react with `hx-trigger="sse:inbox"` or `hx-trigger="sse:c-<id>"`. The data
//! holds ids and kinds only, never personal data.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use switchboard_core::LiveItem;
use switchboard_domain::Direction;
use switchboard_store::InboxEventKind;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::console::{ConsoleError, Page};
use crate::routes::events::{resume_point, stream};

/// `GET /live` (`?last_event_id=` for clients that cannot set the header).
pub(super) async fn live(
    Page(caller): Page<AuthenticatedAgent>,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let from_query = query.iter().find(|(k, _)| k == "last_event_id").map(|(_, v)| v.as_str());
    let resume = resume_point(&req, from_query)?;
    Ok(stream(&state, &caller, resume, frame).await?)
}

/// The console's frames for one item of the stream.
fn frame(item: &LiveItem) -> Bytes {
    match item {
        LiveItem::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
        LiveItem::Event(ev) => {
            let (id, c) = (ev.id, ev.conversation_id);
            let mut out = format!("id: {id}\nevent: inbox\ndata: {c}\n\nid: {id}\nevent: c-{c}\ndata: {}\n\n", ev.kind);
            if ev.kind == InboxEventKind::MessageCreated
                && ev.data.get("direction").and_then(|d| d.as_str()) == Some(Direction::Inbound.as_str())
            {
                out.push_str(&format!("id: {id}\nevent: inbound\ndata: {c}\n\n"));
            }
            Bytes::from(out)
        }
    }
}
