//! Visibility, checked where a route's path names something an agent may not see.
//!
//! A handler that takes a conversation, message, note or contact by the `{id}` of its
//! path takes one of these extractors instead of the raw path and the caller: extracting
//! it authenticates (401), parses the id (404 for one that cannot exist) and checks that
//! the caller may see it (404 otherwise, as if it did not exist), before the handler
//! runs. The rule is the queue's (`switchboard_store::Visibility`): admins see
//! everything; an agent the conversations assigned to them and those of channels routed
//! to one of their teams or to no team, and the contacts and messages of those.
//!
//! `tests/api/visibility.rs` calls every registered route with an id in its path as an
//! agent who may not see it; a route that is not covered there fails that test.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use switchboard_domain::{AgentRole, ContactId, ConversationId, MessageId};
use switchboard_store::{MessageView, Note, NoteId, Visibility};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;
use crate::extract::{self, PathId};

type Guarded<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// What the caller may see: admins everything, agents by the queue's rule.
pub(crate) fn viewer(agent: &AuthenticatedAgent) -> Visibility {
    if agent.0.role == AgentRole::Admin { Visibility::All } else { Visibility::Agent(agent.0.id) }
}

/// A conversation the caller may see, named by the path's `{id}`.
pub struct VisibleConversation {
    pub id: ConversationId,
    pub agent: AuthenticatedAgent,
}

/// A message of a conversation the caller may see, named by the path's `{id}`.
pub struct VisibleMessage {
    pub message: MessageView,
}

/// A contact of a conversation the caller may see (admins: any), named by the path's `{id}`.
pub struct VisibleContact {
    pub id: ContactId,
    pub agent: AuthenticatedAgent,
}

/// A note, `{note_id}`, of a conversation the caller may see, `{id}`.
pub struct VisibleNote {
    pub note: Note,
    pub agent: AuthenticatedAgent,
}

/// The path segment `name` (trimmed) as an id; one that cannot be an id names nothing.
fn path_id<T: PathId>(req: &HttpRequest, name: &str) -> Result<T, ApiError> {
    req.match_info().get(name).map_or(Err(ApiError::NotFound { what: T::WHAT }), |raw| extract::parse(raw.trim()))
}

/// Authenticates, then runs `check` with the state and the caller.
fn guard<T, F, Fut>(req: &HttpRequest, payload: &mut Payload, check: F) -> Guarded<T>
where
    T: 'static,
    F: FnOnce(web::Data<AppState>, AuthenticatedAgent) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let agent = AuthenticatedAgent::from_request(req, payload);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    Box::pin(async move {
        let agent = agent.await?;
        // Authentication needs the state too, so it is there.
        let state = state.ok_or(ApiError::Unauthorized)?;
        check(state, agent).await
    })
}

async fn conversation_visible(
    state: &AppState,
    agent: &AuthenticatedAgent,
    id: Result<ConversationId, ApiError>,
) -> Result<ConversationId, ApiError> {
    let id = id?;
    if state.store.may_see_conversation(viewer(agent), id).await? {
        Ok(id)
    } else {
        Err(ApiError::NotFound { what: "conversation" })
    }
}

impl FromRequest for VisibleConversation {
    type Error = ApiError;
    type Future = Guarded<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let id = path_id::<ConversationId>(req, "id");
        guard(req, payload, move |state, agent| async move {
            let id = conversation_visible(&state, &agent, id).await?;
            Ok(Self { id, agent })
        })
    }
}

impl FromRequest for VisibleMessage {
    type Error = ApiError;
    type Future = Guarded<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let id = path_id::<MessageId>(req, "id");
        guard(req, payload, move |state, agent| async move {
            let not_found = || ApiError::NotFound { what: "message" };
            let message = state.store.message(id?).await?.ok_or_else(not_found)?;
            if !state.store.may_see_conversation(viewer(&agent), message.conversation_id).await? {
                return Err(not_found());
            }
            Ok(Self { message })
        })
    }
}

impl FromRequest for VisibleContact {
    type Error = ApiError;
    type Future = Guarded<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let id = path_id::<ContactId>(req, "id");
        guard(req, payload, move |state, agent| async move {
            let id = id?;
            if state.store.may_see_contact(viewer(&agent), id).await? {
                Ok(Self { id, agent })
            } else {
                Err(ApiError::NotFound { what: "contact" })
            }
        })
    }
}

impl FromRequest for VisibleNote {
    type Error = ApiError;
    type Future = Guarded<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let conversation = path_id::<ConversationId>(req, "id");
        let id = path_id::<NoteId>(req, "note_id");
        guard(req, payload, move |state, agent| async move {
            let conversation = conversation_visible(&state, &agent, conversation).await?;
            match state.store.note(id?).await? {
                Some(note) if note.conversation_id == conversation => Ok(Self { note, agent }),
                _ => Err(ApiError::NotFound { what: "note" }),
            }
        })
    }
}
