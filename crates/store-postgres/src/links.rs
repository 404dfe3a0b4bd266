//! Click-to-chat links: short links, clicks, attribution and stats.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use switchboard_domain::link::{PhoneNumber, RefCode, Slug};
use switchboard_domain::{AgentId, ChannelId, LabelId, LinkId};
use switchboard_store::{
    Attribution, AttributionSource, ClickCount, Label, Link, LinkCursor, LinkDay, LinkPatch, LinkQuery, LinkStore,
    NewLink, Page, Result, StoreError, page_size,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{DbResultExt, db_err};
use crate::labels::{LABEL_COLUMNS, LabelRow, add_labels};
use crate::nul::{Jsonb, opt_text, text};
use crate::rows::corrupt;

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
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
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
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn stored_phone(digits: &str) -> Result<PhoneNumber> {
    PhoneNumber::from_e164_digits(digits).map_err(corrupt)
}

/// Names the uniqueness rule a link broke, by its constraint.
fn link_err(e: sqlx::Error) -> StoreError {
    let what = match e.as_database_error().and_then(|d| d.constraint()) {
        Some("links_slug_key") => Some("link slug"),
        Some("links_ref_code_key") => Some("link reference code"),
        Some("links_ad_source_id_key") => Some("link ad source id"),
        _ => None,
    };
    match (db_err(e), what) {
        (StoreError::Conflict { .. }, Some(what)) => StoreError::Conflict { what },
        (other, _) => other,
    }
}

async fn with_labels(conn: &mut PgConnection, rows: Vec<LinkRow>) -> Result<Vec<Link>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        link_id: Uuid,
        #[sqlx(flatten)]
        label: LabelRow,
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut labels: HashMap<Uuid, Vec<Label>> = HashMap::new();
    if !ids.is_empty() {
        let found: Vec<Row> = sqlx::query_as(&format!(
            "SELECT ll.link_id, {LABEL_COLUMNS} FROM link_labels ll JOIN labels l ON l.id = ll.label_id \
             WHERE ll.link_id = ANY($1) ORDER BY l.name_key, l.id"
        ))
        .bind(&ids)
        .fetch_all(conn)
        .await
        .db()?;
        for r in found {
            labels.entry(r.link_id).or_default().push(r.label.try_into()?);
        }
    }
    rows.into_iter()
        .map(|r| {
            let l = labels.remove(&r.id).unwrap_or_default();
            r.link(l)
        })
        .collect()
}

/// Replaces a link's labels; `NotFound` if one does not exist.
async fn set_link_labels(conn: &mut PgConnection, link: Uuid, labels: &[LabelId]) -> Result<()> {
    let mut ids: Vec<Uuid> = labels.iter().map(|l| *l.as_uuid()).collect();
    ids.sort_unstable();
    ids.dedup();
    sqlx::query("DELETE FROM link_labels WHERE link_id = $1").bind(link).execute(&mut *conn).await.db()?;
    if ids.is_empty() {
        return Ok(());
    }
    let n = sqlx::query("INSERT INTO link_labels (link_id, label_id) SELECT $1, id FROM labels WHERE id = ANY($2)")
        .bind(link)
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .db()?;
    if usize::try_from(n.rows_affected()).unwrap_or(0) != ids.len() {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

async fn fetch_link(conn: &mut PgConnection, id: Uuid) -> Result<Option<Link>> {
    let row: Option<LinkRow> = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .db()?;
    Ok(with_labels(conn, row.into_iter().collect()).await?.pop())
}

async fn commit_link(mut tx: Transaction<'_, Postgres>, id: Uuid) -> Result<Link> {
    let link = fetch_link(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
    tx.commit().await.db()?;
    Ok(link)
}

/// `attribute_conversation` of the ingest transaction.
pub(crate) async fn attribute(conn: &mut PgConnection, a: &Attribution<'_>) -> Result<Option<LinkId>> {
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
    .bind(a.at)
    .bind(Jsonb::new(&a.source.to_json())?)
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

#[async_trait]
impl LinkStore for PgStore {
    async fn create_link(&self, link: &NewLink) -> Result<Link> {
        let id = LinkId::new();
        let mut tx = self.pool().begin().await.db()?;
        let channel: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channels WHERE id = $1)")
            .bind(link.channel_id.as_uuid())
            .fetch_one(&mut *tx)
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
        .bind(Jsonb::new(&link.tags)?)
        .bind(opt_text(link.ad_source_id.as_deref()))
        .bind(link.created_by.map(|a| *a.as_uuid()))
        .bind(link.at)
        .execute(&mut *tx)
        .await
        .map_err(link_err)?;
        set_link_labels(&mut tx, *id.as_uuid(), &link.labels).await?;
        commit_link(tx, *id.as_uuid()).await
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
            "SELECT {LINK_COLUMNS} FROM links WHERE $1::uuid IS NULL OR id < $1 ORDER BY id DESC LIMIT $2"
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
        let mut tx = self.pool().begin().await.db()?;
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
        .bind(patch.tags.as_ref().map(Jsonb::new).transpose()?)
        .bind(set(&patch.ad_source_id))
        .bind(val(&patch.ad_source_id))
        .bind(patch.enabled)
        .bind(at)
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(link_err)?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(labels) = &patch.labels {
            set_link_labels(&mut tx, *id.as_uuid(), labels).await?;
        }
        commit_link(tx, *id.as_uuid()).await
    }

    async fn record_clicks(&self, counts: &[ClickCount]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let links: Vec<Uuid> = counts.iter().map(|c| *c.link.as_uuid()).collect();
        let hours: Vec<DateTime<Utc>> = counts.iter().map(|c| c.hour).collect();
        let families: Vec<&str> = counts.iter().map(|c| c.agent_family.as_str()).collect();
        let referrers: Vec<&str> = counts.iter().map(|c| c.referrer_host.as_deref().unwrap_or("")).collect();
        let clicks: Vec<i64> = counts.iter().map(|c| c.clicks).collect();
        // One statement; rows in key order, so instances adding to the same keys lock
        // them in the same order.
        sqlx::query(
            "INSERT INTO link_click_counts (link_id, hour, agent_family, referrer_host, clicks) \
             SELECT link_id, hour, family, referrer, SUM(clicks)::int8 \
             FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::int8[]) \
               AS u(link_id, hour, family, referrer, clicks) \
             GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
             ON CONFLICT (link_id, hour, agent_family, referrer_host) \
             DO UPDATE SET clicks = link_click_counts.clicks + EXCLUDED.clicks",
        )
        .bind(&links)
        .bind(&hours)
        .bind(&families)
        .bind(&referrers)
        .bind(&clicks)
        .execute(self.pool())
        .await
        .db()?;
        Ok(())
    }

    async fn link_stats(&self, id: LinkId, from: NaiveDate, to: NaiveDate) -> Result<Vec<LinkDay>> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM links WHERE id = $1)")
            .bind(id.as_uuid())
            .fetch_one(self.pool())
            .await
            .db()?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        let start = from.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = to.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(1);
        let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT day, \
               SUM(CASE WHEN k = 'c' THEN n ELSE 0 END)::int8, SUM(CASE WHEN k = 'b' THEN n ELSE 0 END)::int8, \
               SUM(CASE WHEN k = 's' THEN n ELSE 0 END)::int8, SUM(CASE WHEN k = 'r' THEN n ELSE 0 END)::int8 \
             FROM ( \
               SELECT floor(extract(epoch FROM hour) / 86400)::bigint AS day, \
                 CASE WHEN agent_family = 'bot' THEN 'b' ELSE 'c' END AS k, clicks AS n \
                 FROM link_click_counts WHERE link_id = $1 AND hour >= $2 AND hour < $3 \
               UNION ALL \
               SELECT floor(extract(epoch FROM created_at) / 86400)::bigint, 's', 1 \
                 FROM conversations WHERE link_id = $1 AND created_at >= $2 AND created_at < $3 \
               UNION ALL \
               SELECT floor(extract(epoch FROM resolved_at) / 86400)::bigint, 'r', 1 \
                 FROM conversations WHERE link_id = $1 AND resolved_at >= $2 AND resolved_at < $3 \
             ) d GROUP BY day ORDER BY day",
        )
        .bind(id.as_uuid())
        .bind(start)
        .bind(end)
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.into_iter()
            .map(|(day, clicks, bot_clicks, started, resolved)| {
                let day = DateTime::from_timestamp(day * 86_400, 0)
                    .ok_or_else(|| corrupt(format!("day {day} out of range")))?
                    .date_naive();
                Ok(LinkDay {
                    day,
                    clicks,
                    bot_clicks,
                    conversations_started: started,
                    conversations_resolved: resolved,
                })
            })
            .collect()
    }

    async fn set_display_phone_number(&self, channel: ChannelId, phone: &PhoneNumber) -> Result<()> {
        let n = sqlx::query("UPDATE channels SET display_phone_number = $1 WHERE id = $2")
            .bind(phone.digits())
            .bind(channel.as_uuid())
            .execute(self.pool())
            .await
            .db()?;
        if n.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
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
}
