//! Erasure and retention (`switchboard_store_sql::erasure`). PostgreSQL keeps the old
//! versions of updated and deleted rows as dead tuples until VACUUM reclaims them; they
//! are not readable through SQL (docs/architecture.md, "Privacy").

use switchboard_store::Result;

use crate::PgStore;

switchboard_store_sql::erasure_store!(crate::PgStore, sqlx::PgConnection, sqlx::Postgres);

/// The content of a message without its media id.
const REMOVE_MEDIA_REF: &str = "content - 'id'";

impl PgStore {
    #[allow(clippy::unused_async)]
    async fn compact(&self) -> Result<()> {
        Ok(())
    }
}
