//! Outgoing webhooks: endpoints, fan-out, delivery jobs and their log, the same SQL in
//! both dialects. The one difference is the claim's row lock (`CLAIM_LOCK` in the
//! backend's module: `" FOR UPDATE OF d SKIP LOCKED"` on PostgreSQL, `""` on SQLite,
//! whose writes are serialised by the write gate).

/// Expands, in a backend's `webhooks` module, to `WebhookStore` for `$store` (whose
/// connection is `$conn`). The module must define `const CLAIM_LOCK: &str`.
#[macro_export]
macro_rules! webhook_store {
    ($store:ty, $conn:ty) => {
        use chrono::{DateTime, SubsecRound, Utc};
        use switchboard_domain::{ContactId, WebhookEndpointId, WebhookEventType, WebhookMessageId, WebhookUrl};
        use switchboard_store::{
            ContactChange, ContactChangeKind, EndpointHealth, InboxEventStore, NewWebhookEndpoint, Result,
            SealedSecret, StoreError, WebhookAttempt, WebhookAttemptView, WebhookDeliveryView, WebhookEndpoint,
            WebhookEndpointPatch, WebhookFanout, WebhookFanoutBatch, WebhookJob, WebhookJobOutcome, WebhookReplay,
            WebhookStore,
        };
        use sqlx::QueryBuilder;
        use uuid::Uuid;

        use $crate::rows::corrupt;
        use $crate::{DbResultExt, Ts, opt_time};

        const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, disabled_reason, secret_key_id, \
             secret, previous_secret_key_id, previous_secret, previous_secret_until, failing_since, created_at, \
             updated_at";

        #[derive(sqlx::FromRow)]
        struct EndpointRow {
            id: Uuid,
            url: String,
            description: String,
            event_types: String,
            enabled: bool,
            disabled_reason: Option<String>,
            secret_key_id: String,
            secret: Vec<u8>,
            previous_secret_key_id: Option<String>,
            previous_secret: Option<Vec<u8>>,
            previous_secret_until: Option<Ts>,
            failing_since: Option<Ts>,
            created_at: Ts,
            updated_at: Ts,
        }

        fn event_types_json(types: &[WebhookEventType]) -> String {
            let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_owned())
        }

        fn event_type(s: &str) -> Result<WebhookEventType> {
            WebhookEventType::parse(s).ok_or_else(|| corrupt(format!("webhook event type {s:?}")))
        }

        impl TryFrom<EndpointRow> for WebhookEndpoint {
            type Error = StoreError;
            fn try_from(r: EndpointRow) -> Result<Self> {
                let names: Vec<String> = serde_json::from_str(&r.event_types).map_err(corrupt)?;
                let previous_secret = match (r.previous_secret_key_id, r.previous_secret, r.previous_secret_until) {
                    (Some(key_id), Some(sealed), Some(until)) => Some((SealedSecret { key_id, sealed }, until.0)),
                    _ => None,
                };
                Ok(Self {
                    id: WebhookEndpointId::from_uuid(r.id),
                    url: WebhookUrl::from_stored(&r.url).map_err(corrupt)?,
                    description: r.description,
                    event_types: names.iter().map(|n| event_type(n)).collect::<Result<_>>()?,
                    enabled: r.enabled,
                    disabled_reason: r.disabled_reason,
                    secret: SealedSecret { key_id: r.secret_key_id, sealed: r.secret },
                    previous_secret,
                    failing_since: opt_time(r.failing_since),
                    created_at: r.created_at.0,
                    updated_at: r.updated_at.0,
                })
            }
        }

        async fn endpoint(conn: &mut $conn, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>> {
            let row: Option<EndpointRow> =
                sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"))
                    .bind(id.as_uuid())
                    .fetch_optional(conn)
                    .await
                    .db()?;
            row.map(TryInto::try_into).transpose()
        }

        async fn all_endpoints(conn: &mut $conn, enabled_only: bool) -> Result<Vec<WebhookEndpoint>> {
            let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled OR NOT $1 ORDER BY created_at, id"
            ))
            .bind(enabled_only)
            .fetch_all(conn)
            .await
            .db()?;
            rows.into_iter().map(TryInto::try_into).collect()
        }

        /// The due deliveries of enabled endpoints (`d`) at `$1`.
        const DUE: &str = "JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
               AND (d.locked_until IS NULL OR d.locked_until < $1) AND e.enabled";

        fn state_name(o: WebhookJobOutcome) -> &'static str {
            match o {
                WebhookJobOutcome::Delivered => "delivered",
                WebhookJobOutcome::Retry(_) => "pending",
                WebhookJobOutcome::Failed => "failed",
            }
        }

        /// Logs one attempt and applies its outcome if its claim still holds the job.
        async fn record_attempt(conn: &mut $conn, a: &WebhookAttempt) -> Result<bool> {
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status, latency_ms, response, error) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)",
            )
            .bind(a.delivery_id)
            .bind(a.endpoint_id.as_uuid())
            .bind(Ts(a.at))
            .bind(a.status.map(i32::from))
            .bind(a.latency_ms)
            .bind(a.response.as_deref())
            .bind(a.error.as_deref())
            .execute(&mut *conn)
            .await
            .db()?;
            let next = match a.outcome {
                WebhookJobOutcome::Retry(at) => Some(Ts(at)),
                _ => None,
            };
            let applied = sqlx::query(
                "UPDATE webhook_deliveries SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
                     locked_until = NULL, updated_at = $5 \
                 WHERE id = $1 AND locked_until = $2",
            )
            .bind(a.delivery_id)
            .bind(Ts(a.lease.trunc_subsecs(3)))
            .bind(state_name(a.outcome))
            .bind(next)
            .bind(Ts(a.at))
            .execute(&mut *conn)
            .await
            .db()?
            .rows_affected()
                == 1;
            if applied {
                let q = match &a.health {
                    EndpointHealth::Healthy => sqlx::query(
                        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                    )
                    .bind(a.endpoint_id.as_uuid()),
                    EndpointHealth::Failing { since } => sqlx::query(
                        "UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
                    )
                    .bind(a.endpoint_id.as_uuid())
                    .bind(Ts(*since)),
                    EndpointHealth::Disable { reason } => sqlx::query(
                        "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(a.endpoint_id.as_uuid())
                    .bind(false)
                    .bind(reason.as_str())
                    .bind(Ts(a.at)),
                };
                q.execute(&mut *conn).await.db()?;
            }
            Ok(applied)
        }

        /// Before an endpoint is enabled (created, or enabled again): if none is enabled
        /// yet, the fan-out's cursor, which stays still while nobody subscribes, moves to
        /// the newest event, so what was recorded meanwhile is not sent.
        async fn fan_out_from_now_if_idle(conn: &mut $conn) -> Result<()> {
            sqlx::query(
                "UPDATE webhook_fanout SET inbox_event_id = (SELECT COALESCE(MAX(id), 0) FROM inbox_events), \
                     generation = generation + 1 \
                 WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled)",
            )
            .execute(conn)
            .await
            .db()?;
            Ok(())
        }

        /// [`record_attempt`] for deliveries that succeeded under one claim (one lease, one
        /// `at`), in a few statements for all of them.
        async fn record_deliveries(conn: &mut $conn, run: &[WebhookAttempt]) -> Result<Vec<bool>> {
            let (lease, at) = (Ts(run[0].lease.trunc_subsecs(3)), Ts(run[0].at));
            let ids: Vec<i64> = run.iter().map(|a| a.delivery_id).collect();
            let mut delivered = Vec::with_capacity(ids.len());
            let mut existing = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                let mut qb = QueryBuilder::new("UPDATE webhook_deliveries SET state = 'delivered', locked_until = NULL, updated_at = ");
                qb.push_bind(at).push(" WHERE locked_until = ").push_bind(lease).push(" AND id IN ");
                $crate::ids::push_ids(&mut qb, chunk);
                qb.push(" RETURNING id");
                let applied = qb.build_query_scalar::<i64>().fetch_all(&mut *conn).await.db()?;
                if applied.len() == chunk.len() {
                    existing.extend_from_slice(chunk);
                } else {
                    // The log keeps attempts whose claim ran out too, if their delivery exists.
                    let mut qb = QueryBuilder::new("SELECT id FROM webhook_deliveries WHERE id IN ");
                    $crate::ids::push_ids(&mut qb, chunk);
                    existing.extend(qb.build_query_scalar::<i64>().fetch_all(&mut *conn).await.db()?);
                }
                delivered.extend(applied);
            }
            let logged: Vec<&WebhookAttempt> = run.iter().filter(|a| existing.contains(&a.delivery_id)).collect();
            for chunk in $crate::ids::pow2_chunks(&logged) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status, latency_ms, response, error) ",
                );
                qb.push_values(chunk, |mut row, a| {
                    row.push_bind(a.delivery_id)
                        .push_bind(*a.endpoint_id.as_uuid())
                        .push_bind(Ts(a.at))
                        .push_bind(a.status.map(i32::from))
                        .push_bind(a.latency_ms)
                        .push_bind(a.response.as_deref())
                        .push_bind(a.error.as_deref());
                });
                qb.build().execute(&mut *conn).await.db()?;
            }
            let mut endpoints: Vec<Uuid> =
                run.iter().filter(|a| delivered.contains(&a.delivery_id)).map(|a| *a.endpoint_id.as_uuid()).collect();
            endpoints.sort_unstable();
            endpoints.dedup();
            if !endpoints.is_empty() {
                let mut qb = QueryBuilder::new("UPDATE webhook_endpoints SET failing_since = NULL WHERE failing_since IS NOT NULL AND id IN ");
                $crate::ids::push_ids(&mut qb, &endpoints);
                qb.build().execute(&mut *conn).await.db()?;
            }
            Ok(run.iter().map(|a| delivered.contains(&a.delivery_id)).collect())
        }

        #[$crate::reexport::async_trait]
        impl WebhookStore for $store {
            async fn create_webhook_endpoint(&self, e: &NewWebhookEndpoint) -> Result<WebhookEndpoint> {
                let mut w = self.begin_write().await?;
                fan_out_from_now_if_idle(w.conn()).await?;
                sqlx::query(
                    "INSERT INTO webhook_endpoints (id, url, description, event_types, enabled, secret_key_id, secret, \
                         created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(e.id.as_uuid())
                .bind(e.url.as_str())
                .bind(&e.description)
                .bind(event_types_json(&e.event_types))
                .bind(true)
                .bind(&e.secret.key_id)
                .bind(&e.secret.sealed)
                .bind(Ts(e.at))
                .execute(w.conn())
                .await
                .db()?;
                let created = endpoint(w.conn(), e.id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(created)
            }

            async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
                let mut conn = self.pool().acquire().await.db()?;
                all_endpoints(&mut conn, false).await
            }

            async fn webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>> {
                let mut conn = self.pool().acquire().await.db()?;
                endpoint(&mut conn, id).await
            }

            async fn update_webhook_endpoint(
                &self,
                id: WebhookEndpointId,
                patch: &WebhookEndpointPatch,
                at: DateTime<Utc>,
            ) -> Result<WebhookEndpoint> {
                let mut w = self.begin_write().await?;
                if patch.enabled == Some(true)
                    && endpoint(w.conn(), id).await?.is_some_and(|e| !e.enabled)
                {
                    fan_out_from_now_if_idle(w.conn()).await?;
                }
                let reason = patch.enabled.map(|on| if on { None } else { Some("disabled by an admin") });
                let n = sqlx::query(
                    "UPDATE webhook_endpoints SET \
                         url = COALESCE($2, url), \
                         description = COALESCE($3, description), \
                         event_types = COALESCE($4, event_types), \
                         enabled = COALESCE($5, enabled), \
                         disabled_reason = CASE WHEN $5 IS NULL THEN disabled_reason \
                                                WHEN $5 THEN NULL ELSE COALESCE($6, disabled_reason) END, \
                         failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END, \
                         updated_at = $7 \
                     WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(patch.url.as_ref().map(WebhookUrl::as_str))
                .bind(patch.description.as_deref())
                .bind(patch.event_types.as_deref().map(event_types_json))
                .bind(patch.enabled)
                .bind(reason.flatten())
                .bind(Ts(at))
                .execute(w.conn())
                .await
                .db()?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                let updated = endpoint(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(updated)
            }

            async fn rotate_webhook_secret(
                &self,
                id: WebhookEndpointId,
                secret: &SealedSecret,
                previous_until: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> Result<WebhookEndpoint> {
                let mut w = self.begin_write().await?;
                let n = sqlx::query(
                    "UPDATE webhook_endpoints SET previous_secret_key_id = secret_key_id, previous_secret = secret, \
                         previous_secret_until = $4, secret_key_id = $2, secret = $3, updated_at = $5 \
                     WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(&secret.key_id)
                .bind(&secret.sealed)
                .bind(Ts(previous_until))
                .bind(Ts(at))
                .execute(w.conn())
                .await
                .db()?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                let updated = endpoint(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(updated)
            }

            async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<()> {
                let mut w = self.begin_write().await?;
                // The log rows go with their deliveries (ON DELETE CASCADE).
                let n = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                    .bind(id.as_uuid())
                    .execute(w.conn())
                    .await
                    .db()?
                    .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                // Messages no endpoint needs any more.
                sqlx::query(
                    "DELETE FROM webhook_messages WHERE NOT EXISTS \
                         (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
                )
                .execute(w.conn())
                .await
                .db()?;
                w.commit().await
            }

            async fn webhook_fanout_batch(&self, limit: u32) -> Result<WebhookFanoutBatch> {
                let mut conn = self.pool().acquire().await.db()?;
                let (cursor, generation): (i64, i64) =
                    sqlx::query_as("SELECT inbox_event_id, generation FROM webhook_fanout WHERE id = 1")
                        .fetch_one(&mut *conn)
                        .await
                        .db()?;
                let endpoints = all_endpoints(&mut conn, true).await?;
                let rows: Vec<(i64, Uuid, String, Ts)> = sqlx::query_as(
                    "SELECT id, contact_id, kind, at FROM contact_changes ORDER BY id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await
                .db()?;
                drop(conn);
                let contact_changes = rows
                    .into_iter()
                    .map(|(id, contact, kind, at)| {
                        Ok(ContactChange {
                            id,
                            contact_id: ContactId::from_uuid(contact),
                            kind: match kind.as_str() {
                                "created" => ContactChangeKind::Created,
                                "updated" => ContactChangeKind::Updated,
                                "opted_out" => ContactChangeKind::ConsentChanged(
                                    switchboard_domain::consent::ConsentState::OptedOut,
                                ),
                                "opted_in" => ContactChangeKind::ConsentChanged(
                                    switchboard_domain::consent::ConsentState::OptedIn,
                                ),
                                other => return Err(corrupt(format!("contact change kind {other:?}"))),
                            },
                            at: at.0,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                // Nothing subscribes: the cursor stays (the first endpoint enabled moves it).
                let events =
                    if endpoints.is_empty() { Vec::new() } else { self.inbox_events_after(cursor, limit).await? };
                Ok(WebhookFanoutBatch { generation, cursor, events, contact_changes, endpoints })
            }

            async fn commit_webhook_fanout(&self, f: &WebhookFanout) -> Result<bool> {
                let mut w = self.begin_write().await?;
                let moved = sqlx::query(
                    "UPDATE webhook_fanout SET inbox_event_id = $1, generation = generation + 1 \
                     WHERE id = 1 AND generation = $2",
                )
                .bind(f.cursor)
                .bind(f.generation)
                .execute(w.conn())
                .await
                .db()?
                .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                if !f.messages.is_empty() {
                    // An endpoint deleted since the batch was read gets nothing.
                    let mut wanted: Vec<Uuid> =
                        f.messages.iter().flat_map(|m| m.endpoints.iter().map(|e| *e.as_uuid())).collect();
                    wanted.sort_unstable();
                    wanted.dedup();
                    let mut qb = QueryBuilder::new("SELECT id FROM webhook_endpoints WHERE id IN ");
                    $crate::ids::push_ids(&mut qb, &wanted);
                    let existing: Vec<Uuid> = qb.build_query_scalar().fetch_all(w.conn()).await.db()?;
                    for chunk in $crate::ids::pow2_chunks(&f.messages) {
                        let mut qb =
                            QueryBuilder::new("INSERT INTO webhook_messages (id, event_type, payload, order_key, created_at) ");
                        qb.push_values(chunk, |mut row, m| {
                            row.push_bind(*m.id.as_uuid())
                                .push_bind(m.event_type.as_str())
                                .push_bind(m.payload.as_str())
                                .push_bind(m.order_key)
                                .push_bind(Ts(f.at));
                        });
                        qb.build().execute(w.conn()).await.db()?;
                    }
                    let deliveries: Vec<(Uuid, Uuid)> = f
                        .messages
                        .iter()
                        .flat_map(|m| m.endpoints.iter().map(move |e| (*e.as_uuid(), *m.id.as_uuid())))
                        .filter(|(e, _)| existing.contains(e))
                        .collect();
                    for chunk in $crate::ids::pow2_chunks(&deliveries) {
                        let mut qb = QueryBuilder::new(
                            "INSERT INTO webhook_deliveries (endpoint_id, message_id, next_attempt_at, created_at, updated_at) ",
                        );
                        qb.push_values(chunk, |mut row, (endpoint, message)| {
                            row.push_bind(*endpoint)
                                .push_bind(*message)
                                .push_bind(Ts(f.at))
                                .push_bind(Ts(f.at))
                                .push_bind(Ts(f.at));
                        });
                        qb.build().execute(w.conn()).await.db()?;
                    }
                }
                if !f.contact_changes.is_empty() {
                    for chunk in f.contact_changes.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let mut qb = QueryBuilder::new("DELETE FROM contact_changes WHERE id IN ");
                        $crate::ids::push_ids(&mut qb, chunk);
                        qb.build().execute(w.conn()).await.db()?;
                    }
                }
                w.commit().await?;
                Ok(true)
            }

            async fn claim_webhook_deliveries(
                &self,
                now: DateTime<Utc>,
                lease: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<WebhookJob>> {
                // The lease is the claim's token: compared for equality later, so at the
                // precision both dialects keep.
                let lease = lease.trunc_subsecs(3);
                // A read first: with nothing due, no write transaction is opened (on SQLite
                // even one that writes nothing would wake every commit watcher, this
                // worker included).
                let due: bool = sqlx::query_scalar(&format!(
                    "SELECT EXISTS (SELECT 1 FROM webhook_deliveries d {DUE})"
                ))
                .bind(Ts(now))
                .fetch_one(self.pool())
                .await
                .db()?;
                if !due {
                    return Ok(Vec::new());
                }
                let mut w = self.begin_write().await?;
                let claimed: Vec<(i64, Uuid, Uuid, i64)> = sqlx::query_as(&format!(
                    "UPDATE webhook_deliveries SET locked_until = $1, attempts = attempts + 1, updated_at = $2 \
                     WHERE id IN (SELECT d.id FROM webhook_deliveries d {} \
                                  ORDER BY d.next_attempt_at, d.id LIMIT $3{CLAIM_LOCK}) \
                     RETURNING id, endpoint_id, message_id, attempts",
                    DUE.replace("$1", "$2")
                ))
                .bind(Ts(lease))
                .bind(Ts(now))
                .bind(i64::from(limit))
                .fetch_all(w.conn())
                .await
                .db()?;
                if claimed.is_empty() {
                    return Ok(Vec::new());
                }
                let endpoints = all_endpoints(w.conn(), false).await?;
                let mut message_ids: Vec<Uuid> = claimed.iter().map(|c| c.2).collect();
                message_ids.sort_unstable();
                message_ids.dedup();
                let mut bodies = std::collections::HashMap::with_capacity(message_ids.len());
                for chunk in message_ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                    let mut qb =
                        QueryBuilder::new("SELECT id, event_type, payload, order_key FROM webhook_messages WHERE id IN ");
                    $crate::ids::push_ids(&mut qb, chunk);
                    let rows: Vec<(Uuid, String, String, Option<Uuid>)> =
                        qb.build_query_as().fetch_all(w.conn()).await.db()?;
                    bodies.extend(rows.into_iter().map(|(id, kind, payload, key)| (id, (kind, payload, key))));
                }
                let mut jobs = Vec::with_capacity(claimed.len());
                for (id, endpoint_id, message_id, attempts) in claimed {
                    let (kind, payload, order_key) = bodies
                        .get(&message_id)
                        .cloned()
                        .ok_or_else(|| corrupt(format!("webhook delivery {id} without its message")))?;
                    let endpoint = endpoints
                        .iter()
                        .find(|e| *e.id.as_uuid() == endpoint_id)
                        .cloned()
                        .ok_or_else(|| corrupt(format!("webhook delivery {id} without its endpoint")))?;
                    jobs.push(WebhookJob {
                        delivery_id: id,
                        lease,
                        attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                        endpoint,
                        message_id: WebhookMessageId::from_uuid(message_id),
                        event_type: event_type(&kind)?,
                        payload,
                        order_key,
                    });
                }
                w.commit().await?;
                jobs.sort_by_key(|j| j.delivery_id);
                Ok(jobs)
            }

            async fn record_webhook_attempts(&self, attempts: &[WebhookAttempt]) -> Result<Vec<bool>> {
                if attempts.is_empty() {
                    return Ok(Vec::new());
                }
                let mut w = self.begin_write().await?;
                let mut applied = Vec::with_capacity(attempts.len());
                let mut rest = attempts;
                while let Some(first) = rest.first() {
                    // A run of deliveries under one claim is applied set-wise; anything
                    // else (a failure, a retry) one attempt at a time.
                    let run = rest
                        .iter()
                        .take_while(|a| {
                            a.outcome == WebhookJobOutcome::Delivered
                                && a.health == EndpointHealth::Healthy
                                && a.lease == first.lease
                                && a.at == first.at
                        })
                        .count();
                    if run == 0 {
                        applied.push(record_attempt(w.conn(), first).await?);
                        rest = &rest[1..];
                    } else {
                        let (delivered, after) = rest.split_at(run);
                        applied.extend(record_deliveries(w.conn(), delivered).await?);
                        rest = after;
                    }
                }
                w.commit().await?;
                Ok(applied)
            }

            async fn webhook_attempts(
                &self,
                endpoint: WebhookEndpointId,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<WebhookAttemptView>> {
                let rows: Vec<(i64, Uuid, String, Ts, Option<i32>, i64, Option<String>, Option<String>, String)> =
                    sqlx::query_as(
                        "SELECT a.id, m.id, m.event_type, a.attempted_at, a.status, a.latency_ms, a.response, a.error, d.state \
                         FROM webhook_attempts a \
                         JOIN webhook_deliveries d ON d.id = a.delivery_id \
                         JOIN webhook_messages m ON m.id = d.message_id \
                         WHERE a.endpoint_id = $1 AND ($2 IS NULL OR a.id < $2) \
                         ORDER BY a.id DESC LIMIT $3",
                    )
                    .bind(endpoint.as_uuid())
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await
                    .db()?;
                rows.into_iter()
                    .map(|(id, message, kind, at, status, latency_ms, response, error, state)| {
                        Ok(WebhookAttemptView {
                            id,
                            message_id: WebhookMessageId::from_uuid(message),
                            event_type: event_type(&kind)?,
                            attempted_at: at.0,
                            status: status.and_then(|s| u16::try_from(s).ok()),
                            latency_ms,
                            response,
                            error,
                            delivery_state: state,
                        })
                    })
                    .collect()
            }

            async fn webhook_deliveries(
                &self,
                endpoint: WebhookEndpointId,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<(i64, WebhookDeliveryView)>> {
                let rows: Vec<(i64, Uuid, String, String, i64, Ts, Ts)> = sqlx::query_as(
                    "SELECT d.id, m.id, m.event_type, d.state, d.attempts, d.next_attempt_at, d.created_at \
                     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
                     WHERE d.endpoint_id = $1 AND ($2 IS NULL OR d.id < $2) \
                     ORDER BY d.id DESC LIMIT $3",
                )
                .bind(endpoint.as_uuid())
                .bind(before)
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await
                .db()?;
                rows.into_iter()
                    .map(|(id, message, kind, state, attempts, next, created)| {
                        let pending = state == "pending";
                        Ok((
                            id,
                            WebhookDeliveryView {
                                message_id: WebhookMessageId::from_uuid(message),
                                event_type: event_type(&kind)?,
                                state,
                                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                                next_attempt_at: opt_time(pending.then_some(next)),
                                created_at: created.0,
                            },
                        ))
                    })
                    .collect()
            }

            async fn delete_old_webhook_messages(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
                let mut w = self.begin_write().await?;
                // The deliveries and their attempts go with the message (ON DELETE CASCADE).
                let n = sqlx::query(
                    "DELETE FROM webhook_messages WHERE id IN (SELECT m.id FROM webhook_messages m \
                       WHERE m.created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
                         WHERE d.message_id = m.id AND d.state = 'pending') \
                       ORDER BY m.created_at LIMIT $2)",
                )
                .bind(Ts(before))
                .bind(i64::from(limit))
                .execute(w.conn())
                .await
                .db()?
                .rows_affected();
                w.commit().await?;
                Ok(n)
            }

            async fn replay_webhook_messages(
                &self,
                endpoint: WebhookEndpointId,
                what: WebhookReplay,
                now: DateTime<Utc>,
            ) -> Result<u64> {
                let mut w = self.begin_write().await?;
                let set = "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, \
                               locked_until = NULL, updated_at = $2 WHERE endpoint_id = $1";
                let n = match what {
                    WebhookReplay::One(message) => sqlx::query(&format!("{set} AND message_id = $3"))
                        .bind(endpoint.as_uuid())
                        .bind(Ts(now))
                        .bind(message.as_uuid())
                        .execute(w.conn())
                        .await
                        .db()?
                        .rows_affected(),
                    WebhookReplay::Range { from, to } => sqlx::query(&format!(
                        "{set} AND message_id IN (SELECT id FROM webhook_messages WHERE created_at >= $3 AND created_at < $4)"
                    ))
                    .bind(endpoint.as_uuid())
                    .bind(Ts(now))
                    .bind(Ts(from))
                    .bind(Ts(to))
                    .execute(w.conn())
                    .await
                    .db()?
                    .rows_affected(),
                };
                w.commit().await?;
                Ok(n)
            }
        }
    };
}
