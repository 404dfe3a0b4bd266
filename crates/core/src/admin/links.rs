//! Click-to-chat links: which channel a new one is for, creating one (generating its slug
//! and reference code, again on a collision), and changing one.

use chrono::Utc;
use switchboard_domain::link::{RefCode, Slug};
use switchboard_domain::{ChannelId, LinkId};
use switchboard_store::{Link, LinkPatch, NewLink, StoreError};

use super::{AdminError, Config};

/// How many times a generated slug or reference code is drawn again on a collision.
const GENERATE_ATTEMPTS: usize = 8;

/// 128 random bits laid out as a version-4 UUID's (as links have always drawn them).
#[must_use]
pub fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// Another link has this ad source id.
fn ad_source_taken() -> AdminError {
    AdminError::Conflict { what: "a link for this ad source id" }
}

impl Config<'_> {
    /// The channel a new link is for: the one named (invalid `channel_id` if none has
    /// that id), or the only one.
    pub async fn link_channel(&self, raw: Option<&str>) -> Result<ChannelId, AdminError> {
        let channels = self.store.channels().await?;
        match raw {
            Some(raw) => raw
                .trim()
                .parse::<ChannelId>()
                .ok()
                .filter(|id| channels.iter().any(|c| c.id == *id))
                .ok_or_else(|| AdminError::invalid("channel_id", "no channel has this id")),
            None => match channels.as_slice() {
                [only] => Ok(only.id),
                [] => Err(AdminError::invalid(
                    "channel_id",
                    "no channel is configured yet: set SWITCHBOARD_PHONE_NUMBER_ID and restart",
                )),
                _ => Err(AdminError::invalid("channel_id", "there are several channels: name one")),
            },
        }
    }

    /// Creates a link; its reference code, and its slug unless `given_slug`, were
    /// generated (with [`random_bytes`]): one that collides is drawn again (a few times).
    pub async fn create_link(&self, mut new: NewLink, given_slug: bool) -> Result<Link, AdminError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.store.create_link(&new).await {
                Ok(link) => return Ok(link),
                Err(StoreError::Conflict { what: "link reference code" }) if attempts < GENERATE_ATTEMPTS => {
                    new.ref_code = RefCode::generate(random_bytes());
                }
                Err(StoreError::Conflict { what: "link slug" }) if !given_slug && attempts < GENERATE_ATTEMPTS => {
                    new.slug = Slug::generate(random_bytes());
                }
                Err(StoreError::Conflict { what: "link slug" }) => {
                    return Err(AdminError::Conflict { what: "a link with this slug" });
                }
                Err(StoreError::Conflict { what: "link ad source id" }) => return Err(ad_source_taken()),
                // A label deleted meanwhile.
                Err(StoreError::NotFound) => return Err(AdminError::invalid("labels", "a label no longer exists")),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Changes a link (its text, campaign, source, tags, labels, ad source id, state).
    pub async fn update_link(&self, id: LinkId, patch: &LinkPatch) -> Result<Link, AdminError> {
        self.store.update_link(id, patch, Utc::now()).await.map_err(|e| match e {
            StoreError::Conflict { what: "link ad source id" } => ad_source_taken(),
            e => AdminError::not_found("link")(e),
        })
    }
}
