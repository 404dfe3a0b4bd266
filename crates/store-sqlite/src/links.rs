//! Click-to-chat links (`switchboard_store_sql::links`); here, the links' labels, click
//! counting and stats.

use std::collections::HashMap;

use sqlx::SqliteConnection;
use switchboard_domain::LabelId;
use switchboard_store::{Label, Result, StoreError};
use uuid::Uuid;

use crate::WriteTx;
use crate::error::DbResultExt;
use crate::labels::{LABEL_COLUMNS, LabelRow, add_labels};
use crate::nul::{json, opt_text, text};
use crate::rows::{Values, ms, time};

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

switchboard_store_sql::link_store!(crate::SqliteStore, SqliteConnection;
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
);

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
