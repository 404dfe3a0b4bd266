//! Contacts for the CRM view: the name agents give them and custom attributes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use switchboard_domain::{ContactId, WaId};
use switchboard_store::{
    Contact, ContactPatch, ContactPatchOutcome, ContactQuery, ContactStore, MAX_CONTACT_ATTRIBUTES, Page, Result,
    StoreError, Visibility, merge_attributes, page_size,
};
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::DbResultExt;
use crate::nul::{json, text};
use crate::rows::{corrupt, ms, time};
use crate::views::{fts_phrase, push_visibility};

const CONTACT: &str =
    "SELECT ct.id, ct.wa_id, ct.profile_name, ct.name, ct.attributes, ct.created_at, ct.updated_at FROM contacts ct ";

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: Uuid,
    wa_id: String,
    profile_name: Option<String>,
    name: Option<String>,
    attributes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;
    fn try_from(r: ContactRow) -> Result<Self> {
        Ok(Self {
            id: ContactId::from_uuid(r.id),
            wa_id: WaId::parse(&r.wa_id).map_err(corrupt)?,
            profile_name: r.profile_name,
            name: r.name,
            attributes: serde_json::from_str::<Map<String, Value>>(&r.attributes)
                .map_err(|e| corrupt(format!("contact attributes: {e}")))?,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

async fn contact_row(conn: &mut SqliteConnection, id: ContactId) -> Result<Option<ContactRow>> {
    sqlx::query_as(&format!("{CONTACT}WHERE ct.id = ?1")).bind(id.as_uuid()).fetch_optional(conn).await.db()
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn contacts(&self, q: &ContactQuery) -> Result<Page<Contact, ContactId>> {
        let limit = page_size(q.limit);
        let mut qb = QueryBuilder::<Sqlite>::new(CONTACT);
        qb.push("WHERE 1 = 1");
        if let Visibility::Agent(_) = q.viewer {
            qb.push(" AND EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = ct.id");
            push_visibility(&mut qb, q.viewer);
            qb.push(")");
        }
        if let Some(search) = &q.search {
            self.index_search().await?;
            qb.push(" AND ct.rowid IN (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ");
            qb.push_bind(fts_phrase(search)).push(")");
        }
        if let Some(after) = q.after {
            qb.push(" AND ct.id < ").push_bind(*after.as_uuid());
        }
        qb.push(" ORDER BY ct.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Contact>>>()?;
        Ok(Page::from_fetch(items, limit, |c| c.id))
    }

    async fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        let mut conn = self.pool().acquire().await.db()?;
        contact_row(&mut conn, id).await?.map(TryInto::try_into).transpose()
    }

    async fn may_see_contact(&self, viewer: Visibility, id: ContactId) -> Result<bool> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT EXISTS (");
        match viewer {
            Visibility::All => {
                qb.push("SELECT 1 FROM contacts WHERE id = ").push_bind(*id.as_uuid());
            }
            Visibility::Agent(_) => {
                qb.push("SELECT 1 FROM conversations c WHERE c.contact_id = ").push_bind(*id.as_uuid());
                push_visibility(&mut qb, viewer);
            }
        }
        qb.push(")");
        qb.build_query_scalar().fetch_one(self.pool()).await.db()
    }

    async fn update_contact(
        &self,
        id: ContactId,
        patch: &ContactPatch,
        at: DateTime<Utc>,
    ) -> Result<ContactPatchOutcome> {
        let mut w = self.begin_write().await?;
        let conn = w.conn();
        let Some(before) = contact_row(&mut *conn, id).await?.map(Contact::try_from).transpose()? else {
            return Ok(ContactPatchOutcome::NotFound);
        };
        let attributes = merge_attributes(&before.attributes, &patch.attributes);
        if attributes.len() > MAX_CONTACT_ATTRIBUTES {
            return Ok(ContactPatchOutcome::TooManyAttributes { count: attributes.len() });
        }
        let name = match &patch.name {
            None => before.name.clone(),
            Some(n) => n.as_deref().map(|n| text(n).into_owned()),
        };
        sqlx::query("UPDATE contacts SET name = ?2, attributes = ?3, updated_at = ?4 WHERE id = ?1")
            .bind(id.as_uuid())
            .bind(name)
            .bind(json(&attributes)?)
            .bind(ms(at))
            .execute(&mut *conn)
            .await
            .db()?;
        let after = contact_row(&mut *conn, id).await?.ok_or(StoreError::NotFound)?.try_into()?;
        w.commit().await?;
        Ok(ContactPatchOutcome::Updated(after))
    }
}
