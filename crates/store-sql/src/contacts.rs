//! Contacts for the CRM view, the name agents give them and custom attributes: the same
//! SQL in both dialects but the search and the row lock of an update.

/// Expands, in a backend's `contacts` module, to `ContactStore` for `$store` (whose
/// connection is `$conn`, database `$db`). The module provides `FOR_UPDATE` (the row
/// lock clause of a read before an update, if any), an inherent
/// `push_contact_search(&self, qb, search)` (contacts `sct` matching `search`),
/// `push_visibility`, and `nul`'s `text` and `json`.
#[macro_export]
macro_rules! contact_store {
    ($store:ty, $conn:ty, $db:ty) => {
        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use serde_json::{Map, Value};
            use sqlx::QueryBuilder;
            use sqlx::types::Json;
            use switchboard_domain::{ContactId, WaId};
            use switchboard_store::{
                Contact, ContactPatch, ContactPatchOutcome, ContactQuery, ContactStore, MAX_CONTACT_ATTRIBUTES, Page, Result,
                StoreError, Visibility, merge_attributes, page_size,
            };
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts};

            /// Aliased `sct` so the search expression matches the index's.
            const CONTACT: &str = "SELECT sct.id, sct.wa_id, sct.profile_name, sct.name, sct.attributes, sct.created_at, \
                   sct.updated_at, sct.opted_out_at, sct.opted_out_source FROM contacts sct ";

            #[derive(sqlx::FromRow)]
            struct ContactRow {
                id: Uuid,
                wa_id: String,
                profile_name: Option<String>,
                name: Option<String>,
                attributes: Json<Value>,
                created_at: Ts,
                updated_at: Ts,
                opted_out_at: Option<Ts>,
                opted_out_source: Option<String>,
            }

            impl TryFrom<ContactRow> for Contact {
                type Error = StoreError;
                fn try_from(r: ContactRow) -> Result<Self> {
                    let Value::Object(attributes) = r.attributes.0 else {
                        return Err(corrupt("contact attributes are not an object"));
                    };
                    Ok(Self {
                        id: ContactId::from_uuid(r.id),
                        wa_id: WaId::parse(&r.wa_id).map_err(corrupt)?,
                        profile_name: r.profile_name,
                        name: r.name,
                        attributes,
                        opted_out_at: r.opted_out_at.map(|t| t.0),
                        opted_out_source: r
                            .opted_out_source
                            .map(|s| {
                                switchboard_domain::consent::ConsentSource::parse(&s)
                                    .ok_or_else(|| corrupt(format!("consent source {s:?}")))
                            })
                            .transpose()?,
                        created_at: r.created_at.0,
                        updated_at: r.updated_at.0,
                    })
                }
            }

            async fn contact_row(conn: &mut $conn, id: ContactId, lock: bool) -> Result<Option<ContactRow>> {
                let sql = format!("{CONTACT}WHERE sct.id = $1{}", if lock { FOR_UPDATE } else { "" });
                sqlx::query_as(&sql).bind(id.as_uuid()).fetch_optional(conn).await.db()
            }

            #[$crate::reexport::async_trait]
            impl ContactStore for $store {
                async fn contacts(&self, q: &ContactQuery) -> Result<Page<Contact, ContactId>> {
                    let limit = page_size(q.limit);
                    let mut qb = QueryBuilder::<$db>::new(CONTACT);
                    qb.push("WHERE 1 = 1");
                    if let Visibility::Agent(_) = q.viewer {
                        qb.push(" AND EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = sct.id");
                        push_visibility(&mut qb, q.viewer);
                        qb.push(")");
                    }
                    if let Some(search) = &q.search {
                        self.push_contact_search(&mut qb, search).await?;
                    }
                    if let Some(after) = q.after {
                        qb.push(" AND sct.id < ").push_bind(*after.as_uuid());
                    }
                    qb.push(" ORDER BY sct.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<Contact>>>()?;
                    Ok(Page::from_fetch(items, limit, |c| c.id))
                }

                async fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    contact_row(&mut conn, id, false).await?.map(TryInto::try_into).transpose()
                }

                async fn contacts_by_ids(&self, ids: &[ContactId]) -> Result<std::collections::HashMap<ContactId, Contact>> {
                    let mut out = std::collections::HashMap::with_capacity(ids.len());
                    for chunk in ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let uuids: Vec<Uuid> = chunk.iter().map(|id| *id.as_uuid()).collect();
                        let mut qb = QueryBuilder::<$db>::new(format!("{CONTACT}WHERE sct.id IN "));
                        $crate::ids::push_ids(&mut qb, &uuids);
                        let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                        for row in rows {
                            let c = Contact::try_from(row)?;
                            out.insert(c.id, c);
                        }
                    }
                    Ok(out)
                }

                async fn contact_by_wa_id(&self, wa_id: &WaId) -> Result<Option<Contact>> {
                    let sql = format!("{CONTACT}WHERE sct.wa_id = $1");
                    let row: Option<ContactRow> =
                        sqlx::query_as(&sql).bind(wa_id.as_str()).fetch_optional(self.pool()).await.db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn may_see_contact(&self, viewer: Visibility, id: ContactId) -> Result<bool> {
                    let mut qb = QueryBuilder::<$db>::new("SELECT EXISTS (");
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
                    let Some(before) = contact_row(w.conn(), id, true).await?.map(Contact::try_from).transpose()? else {
                        return Ok(ContactPatchOutcome::NotFound);
                    };
                    let attributes: Map<String, Value> = merge_attributes(&before.attributes, &patch.attributes);
                    if attributes.len() > MAX_CONTACT_ATTRIBUTES {
                        return Ok(ContactPatchOutcome::TooManyAttributes { count: attributes.len() });
                    }
                    let name = match &patch.name {
                        None => before.name.clone(),
                        Some(n) => n.as_deref().map(|n| text(n).into_owned()),
                    };
                    sqlx::query("UPDATE contacts SET name = $2, attributes = $3, updated_at = $4 WHERE id = $1")
                        .bind(id.as_uuid())
                        .bind(name)
                        .bind(json(&attributes)?)
                        .bind(Ts(at))
                        .execute(w.conn())
                        .await
                        .db()?;
                    let after = contact_row(w.conn(), id, false).await?.ok_or(StoreError::NotFound)?.try_into()?;
                    w.commit().await?;
                    Ok(ContactPatchOutcome::Updated(after))
                }
            }
        }
    };
}
