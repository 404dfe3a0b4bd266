//! Typed edges: the ids a route's path names, and who may call it.
//!
//! A handler takes [`Caller<P>`] (any agent) or [`Admin<P>`] (admins only), both an
//! [`Authorized<R, P>`], instead of the caller and a raw `web::Path<String>`: `P` is the
//! path's ids, one [`PathId`] or a pair of them (or a [`FromPath`] of the handler's own).
//! Extracting it answers, in this order, 401 without a valid token, 403 for a caller who
//! is not an admin (`Admin` only), and 404 for a segment that cannot be an id of its type
//! (`"{what} not found"`, [`PathId::WHAT`]), before the handler runs: as the handlers
//! did when they parsed the path themselves after authenticating, so a malformed id
//! never hides a missing token or a 403. [`PathAfter<A, P>`] does the same after any
//! other extractor `A` (a visibility guard, say), and [`Later<T>`] leaves a segment's
//! 404 to the handler, after checks of its own.
//!
//! Ids are parsed by one function, [`parse`], which `crate::guard` uses too.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use switchboard_domain::{
    AgentId, ChannelId, ContactId, ConversationId, ErasureId, JobId, LabelId, LinkId, MessageId, NoteId, QuickReplyId,
    RuleId, SessionId, TeamId, TokenId, WebhookEndpointId,
};

use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;

/// An id that a path segment names; one that does not parse names nothing: 404
/// `"{WHAT} not found"`.
pub trait PathId: FromStr {
    /// What the id names, for the 404 (`"team"`, `"quick reply"`).
    const WHAT: &'static str;
}

macro_rules! path_ids {
    ($($id:ty => $what:literal),+ $(,)?) => {
        $(impl PathId for $id {
            const WHAT: &'static str = $what;
        })+
    };
}

path_ids! {
    AgentId => "agent",
    ChannelId => "channel",
    ContactId => "contact",
    ConversationId => "conversation",
    ErasureId => "erasure",
    JobId => "dead or failed outbox entry",
    LabelId => "label",
    LinkId => "link",
    MessageId => "message",
    NoteId => "note",
    QuickReplyId => "quick reply",
    RuleId => "rule",
    SessionId => "session",
    TeamId => "team",
    TokenId => "token",
    WebhookEndpointId => "webhook endpoint",
}

/// A path segment as a `T`; one that is not a `T` names nothing (404).
pub fn parse<T: PathId>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound { what: T::WHAT })
}

/// An id whose 404 waits until the handler asks for it ([`Later::get`]), after checks of
/// its own that must answer first (a 403, say).
pub struct Later<T>(Result<T, ApiError>);

impl<T> Later<T> {
    /// The id, or the 404 of a malformed one.
    pub fn get(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: PathId> FromStr for Later<T> {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self(parse(raw)))
    }
}

impl<T: PathId> PathId for Later<T> {
    const WHAT: &'static str = T::WHAT;
}

/// What a route's path names, read from its segments (percent-decoded as `web::Path`
/// decodes them), in the order the route declares them.
pub trait FromPath: Sized {
    /// Parses the segments; a malformed one is a 404.
    fn from_segments(segments: &[String]) -> Result<Self, ApiError>;
}

/// A path that names nothing the handler needs.
impl FromPath for () {
    fn from_segments(_: &[String]) -> Result<Self, ApiError> {
        Ok(())
    }
}

/// One id: the path's last segment (its only one, in a path with one).
impl<T: PathId> FromPath for T {
    fn from_segments(segments: &[String]) -> Result<Self, ApiError> {
        parse(segments.last().ok_or(ApiError::NotFound { what: "resource" })?)
    }
}

/// Two ids, in the order of the path, parsed in that order.
impl<A: PathId, B: PathId> FromPath for (A, B) {
    fn from_segments(segments: &[String]) -> Result<Self, ApiError> {
        match segments {
            [a, b, ..] => Ok((parse(a)?, parse(b)?)),
            _ => Err(ApiError::NotFound { what: "resource" }),
        }
    }
}

/// The request's path segments, decoded; a path that does not decode names nothing.
fn segments(req: &HttpRequest) -> Result<Vec<String>, ApiError> {
    req.match_info().load::<Vec<String>>().map_err(|_| ApiError::NotFound { what: "resource" })
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// `A`, then the path's ids `P`: `A`'s error wins over a malformed id.
pub struct PathAfter<A, P> {
    pub first: A,
    pub path: P,
}

impl<A, P> FromRequest for PathAfter<A, P>
where
    A: FromRequest<Error = ApiError> + 'static,
    P: FromPath + 'static,
{
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let first = A::from_request(req, payload);
        let path = segments(req).and_then(|s| P::from_segments(&s));
        Box::pin(async move {
            let first = first.await?;
            Ok(Self { first, path: path? })
        })
    }
}

/// Who may call a route: checked on the authenticated agent, before the path is.
pub trait Role {
    fn check(agent: &AuthenticatedAgent) -> Result<(), ApiError>;
}

/// Any agent.
pub struct AnyAgent;

impl Role for AnyAgent {
    fn check(_: &AuthenticatedAgent) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Admins only (403 for any other agent).
pub struct AdminOnly;

impl Role for AdminOnly {
    fn check(agent: &AuthenticatedAgent) -> Result<(), ApiError> {
        agent.require_admin()
    }
}

/// An authenticated agent in role `R` and the path's ids `P`: 401 without a valid token,
/// then `R`'s 403, then 404 for a malformed id. Named [`Caller`] and [`Admin`].
pub struct Authorized<R, P> {
    pub agent: AuthenticatedAgent,
    pub path: P,
    role: PhantomData<R>,
}

/// Any authenticated agent, and the path's ids `P`.
pub type Caller<P = ()> = Authorized<AnyAgent, P>;

/// An authenticated admin, and the path's ids `P`.
pub type Admin<P = ()> = Authorized<AdminOnly, P>;

/// The authenticated agent, if in role `R`.
struct InRole<R>(AuthenticatedAgent, PhantomData<R>);

impl<R: Role + 'static> FromRequest for InRole<R> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let agent = AuthenticatedAgent::from_request(req, payload);
        Box::pin(async move {
            let agent = agent.await?;
            R::check(&agent)?;
            Ok(Self(agent, PhantomData))
        })
    }
}

impl<R: Role + 'static, P: FromPath + 'static> FromRequest for Authorized<R, P> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = PathAfter::<InRole<R>, P>::from_request(req, payload);
        Box::pin(async move {
            let PathAfter { first: InRole(agent, _), path } = inner.await?;
            Ok(Self { agent, path, role: PhantomData })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn segs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_malformed_id_names_nothing_of_its_kind() {
        let id = TeamId::new();
        assert_eq!(TeamId::from_segments(&segs(&[&id.to_string()])).unwrap(), id);
        for bad in ["", "x", " 0190a3a4-0000-7000-8000-000000000000"] {
            let e = TeamId::from_segments(&segs(&[bad])).unwrap_err();
            assert!(matches!(e, ApiError::NotFound { what: "team" }), "{bad:?}: {e:?}");
        }
        let e = QuickReplyId::from_segments(&segs(&["x"])).unwrap_err();
        assert!(matches!(e, ApiError::NotFound { what: "quick reply" }), "{e:?}");
    }

    #[test]
    fn ids_are_read_in_path_order_and_one_is_the_last() {
        let (team, agent) = (TeamId::new(), AgentId::new());
        let s = segs(&[&team.to_string(), &agent.to_string()]);
        assert_eq!(<(TeamId, AgentId)>::from_segments(&s).unwrap(), (team, agent));
        assert_eq!(AgentId::from_segments(&s).unwrap(), agent);
        let e = <(TeamId, AgentId)>::from_segments(&segs(&["x", "y"])).unwrap_err();
        assert!(matches!(e, ApiError::NotFound { what: "team" }), "{e:?}");
        let e = <(TeamId, AgentId)>::from_segments(&segs(&[&team.to_string(), "y"])).unwrap_err();
        assert!(matches!(e, ApiError::NotFound { what: "agent" }), "{e:?}");
        assert!(<(TeamId, AgentId)>::from_segments(&segs(&[&team.to_string()])).is_err());
    }
}
