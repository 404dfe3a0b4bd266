//! Click-to-chat links (`switchboard_store_sql::links`); here, the links' labels, click
//! counting and stats.

use std::collections::HashMap;

use sqlx::PgConnection;
use switchboard_domain::LabelId;
use switchboard_store::{Label, Result, StoreError};
use uuid::Uuid;

use crate::WriteTx;
use crate::error::DbResultExt;
use crate::labels::{LABEL_COLUMNS, LabelRow, add_labels};
use crate::nul::{json, opt_text, text};

switchboard_store_sql::link_store!(crate::PgStore, PgConnection;
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
);

/// The labels of these links, by link.
async fn labels_of_links(conn: &mut PgConnection, links: &[Uuid]) -> Result<HashMap<Uuid, Vec<Label>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        link_id: Uuid,
        #[sqlx(flatten)]
        label: LabelRow,
    }
    let mut out: HashMap<Uuid, Vec<Label>> = HashMap::new();
    if links.is_empty() {
        return Ok(out);
    }
    let found: Vec<Row> = sqlx::query_as(&format!(
        "SELECT ll.link_id, {LABEL_COLUMNS} FROM link_labels ll JOIN labels l ON l.id = ll.label_id \
         WHERE ll.link_id = ANY($1) ORDER BY l.name_key, l.id"
    ))
    .bind(links)
    .fetch_all(conn)
    .await
    .db()?;
    for r in found {
        out.entry(r.link_id).or_default().push(r.label.try_into()?);
    }
    Ok(out)
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
