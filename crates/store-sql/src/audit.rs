//! The audit log: the same SQL in both dialects.

/// Expands, in a backend's `audit` module, to `AuditStore` for `$store` (whose
/// connection is `$conn`), and `insert_audit`, which appends an entry on a connection
/// that may be inside another port's transaction (so the entry commits, or rolls back,
/// with the change it records).
#[macro_export]
macro_rules! audit_store {
    ($store:ty, $conn:ty) => {
        use chrono::{DateTime, Utc};
        use switchboard_domain::AgentId;
        use switchboard_store::{AuditAction, AuditEntry, AuditQuery, AuditStore, NewAuditEntry, Result};
        use uuid::Uuid;

        use $crate::rows::corrupt;
        use $crate::{DbResultExt, Ts};

        #[derive(sqlx::FromRow)]
        struct AuditRow {
            id: i64,
            at: Ts,
            actor_id: Option<Uuid>,
            client_addr: Option<String>,
            action: String,
            target_type: Option<String>,
            target_id: Option<String>,
            before_json: Option<String>,
            after_json: Option<String>,
        }

        fn json(raw: Option<String>) -> Result<Option<serde_json::Value>> {
            raw.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("audit JSON: {e}")))).transpose()
        }

        impl TryFrom<AuditRow> for AuditEntry {
            type Error = switchboard_store::StoreError;

            fn try_from(r: AuditRow) -> Result<Self> {
                Ok(Self {
                    id: r.id,
                    at: r.at.0,
                    actor: r.actor_id.map(AgentId::from_uuid),
                    client_addr: r.client_addr,
                    action: AuditAction::parse(&r.action).ok_or_else(|| corrupt(format!("audit action {:?}", r.action)))?,
                    target_type: r.target_type,
                    target_id: r.target_id,
                    before: json(r.before_json)?,
                    after: json(r.after_json)?,
                })
            }
        }

        /// The first `max` characters of `s`.
        fn clip(s: &str, max: usize) -> String {
            s.chars().filter(|c| *c != '\0').take(max).collect()
        }

        /// Appends `e` on `conn` (inside the caller's transaction, if any); its id.
        pub(crate) async fn insert_audit(conn: &mut $conn, e: &NewAuditEntry) -> Result<i64> {
            let max = switchboard_domain::audit::TARGET_MAX;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO audit_log (at, actor_id, client_addr, action, target_type, target_id, before_json, after_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(Ts(e.at))
            .bind(e.actor.map(|a| *a.as_uuid()))
            .bind(e.client_addr.as_deref().map(|a| clip(a, max)))
            .bind(e.action.as_str())
            .bind(e.target.as_ref().map(|t| clip(t.kind, max)))
            .bind(e.target.as_ref().map(|t| clip(&t.id, max)))
            .bind(e.before.as_ref().map(ToString::to_string))
            .bind(e.after.as_ref().map(ToString::to_string))
            .fetch_one(&mut *conn)
            .await
            .db()?;
            Ok(id)
        }

        #[$crate::reexport::async_trait]
        impl AuditStore for $store {
            async fn record_audit(&self, entry: &NewAuditEntry) -> Result<i64> {
                let mut w = self.write_conn().await?;
                insert_audit(&mut w, entry).await
            }

            async fn audit_entries(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
                let mut conds: Vec<String> = Vec::new();
                let mut n = 0;
                let mut next = || {
                    n += 1;
                    format!("${n}")
                };
                if q.actor.is_some() {
                    conds.push(format!("actor_id = {}", next()));
                }
                if q.action.is_some() {
                    conds.push(format!("action = {}", next()));
                }
                if q.target_type.is_some() {
                    conds.push(format!("target_type = {}", next()));
                }
                if q.target_id.is_some() {
                    conds.push(format!("target_id = {}", next()));
                }
                if q.since.is_some() {
                    conds.push(format!("at >= {}", next()));
                }
                if q.until.is_some() {
                    conds.push(format!("at < {}", next()));
                }
                if q.before_id.is_some() {
                    conds.push(format!("id < {}", next()));
                }
                let limit = next();
                let filter = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
                let sql = format!(
                    "SELECT id, at, actor_id, client_addr, action, target_type, target_id, before_json, after_json \
                     FROM audit_log {filter} ORDER BY id DESC LIMIT {limit}"
                );
                let mut query = sqlx::query_as::<_, AuditRow>(&sql);
                if let Some(a) = q.actor {
                    query = query.bind(*a.as_uuid());
                }
                if let Some(a) = q.action {
                    query = query.bind(a.as_str());
                }
                if let Some(t) = &q.target_type {
                    query = query.bind(t.clone());
                }
                if let Some(t) = &q.target_id {
                    query = query.bind(t.clone());
                }
                if let Some(t) = q.since {
                    query = query.bind(Ts(t));
                }
                if let Some(t) = q.until {
                    query = query.bind(Ts(t));
                }
                if let Some(id) = q.before_id {
                    query = query.bind(id);
                }
                let rows = query.bind(i64::from(q.limit)).fetch_all(self.pool()).await.db()?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn purge_audit(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
                let mut w = self.write_conn().await?;
                let done = sqlx::query(
                    "DELETE FROM audit_log WHERE id IN \
                       (SELECT id FROM audit_log WHERE at < $1 ORDER BY at, id LIMIT $2)",
                )
                .bind(Ts(before))
                .bind(i64::from(limit))
                .execute(&mut *w)
                .await
                .db()?;
                Ok(done.rows_affected())
            }
        }
    };
}
