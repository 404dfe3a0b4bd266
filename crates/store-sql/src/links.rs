//! Click-to-chat links: short links, attribution, and the number shown on them. The
//! same SQL in both dialects but the links' labels, click counting and stats.

/// Expands, in a backend's `links` module, to `LinkStore` for `$store` (whose connection
/// is `$conn`), with the backend's own `record_clicks` and `link_stats` after the `;`,
/// and to `attribute` (the ingest transaction's `attribute_conversation`). The module
/// provides `WriteTx` (its store's write transaction), `labels_of_links(conn, link ids)`,
/// `set_link_labels(conn, link, labels)`,
/// `add_labels`, and `nul`'s `text`, `opt_text` and `json`.
#[macro_export]
macro_rules! link_store {
    ($store:ty, $conn:ty $(; $($own:tt)*)?) => {
        pub(crate) use shared::attribute;

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use std::collections::HashMap;

            use chrono::{DateTime, NaiveDate, Utc};
            use sqlx::types::Json;
            use switchboard_domain::link::{PhoneNumber, RefCode, Slug};
            use switchboard_domain::{AgentId, ChannelId, LabelId, LinkId};
            use switchboard_store::{
                Attribution, AttributionSource, ClickCount, ConversationAttribution, Label, Link, LinkCursor, LinkDay, LinkPatch, LinkQuery, LinkStore,
                NewLink, Page, Result, StoreError, page_size,
            };
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts, db_err};

            const LINK_COLUMNS: &str = "id, channel_id, slug, ref_code, phone, text, campaign, source, tags, ad_source_id, \
                enabled, created_by, created_at, updated_at";

            #[derive(sqlx::FromRow)]
            struct LinkRow {
                id: Uuid,
                channel_id: Uuid,
                slug: String,
                ref_code: String,
                phone: String,
                text: Option<String>,
                campaign: Option<String>,
                source: Option<String>,
                tags: Json<Vec<String>>,
                ad_source_id: Option<String>,
                enabled: bool,
                created_by: Option<Uuid>,
                created_at: Ts,
                updated_at: Ts,
            }

            impl LinkRow {
                fn link(self, labels: Vec<Label>) -> Result<Link> {
                    Ok(Link {
                        id: LinkId::from_uuid(self.id),
                        channel_id: ChannelId::from_uuid(self.channel_id),
                        slug: Slug::parse(&self.slug).map_err(corrupt)?,
                        ref_code: RefCode::parse(&self.ref_code).map_err(corrupt)?,
                        phone: stored_phone(&self.phone)?,
                        text: self.text,
                        campaign: self.campaign,
                        source: self.source,
                        tags: self.tags.0,
                        ad_source_id: self.ad_source_id,
                        labels,
                        enabled: self.enabled,
                        created_by: self.created_by.map(AgentId::from_uuid),
                        created_at: self.created_at.0,
                        updated_at: self.updated_at.0,
                    })
                }
            }

            fn stored_phone(digits: &str) -> Result<PhoneNumber> {
                PhoneNumber::from_e164_digits(digits).map_err(corrupt)
            }

            /// Names the uniqueness rule a link broke: SQLite names its columns ("UNIQUE constraint
            /// failed: links.slug"), PostgreSQL its constraint.
            fn link_err(e: sqlx::Error) -> StoreError {
                const RULES: [(&str, &str, &str); 3] = [
                    ("links.slug", "links_slug_key", "link slug"),
                    ("links.ref_code", "links_ref_code_key", "link reference code"),
                    ("links.ad_source_id", "links_ad_source_id_key", "link ad source id"),
                ];
                let what = e.as_database_error().and_then(|d| {
                    RULES
                        .iter()
                        .find(|(columns, constraint, _)| d.constraint() == Some(*constraint) || d.message().contains(columns))
                        .map(|(_, _, what)| *what)
                });
                match (db_err(e), what) {
                    (StoreError::Conflict { .. }, Some(what)) => StoreError::Conflict { what },
                    (other, _) => other,
                }
            }

            async fn with_labels(conn: &mut $conn, rows: Vec<LinkRow>) -> Result<Vec<Link>> {
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                let mut labels = labels_of_links(conn, &ids).await?;
                rows.into_iter()
                    .map(|r| {
                        let l = labels.remove(&r.id).unwrap_or_default();
                        r.link(l)
                    })
                    .collect()
            }

            async fn fetch_link(conn: &mut $conn, id: Uuid) -> Result<Option<Link>> {
                let row: Option<LinkRow> = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
                Ok(with_labels(conn, row.into_iter().collect()).await?.pop())
            }

            async fn commit_link(mut w: WriteTx, id: Uuid) -> Result<Link> {
                let link = fetch_link(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(link)
            }

            /// `attribute_conversation` of the ingest transaction.
            pub(crate) async fn attribute(conn: &mut $conn, a: &Attribution<'_>) -> Result<Option<LinkId>> {
                let link: Option<Uuid> = match a.source {
                    AttributionSource::RefCode { code, .. } => {
                        sqlx::query_scalar("SELECT id FROM links WHERE ref_code = $1 AND enabled").bind(code.as_str())
                    }
                    AttributionSource::Ad { source_id, .. } => {
                        sqlx::query_scalar("SELECT id FROM links WHERE ad_source_id = $1 AND enabled").bind(text(source_id))
                    }
                }
                .fetch_optional(&mut *conn)
                .await
                .db()?;
                let Some(link) = link else { return Ok(None) };
                let n = sqlx::query(
                    "UPDATE conversations SET link_id = $1, attributed_at = $2, attribution = $3 WHERE id = $4 AND link_id IS NULL",
                )
                .bind(link)
                .bind(Ts(a.at))
                .bind(json(&a.source.to_json())?)
                .bind(a.conversation.as_uuid())
                .execute(&mut *conn)
                .await
                .db()?;
                if n.rows_affected() == 0 {
                    return Ok(None);
                }
                let labels: Vec<Uuid> = sqlx::query_scalar("SELECT label_id FROM link_labels WHERE link_id = $1")
                    .bind(link)
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                let labels: Vec<LabelId> = labels.into_iter().map(LabelId::from_uuid).collect();
                add_labels(conn, a.conversation, &labels, None, a.at).await?;
                if let AttributionSource::RefCode { stripped_text, .. } = a.source {
                    sqlx::query("UPDATE messages SET text = $1 WHERE id = $2")
                        .bind(opt_text(Some(stripped_text).filter(|t| !t.is_empty())))
                        .bind(a.message.as_uuid())
                        .execute(&mut *conn)
                        .await
                        .db()?;
                }
                Ok(Some(LinkId::from_uuid(link)))
            }

            #[$crate::reexport::async_trait]
            impl LinkStore for $store {
                async fn create_link(&self, link: &NewLink) -> Result<Link> {
                    let id = LinkId::new();
                    let mut w = self.begin_write().await?;
                    let channel: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channels WHERE id = $1)")
                        .bind(link.channel_id.as_uuid())
                        .fetch_one(w.conn())
                        .await
                        .db()?;
                    if !channel {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "INSERT INTO links (id, channel_id, slug, ref_code, phone, text, campaign, source, tags, ad_source_id, \
                           enabled, created_by, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $12, $12)",
                    )
                    .bind(id.as_uuid())
                    .bind(link.channel_id.as_uuid())
                    .bind(link.slug.as_str())
                    .bind(link.ref_code.as_str())
                    .bind(link.phone.digits())
                    .bind(opt_text(link.text.as_deref()))
                    .bind(opt_text(link.campaign.as_deref()))
                    .bind(opt_text(link.source.as_deref()))
                    .bind(json(&link.tags)?)
                    .bind(opt_text(link.ad_source_id.as_deref()))
                    .bind(link.created_by.map(|a| *a.as_uuid()))
                    .bind(Ts(link.at))
                    .execute(w.conn())
                    .await
                    .map_err(link_err)?;
                    set_link_labels(w.conn(), *id.as_uuid(), &link.labels).await?;
                    commit_link(w, *id.as_uuid()).await
                }

                async fn link(&self, id: LinkId) -> Result<Option<Link>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    fetch_link(&mut conn, *id.as_uuid()).await
                }

                async fn link_by_slug(&self, slug: &Slug) -> Result<Option<Link>> {
                    let mut conn = self.pool().acquire().await.db()?;
                    let row: Option<LinkRow> = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE slug = $1"))
                        .bind(slug.as_str())
                        .fetch_optional(&mut *conn)
                        .await
                        .db()?;
                    Ok(with_labels(&mut conn, row.into_iter().collect()).await?.pop())
                }

                async fn list_links(&self, q: &LinkQuery) -> Result<Page<Link, LinkCursor>> {
                    let limit = page_size(q.limit);
                    let mut conn = self.pool().acquire().await.db()?;
                    let rows: Vec<LinkRow> = sqlx::query_as(&format!(
                        "SELECT {LINK_COLUMNS} FROM links WHERE $1 IS NULL OR id < $1 ORDER BY id DESC LIMIT $2"
                    ))
                    .bind(q.after.map(|a| *a.id.as_uuid()))
                    .bind(i64::from(limit) + 1)
                    .fetch_all(&mut *conn)
                    .await
                    .db()?;
                    let items = with_labels(&mut conn, rows).await?;
                    Ok(Page::from_fetch(items, limit, |l| LinkCursor { id: l.id }))
                }

                async fn update_link(&self, id: LinkId, patch: &LinkPatch, at: DateTime<Utc>) -> Result<Link> {
                    let mut w = self.begin_write().await?;
                    let set = |o: &Option<Option<String>>| o.is_some();
                    let val = |o: &Option<Option<String>>| o.as_ref().and_then(|v| v.as_deref().map(|s| text(s).into_owned()));
                    let n = sqlx::query(
                        "UPDATE links SET \
                           text = CASE WHEN $1 THEN $2 ELSE text END, \
                           campaign = CASE WHEN $3 THEN $4 ELSE campaign END, \
                           source = CASE WHEN $5 THEN $6 ELSE source END, \
                           tags = COALESCE($7, tags), \
                           ad_source_id = CASE WHEN $8 THEN $9 ELSE ad_source_id END, \
                           enabled = COALESCE($10, enabled), \
                           updated_at = $11 \
                         WHERE id = $12",
                    )
                    .bind(set(&patch.text))
                    .bind(val(&patch.text))
                    .bind(set(&patch.campaign))
                    .bind(val(&patch.campaign))
                    .bind(set(&patch.source))
                    .bind(val(&patch.source))
                    .bind(patch.tags.as_ref().map(json).transpose()?)
                    .bind(set(&patch.ad_source_id))
                    .bind(val(&patch.ad_source_id))
                    .bind(patch.enabled)
                    .bind(Ts(at))
                    .bind(id.as_uuid())
                    .execute(w.conn())
                    .await
                    .map_err(link_err)?;
                    if n.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    if let Some(labels) = &patch.labels {
                        set_link_labels(w.conn(), *id.as_uuid(), labels).await?;
                    }
                    commit_link(w, *id.as_uuid()).await
                }

                async fn set_display_phone_number(&self, channel: ChannelId, phone: &PhoneNumber) -> Result<()> {
                    let mut w = self.write_conn().await?;
                    let n = sqlx::query("UPDATE channels SET display_phone_number = $1 WHERE id = $2")
                        .bind(phone.digits())
                        .bind(channel.as_uuid())
                        .execute(&mut *w)
                        .await
                        .db()?;
                    if n.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                }

                async fn conversation_attribution(
                    &self,
                    conversation: switchboard_domain::ConversationId,
                ) -> Result<Option<ConversationAttribution>> {
                    type Row = (Uuid, String, Option<String>, Option<String>, Option<Ts>, Option<Json<serde_json::Value>>);
                    let row: Option<Row> = sqlx::query_as(
                        "SELECT l.id, l.slug, l.campaign, l.source, c.attributed_at, c.attribution \
                         FROM conversations c JOIN links l ON l.id = c.link_id WHERE c.id = $1",
                    )
                    .bind(conversation.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                    Ok(row.map(|(link, slug, campaign, source, at, how)| ConversationAttribution {
                        link_id: LinkId::from_uuid(link),
                        slug,
                        campaign,
                        source,
                        attributed_at: at.map(|t| t.0),
                        how: how.map(|j| j.0),
                    }))
                }

                async fn display_phone_number(&self, channel: ChannelId) -> Result<Option<PhoneNumber>> {
                    let row: Option<(Option<String>,)> = sqlx::query_as("SELECT display_phone_number FROM channels WHERE id = $1")
                        .bind(channel.as_uuid())
                        .fetch_optional(self.pool())
                        .await
                        .db()?;
                    let (digits,) = row.ok_or(StoreError::NotFound)?;
                    digits.as_deref().map(stored_phone).transpose()
                }

                $($($own)*)?
            }
        }
    };
}
