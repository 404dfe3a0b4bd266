//! Live updates: `GET /api/v1/events`, server-sent events (`text/event-stream`).
//!
//! Each event is
//!
//! ```text
//! id: 42
//! event: message_created
//! data: {"id":42,"kind":"message_created","conversation_id":"…","channel_id":"…",…}
//! ```
//!
//! `data` holds ids, kinds and states, never message text or contact details (fetch
//! those through the API): `id`, `kind`, `at`, `conversation_id`, `channel_id`,
//! `team_id`, `assignee_id` (after the change), and by kind
//! - `message_created`: `message_id`, `direction`, `type`, `state`, `sent_by` (the agent;
//!   `null` for the customer and auto-replies);
//! - `message_status`: `message_id`, `state`, `previous_state`, `error_code`;
//! - `conversation_created`: `status`;
//! - `conversation_status`: `status`, `previous_status`;
//! - `assignment_changed`: `previous_assignee_id`;
//! - `label_added`: `label_id`, `added_by`; `label_removed`: `label_id`.
//! - `note_created`: `note_id`, `author_id`;
//! - `team_changed`: `previous_team_id` (the conversation was transferred; `team_id` is
//!   its new effective team);
//! - `csat_answered`: `score`, `scale`, `previous_score`, `comment` (whether there is one);
//! - `sla_warning`, `sla_breached`: `target` (`first_response`, `resolution`), `due_at`
//!   (an SLA target falls due within its policy's warning time, or passed it; each fired
//!   once per target by the scheduler).
//!
//! A client that reconnects with `Last-Event-ID` (header; or `?last_event_id=` for
//! clients that cannot set headers) gets every event after it that it may see, then the
//! live ones, with nothing missed or repeated; without it, the stream starts now.
//! Events are kept `events.retention_days`. A comment line (`: keep-alive`) is sent when
//! the stream has been quiet for `events.keep_alive_ms`. Streams end when the server
//! shuts down (clients reconnect, to this or another instance, with their last id).
//! An agent receives only the events of conversations they may see (as in the queue),
//! and the `team_changed` that took a conversation away from their team.
//! A stream also ends within seconds (`switchboard_core::live::ACCESS_RECHECK`) of its
//! token being revoked, its agent deactivated, or the agent losing a team or the admin
//! role.

use std::convert::Infallible;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_core::{LiveItem, Subscription};
use switchboard_store::{InboxEvent, InboxEventKind};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;

routes! {
    "/events" => { get: events },
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsParams {
    /// For clients that cannot set the `Last-Event-ID` header (the header wins).
    #[param(value_type = Option<i64>, minimum = 0)]
    last_event_id: Option<String>,
}

/// One event of the stream as an SSE client reads it (in OpenAPI 3.1 the schema of a
/// `text/event-stream` answer describes each event). Keep-alive comments are not events.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes what `frame` writes; never built.
struct ServerSentEvent {
    /// The event's id, to resume after it (`Last-Event-ID`).
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    /// The event's kind, as `kind` in `data`.
    event: String,
    /// One line of JSON: the event's ids, kind and states.
    data: String,
}

/// What the stream's 200 answer says.
const STREAM_DESCRIPTION: &str = "A stream of server-sent events, one per change the caller may see:\n\n\
```text\nid: 42\nevent: message_created\ndata: {\"id\":42,\"kind\":\"message_created\",…}\n```\n\n\
`data` is one line of JSON holding ids, kinds and states (never message text or contact details): \
`id`, `kind`, `at`, `conversation_id`, `channel_id`, `team_id`, `assignee_id` (after the change), and by kind\n\
- `message_created`: `message_id`, `direction`, `type`, `state`, `sent_by` (the agent; `null` for the customer and auto-replies);\n\
- `message_status`: `message_id`, `state`, `previous_state`, `error_code`;\n\
- `conversation_created`: `status`;\n\
- `conversation_status`: `status`, `previous_status`;\n\
- `assignment_changed`: `previous_assignee_id`;\n\
- `label_added`: `label_id`, `added_by`; `label_removed`: `label_id`;\n\
- `note_created`: `note_id`, `author_id`;\n\
- `team_changed`: `previous_team_id` (the conversation was transferred; `team_id` is its new effective team);\n\
- `csat_answered`: `score`, `scale`, `previous_score`, `comment` (whether there is one);\n\
- `sla_warning`, `sla_breached`: `target` (`first_response`, `resolution`), `due_at` (an SLA target falls due soon, or was missed; once per target).\n\n\
Reconnecting with `Last-Event-ID` resumes after that event with nothing missed or repeated; without it the stream \
starts now. A comment line (`: keep-alive`) is sent when the stream has been quiet for a while.";

/// Where a reconnecting client resumes: the `Last-Event-ID` header wins over the query
/// parameter `query` (both must be valid when given). Shared with the console's `/live`.
pub(crate) fn resume_point(req: &HttpRequest, query: Option<&str>) -> Result<Option<i64>, ApiError> {
    let from_query = event_id(query)?;
    match req.headers().get("last-event-id") {
        Some(v) => event_id(Some(v.to_str().map_err(|_| invalid_last_event_id())?)),
        None => Ok(from_query),
    }
}

/// An event id (empty: none).
fn event_id(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(id) if id >= 0 => Ok(Some(id)),
            _ => Err(invalid_last_event_id()),
        },
    }
}

fn invalid_last_event_id() -> ApiError {
    ApiError::BadRequest {
        code: "invalid_last_event_id",
        detail: "Last-Event-ID must be the id of an event this stream sent (a non-negative integer)".into(),
    }
}

/// Live updates of the inbox, as server-sent events.
#[utoipa::path(get, path = "/events",
    params(
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "The id of the last event received, to resume after it."),
        EventsParams,
    ),
    responses((status = 200, description = STREAM_DESCRIPTION, content_type = "text/event-stream", body = ServerSentEvent)))]
async fn events(
    caller: AuthenticatedAgent,
    req: HttpRequest,
    query: web::Query<EventsParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let resume = resume_point(&req, query.last_event_id.as_deref())?;
    stream(&state, &caller, resume, frame).await
}

/// An open event stream for `caller` from `resume` (`None`: from now on), each item
/// written by `frame`: the API's (`frame`) and the console's (`/live`) share the same
/// subscription, visibility and access re-checks, and differ only in what they write.
pub(crate) async fn stream(
    state: &AppState,
    caller: &AuthenticatedAgent,
    resume: Option<i64>,
    frame: fn(&LiveItem) -> Bytes,
) -> Result<HttpResponse, ApiError> {
    let sub = state.live.subscribe(caller.credential(), resume).await.map_err(|e| match e {
        // Revoked or deactivated in between.
        switchboard_store::StoreError::NotFound => ApiError::Unauthorized,
        other => other.into(),
    })?;
    tracing::debug!(agent_id = %caller.0.id, resume = ?resume, "live stream opened");
    let body = futures_util::stream::unfold(sub, move |mut sub: Subscription| async move {
        match sub.next().await {
            Some(Ok(item)) => Some((Ok::<Bytes, Infallible>(frame(&item)), sub)),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "live stream ended: the database failed");
                None
            }
            None => None,
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies such as nginx must not buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}

/// One SSE frame.
fn frame(item: &LiveItem) -> Bytes {
    match item {
        LiveItem::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
        LiveItem::Event(ev) => {
            // JSON has no raw newlines: one `data:` line.
            let data = event_json(ev);
            Bytes::from(format!("id: {}\nevent: {}\ndata: {data}\n\n", ev.id, ev.kind))
        }
    }
}

/// The event's `data` (see the module documentation).
fn event_json(ev: &InboxEvent) -> Value {
    let mut out: Map<String, Value> = ev.data.clone();
    let fixed = json!({
        "id": ev.id,
        "kind": ev.kind,
        "at": ev.at,
        "conversation_id": ev.conversation_id,
        "channel_id": ev.channel_id,
        "team_id": ev.team_id,
        "assignee_id": ev.assignee_id,
    });
    if let Value::Object(fixed) = fixed {
        out.extend(fixed);
    }
    if let Some(id) = ev.message_id {
        out.insert("message_id".into(), json!(id));
    }
    if let Some(id) = ev.label_id {
        out.insert("label_id".into(), json!(id));
    }
    if let Some(id) = ev.note_id {
        out.insert("note_id".into(), json!(id));
    }
    let agent_field = match ev.kind {
        InboxEventKind::MessageCreated => Some("sent_by"),
        InboxEventKind::AssignmentChanged => Some("previous_assignee_id"),
        InboxEventKind::LabelAdded => Some("added_by"),
        InboxEventKind::NoteCreated => Some("author_id"),
        _ => None,
    };
    if let Some(field) = agent_field {
        out.insert(field.into(), json!(ev.agent_id));
    }
    Value::Object(out)
}
