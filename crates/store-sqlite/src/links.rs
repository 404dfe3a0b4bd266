//! Click-to-chat links: short links, clicks, attribution and stats.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::SqliteConnection;
use sqlx::types::Json;
use switchboard_domain::link::{PhoneNumber, RefCode, Slug};
use switchboard_domain::{AgentId, ChannelId, LabelId, LinkId};
use switchboard_store::{
    Attribution, AttributionSource, ClickCount, Label, Link, LinkCursor, LinkDay, LinkPatch, LinkQuery, LinkStore,
    NewLink, Page, Result, StoreError, page_size,
};
use uuid::Uuid;

use crate::error::{DbResultExt, db_err};
use crate::labels::{LABEL_COLUMNS, LabelRow, add_labels};
use crate::nul::{json, opt_text, text};
use crate::rows::{Values, corrupt, ms, time};
use crate::{SqliteStore, WriteTx};

const DAY_MS: i64 = 86_400_000;

/// Click counts `(link, hour, family, referrer host or '', clicks)` as rows ([`Values`]),
/// added to the totals.
static ADD_CLICKS: Values = Values::new(
    5,
    0,
    "INSERT INTO link_click_counts (link_id, hour, agent_family, referrer_host, clicks) \
     SELECT j.c0, j.c1, j.c2, j.c3, j.c4 FROM j WHERE j.c0 IS NOT NULL \
     ON CONFLICT (link_id, hour, agent_family, referrer_host) DO UPDATE SET clicks = clicks + excluded.clicks",
);

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
    created_at: i64,
    updated_at: i64,
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
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
        })
    }
}

fn stored_phone(digits: &str) -> Result<PhoneNumber> {
    PhoneNumber::from_e164_digits(digits).map_err(corrupt)
}

/// Names the uniqueness rule a link broke ("UNIQUE constraint failed: links.slug").
fn link_err(e: sqlx::Error) -> StoreError {
    let what = match &e {
        sqlx::Error::Database(d) => {
            let m = d.message();
            if m.contains("links.slug") {
                Some("link slug")
            } else if m.contains("links.ref_code") {
                Some("link reference code")
            } else if m.contains("links.ad_source_id") {
                Some("link ad source id")
            } else {
                None
            }
        }
        _ => None,
    };
    match (db_err(e), what) {
        (StoreError::Conflict { .. }, Some(what)) => StoreError::Conflict { what },
        (other, _) => other,
    }
}

/// The labels of these links, by link.
async fn labels_of_links(conn: &mut SqliteConnection, links: &[Uuid]) -> Result<HashMap<Uuid, Vec<Label>>> {
    let mut out: HashMap<Uuid, Vec<Label>> = HashMap::new();
    if links.is_empty() {
        return Ok(out);
    }
    #[derive(sqlx::FromRow)]
    struct Row {
        link_id: Uuid,
        #[sqlx(flatten)]
        label: LabelRow,
    }
    let marks = vec!["?"; links.len()].join(", ");
    let sql = format!(
        "SELECT ll.link_id, {LABEL_COLUMNS} FROM link_labels ll JOIN labels l ON l.id = ll.label_id \
         WHERE ll.link_id IN ({marks}) ORDER BY l.name_key, l.id"
    );
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for id in links {
        q = q.bind(*id);
    }
    for r in q.fetch_all(conn).await.db()? {
        out.entry(r.link_id).or_default().push(r.label.try_into()?);
    }
    Ok(out)
}

async fn with_labels(conn: &mut SqliteConnection, rows: Vec<LinkRow>) -> Result<Vec<Link>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut labels = labels_of_links(conn, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let l = labels.remove(&r.id).unwrap_or_default();
            r.link(l)
        })
        .collect()
}

/// Replaces a link's labels; `NotFound` if one does not exist.
async fn set_link_labels(conn: &mut SqliteConnection, link: Uuid, labels: &[LabelId]) -> Result<()> {
    sqlx::query("DELETE FROM link_labels WHERE link_id = ?1").bind(link).execute(&mut *conn).await.db()?;
    for label in labels {
        let n = sqlx::query(
            "INSERT INTO link_labels (link_id, label_id) SELECT ?1, id FROM labels WHERE id = ?2 \
             ON CONFLICT (link_id, label_id) DO NOTHING",
        )
        .bind(link)
        .bind(label.as_uuid())
        .execute(&mut *conn)
        .await
        .db()?;
        if n.rows_affected() == 0 {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM labels WHERE id = ?1)")
                .bind(label.as_uuid())
                .fetch_one(&mut *conn)
                .await
                .db()?;
            if !exists {
                return Err(StoreError::NotFound);
            }
        }
    }
    Ok(())
}

async fn fetch_link(conn: &mut SqliteConnection, id: Uuid) -> Result<Option<Link>> {
    let row: Option<LinkRow> = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE id = ?1"))
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
pub(crate) async fn attribute(conn: &mut SqliteConnection, a: &Attribution<'_>) -> Result<Option<LinkId>> {
    let link: Option<Uuid> = match a.source {
        AttributionSource::RefCode { code, .. } => {
            sqlx::query_scalar("SELECT id FROM links WHERE ref_code = ?1 AND enabled").bind(code.as_str())
        }
        AttributionSource::Ad { source_id, .. } => {
            sqlx::query_scalar("SELECT id FROM links WHERE ad_source_id = ?1 AND enabled").bind(text(source_id))
        }
    }
    .fetch_optional(&mut *conn)
    .await
    .db()?;
    let Some(link) = link else { return Ok(None) };
    let n = sqlx::query(
        "UPDATE conversations SET link_id = ?1, attributed_at = ?2, attribution = ?3 WHERE id = ?4 AND link_id IS NULL",
    )
    .bind(link)
    .bind(ms(a.at))
    .bind(json(&a.source.to_json())?)
    .bind(a.conversation.as_uuid())
    .execute(&mut *conn)
    .await
    .db()?;
    if n.rows_affected() == 0 {
        return Ok(None);
    }
    let labels: Vec<Uuid> = sqlx::query_scalar("SELECT label_id FROM link_labels WHERE link_id = ?1")
        .bind(link)
        .fetch_all(&mut *conn)
        .await
        .db()?;
    let labels: Vec<LabelId> = labels.into_iter().map(LabelId::from_uuid).collect();
    add_labels(conn, a.conversation, &labels, None, a.at).await?;
    if let AttributionSource::RefCode { stripped_text, .. } = a.source {
        sqlx::query("UPDATE messages SET text = ?1 WHERE id = ?2")
            .bind(opt_text(Some(stripped_text).filter(|t| !t.is_empty())))
            .bind(a.message.as_uuid())
            .execute(&mut *conn)
            .await
            .db()?;
    }
    Ok(Some(LinkId::from_uuid(link)))
}

#[async_trait]
impl LinkStore for SqliteStore {
    async fn create_link(&self, link: &NewLink) -> Result<Link> {
        let id = LinkId::new();
        let mut w = self.begin_write().await?;
        let channel: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM channels WHERE id = ?1)")
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?12)",
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
        .bind(ms(link.at))
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
        let row: Option<LinkRow> = sqlx::query_as(&format!("SELECT {LINK_COLUMNS} FROM links WHERE slug = ?1"))
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
            "SELECT {LINK_COLUMNS} FROM links WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2"
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
               text = CASE WHEN ?1 THEN ?2 ELSE text END, \
               campaign = CASE WHEN ?3 THEN ?4 ELSE campaign END, \
               source = CASE WHEN ?5 THEN ?6 ELSE source END, \
               tags = COALESCE(?7, tags), \
               ad_source_id = CASE WHEN ?8 THEN ?9 ELSE ad_source_id END, \
               enabled = COALESCE(?10, enabled), \
               updated_at = ?11 \
             WHERE id = ?12",
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
        .bind(ms(at))
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

    async fn record_clicks(&self, counts: &[ClickCount]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let rows = counts
            .iter()
            .map(|c| {
                let referrer = c.referrer_host.as_deref().unwrap_or("");
                (*c.link.as_uuid(), ms(c.hour), c.agent_family.as_str(), referrer, c.clicks)
            })
            .collect();
        let mut w = self.begin_write().await?;
        ADD_CLICKS.execute(w.conn(), (), rows).await?;
        w.commit().await
    }

    async fn link_stats(&self, id: LinkId, from: NaiveDate, to: NaiveDate) -> Result<Vec<LinkDay>> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM links WHERE id = ?1)")
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
               SUM(CASE WHEN k = 'c' THEN n ELSE 0 END), SUM(CASE WHEN k = 'b' THEN n ELSE 0 END), \
               SUM(CASE WHEN k = 's' THEN n ELSE 0 END), SUM(CASE WHEN k = 'r' THEN n ELSE 0 END) \
             FROM ( \
               SELECT hour / ?4 AS day, CASE WHEN agent_family = 'bot' THEN 'b' ELSE 'c' END AS k, clicks AS n \
                 FROM link_click_counts WHERE link_id = ?1 AND hour >= ?2 AND hour < ?3 \
               UNION ALL \
               SELECT created_at / ?4, 's', 1 FROM conversations WHERE link_id = ?1 AND created_at >= ?2 AND created_at < ?3 \
               UNION ALL \
               SELECT resolved_at / ?4, 'r', 1 FROM conversations WHERE link_id = ?1 AND resolved_at >= ?2 AND resolved_at < ?3 \
             ) GROUP BY day ORDER BY day",
        )
        .bind(id.as_uuid())
        .bind(ms(start))
        .bind(ms(end))
        .bind(DAY_MS)
        .fetch_all(self.pool())
        .await
        .db()?;
        rows.into_iter()
            .map(|(day, clicks, bot_clicks, started, resolved)| {
                Ok(LinkDay {
                    day: time(day * DAY_MS)?.date_naive(),
                    clicks,
                    bot_clicks,
                    conversations_started: started,
                    conversations_resolved: resolved,
                })
            })
            .collect()
    }

    async fn set_display_phone_number(&self, channel: ChannelId, phone: &PhoneNumber) -> Result<()> {
        let mut w = self.write_conn().await?;
        let n = sqlx::query("UPDATE channels SET display_phone_number = ?1 WHERE id = ?2")
            .bind(phone.digits())
            .bind(channel.as_uuid())
            .execute(&mut *w)
            .await
            .db()?;
        if n.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn display_phone_number(&self, channel: ChannelId) -> Result<Option<PhoneNumber>> {
        let row: Option<(Option<String>,)> = sqlx::query_as("SELECT display_phone_number FROM channels WHERE id = ?1")
            .bind(channel.as_uuid())
            .fetch_optional(self.pool())
            .await
            .db()?;
        let (digits,) = row.ok_or(StoreError::NotFound)?;
        digits.as_deref().map(stored_phone).transpose()
    }
}
