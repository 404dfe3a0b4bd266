//! Contacts for the CRM view (`switchboard_store_sql::contacts`); here, the search.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchboard_store::Result;

use crate::SqliteStore;
use crate::nul::{json, text};
use crate::views::{fts_phrase, push_visibility};

switchboard_store_sql::contact_store!(crate::SqliteStore, SqliteConnection, Sqlite);

/// The write gate keeps the contact from changing between the read and the update.
const FOR_UPDATE: &str = "";

impl SqliteStore {
    /// Contacts (`sct`) whose number, profile name or name contains `search`.
    async fn push_contact_search(&self, qb: &mut QueryBuilder<'_, Sqlite>, search: &str) -> Result<()> {
        self.index_search().await?;
        qb.push(" AND sct.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ");
        qb.push_bind(fts_phrase(search)).push(")");
        Ok(())
    }
}
