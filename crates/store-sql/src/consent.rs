//! Consent (`switchboard_store::ConsentStore`), and the keyword's change inside the
//! ingest transaction, the same in both dialects.

/// Expands, in a backend's `consent` module, to `ConsentStore` for `$store` and to
/// `record` (a change of a contact's consent, on a connection `$conn` inside the caller's
/// transaction). The module provides `nul`'s `json` and `text`, and `FOR_UPDATE` (the row
/// lock clause of the contact read before a change, if any).
#[macro_export]
macro_rules! consent_store {
    ($store:ty, $conn:ty) => {
        pub(crate) use shared::record;

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use sqlx::types::Json;
            use switchboard_domain::consent::{ConsentEvent, ConsentSettings, ConsentSource, ConsentState};
            use switchboard_domain::{AgentId, ContactId, MessageId};
            use switchboard_store::{ConsentChange, ConsentStore, NewConsent, Result, StoreError};
            use uuid::Uuid;

            use $crate::rows::corrupt;
            use $crate::{DbResultExt, Ts};

            /// Moves the contact to `c.state` and appends to the history, unless it is
            /// in that state already.
            pub(crate) async fn record(conn: &mut $conn, c: &NewConsent<'_>) -> Result<ConsentChange> {
                let sql = format!("SELECT opted_out_at FROM contacts WHERE id = $1{FOR_UPDATE}");
                let row: Option<(Option<Ts>,)> =
                    sqlx::query_as(&sql).bind(c.contact.as_uuid()).fetch_optional(&mut *conn).await.db()?;
                let Some((opted_out_at,)) = row else { return Err(StoreError::NotFound) };
                let now_out = opted_out_at.is_some();
                if now_out == (c.state == ConsentState::OptedOut) {
                    return Ok(ConsentChange::Unchanged);
                }
                let (at, source) = match c.state {
                    ConsentState::OptedOut => (Some(Ts(c.at)), Some(c.source.as_str())),
                    ConsentState::OptedIn => (None, None),
                };
                sqlx::query("UPDATE contacts SET opted_out_at = $2, opted_out_source = $3 WHERE id = $1")
                    .bind(c.contact.as_uuid())
                    .bind(at)
                    .bind(source)
                    .execute(&mut *conn)
                    .await
                    .db()?;
                sqlx::query(
                    "INSERT INTO consent_events (contact_id, state, source, message_id, agent_id, note, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(c.contact.as_uuid())
                .bind(c.state.as_str())
                .bind(c.source.as_str())
                .bind(c.message_id.map(|m| *m.as_uuid()))
                .bind(c.agent_id.map(|a| *a.as_uuid()))
                .bind(c.note.map(|n| text(n).into_owned()))
                .bind(Ts(c.at))
                .execute(&mut *conn)
                .await
                .db()?;
                // For outgoing webhooks (`contact.consent_changed`), with the change.
                sqlx::query("INSERT INTO contact_changes (contact_id, kind, at) VALUES ($1, $2, $3)")
                    .bind(c.contact.as_uuid())
                    .bind(c.state.as_str())
                    .bind(Ts(c.at))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                Ok(ConsentChange::Changed)
            }

            type EventRow = (String, String, Option<Uuid>, Option<Uuid>, Option<String>, Ts);

            #[$crate::reexport::async_trait]
            impl ConsentStore for $store {
                async fn consent_settings(&self) -> Result<Option<ConsentSettings>> {
                    let doc: Option<Json<serde_json::Value>> =
                        sqlx::query_scalar("SELECT settings FROM consent_settings WHERE id = 1")
                            .fetch_optional(self.pool())
                            .await
                            .db()?;
                    doc.map(|Json(v)| {
                        serde_json::from_value(v).map_err(|e| corrupt(format!("consent settings: {e}")))
                    })
                    .transpose()
                }

                async fn put_consent_settings(&self, settings: &ConsentSettings, at: DateTime<Utc>) -> Result<()> {
                    let mut w = self.begin_write().await?;
                    let conn = w.conn();
                    sqlx::query(
                        "INSERT INTO consent_settings (id, settings, updated_at) VALUES (1, $1, $2) \
                         ON CONFLICT (id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
                    )
                    .bind(json(settings)?)
                    .bind(Ts(at))
                    .execute(&mut *conn)
                    .await
                    .db()?;
                    // The ingest worker keeps the keywords with the auto-reply
                    // configuration, until its version moves.
                    sqlx::query("UPDATE auto_reply_version SET version = version + 1 WHERE id = 1")
                        .execute(&mut *conn)
                        .await
                        .db()?;
                    w.commit().await
                }

                async fn consent_history(&self, contact: ContactId) -> Result<Vec<ConsentEvent>> {
                    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1)")
                        .bind(contact.as_uuid())
                        .fetch_one(self.pool())
                        .await
                        .db()?;
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let rows: Vec<EventRow> = sqlx::query_as(
                        "SELECT state, source, message_id, agent_id, note, at FROM consent_events \
                         WHERE contact_id = $1 ORDER BY id",
                    )
                    .bind(contact.as_uuid())
                    .fetch_all(self.pool())
                    .await
                    .db()?;
                    rows.into_iter()
                        .map(|(state, source, message, agent, note, Ts(at))| {
                            Ok(ConsentEvent {
                                state: ConsentState::parse(&state)
                                    .ok_or_else(|| corrupt(format!("consent state {state:?}")))?,
                                source: ConsentSource::parse(&source)
                                    .ok_or_else(|| corrupt(format!("consent source {source:?}")))?,
                                message_id: message.map(MessageId::from_uuid),
                                agent_id: agent.map(AgentId::from_uuid),
                                note,
                                at,
                            })
                        })
                        .collect()
                }

                async fn record_consent(&self, c: &NewConsent<'_>) -> Result<ConsentChange> {
                    let mut w = self.begin_write().await?;
                    let change = record(w.conn(), c).await?;
                    w.commit().await?;
                    Ok(change)
                }
            }
        }
    };
}
