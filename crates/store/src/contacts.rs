//! Contacts as the CRM view shows them: WhatsApp's profile, the name agents gave them,
//! and custom attributes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use switchboard_domain::{ContactId, WaId};

use crate::{Page, Result, Visibility};

pub use switchboard_domain::{MAX_CONTACT_ATTRIBUTES, merge_attributes};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub wa_id: WaId,
    /// The name in their WhatsApp profile (the latest Meta sent).
    pub profile_name: Option<String>,
    /// The name agents gave them; shown instead of the profile name.
    pub name: Option<String>,
    /// Custom attributes: string, number or boolean values.
    pub attributes: Map<String, Value>,
    /// Opted out of automatic messages and templates since then (`None`: opted in).
    pub opted_out_at: Option<DateTime<Utc>>,
    /// Who opted them out.
    pub opted_out_source: Option<switchboard_domain::consent::ConsentSource>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Changes to a contact, already validated.
#[derive(Clone, Debug, Default)]
pub struct ContactPatch {
    /// `Some(None)` clears the name (the profile name shows again).
    pub name: Option<Option<String>>,
    /// A JSON merge patch of the attributes: a `null` value deletes the key.
    pub attributes: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactPatchOutcome {
    Updated(Contact),
    NotFound,
    /// The patch would leave more than [`MAX_CONTACT_ATTRIBUTES`]; nothing changed.
    TooManyAttributes {
        count: usize,
    },
}

/// Contacts are listed newest first (by id, which is time-ordered).
#[derive(Clone, Debug)]
pub struct ContactQuery {
    /// Agents see the contacts of the conversations they may see.
    pub viewer: Visibility,
    /// Case-insensitive substring of the name, profile name or wa_id; at least
    /// `MIN_SEARCH_CHARS` characters.
    pub search: Option<String>,
    /// 1..=500
    pub limit: u32,
    pub after: Option<ContactId>,
}

#[async_trait]
pub trait ContactStore: Send + Sync {
    async fn contacts(&self, q: &ContactQuery) -> Result<Page<Contact, ContactId>>;

    async fn contact(&self, id: ContactId) -> Result<Option<Contact>>;

    /// Several contacts by id, in one statement per [`crate::ID_LIST_CHUNK`] ids; those
    /// that do not exist are absent.
    async fn contacts_by_ids(&self, ids: &[ContactId]) -> Result<std::collections::HashMap<ContactId, Contact>>;

    /// The contact with this WhatsApp number, if any (numbers are unique).
    async fn contact_by_wa_id(&self, wa_id: &WaId) -> Result<Option<Contact>>;

    /// Whether the contact exists and `viewer` may see it (admins: every contact; agents:
    /// those with a conversation they may see).
    async fn may_see_contact(&self, viewer: Visibility, id: ContactId) -> Result<bool>;

    /// Applies the patch in one transaction (the attribute limit is checked on the
    /// result).
    async fn update_contact(
        &self,
        id: ContactId,
        patch: &ContactPatch,
        at: DateTime<Utc>,
    ) -> Result<ContactPatchOutcome>;
}
