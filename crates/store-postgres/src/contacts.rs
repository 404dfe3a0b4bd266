//! Contacts for the CRM view (`switchboard_store_sql::contacts`); here, the search.

use sqlx::{PgConnection, Postgres, QueryBuilder};
use switchboard_store::Result;

use crate::PgStore;
use crate::nul::{json, text};
use crate::views::{CONTACT_SEARCH_TEXT, like_pattern, push_visibility};

switchboard_store_sql::contact_store!(crate::PgStore, PgConnection, Postgres);

/// A contact read before an update is locked until the update commits.
const FOR_UPDATE: &str = " FOR UPDATE";

impl PgStore {
    /// Contacts (`sct`) whose number, profile name or name contains `search` (served by
    /// the `contacts_search_trgm` index).
    #[allow(clippy::unused_async)]
    async fn push_contact_search(&self, qb: &mut QueryBuilder<'_, Postgres>, search: &str) -> Result<()> {
        qb.push(" AND ").push(CONTACT_SEARCH_TEXT).push(" ILIKE ").push_bind(like_pattern(search));
        Ok(())
    }
}
