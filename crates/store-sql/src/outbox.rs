//! The outbox's bookkeeping of failed and retried sends, the same in both dialects.

use switchboard_domain::StatusError;

/// Whether outbox row `o`, whose recipient is contact `ct`, may not be sent because the
/// contact opted out: an automatic message (but the opt-out's own confirmation) or a
/// template. A literal, for `concat!`.
#[macro_export]
macro_rules! withheld_by_consent {
    () => {
        "(ct.opted_out_at IS NOT NULL AND EXISTS (SELECT 1 FROM messages wm WHERE wm.id = o.message_id \
           AND (wm.kind = 'template' OR (wm.sent_by IS NULL AND wm.auto_rule IS NOT NULL AND wm.auto_rule <> 'consent'))))"
    };
}

/// The text kept as a job's `last_error` for Meta's error.
pub fn describe(e: &StatusError) -> String {
    match &e.details {
        Some(d) if !d.is_empty() && *d != e.title => format!("{} ({}): {d}", e.title, e.code),
        _ => format!("{} ({})", e.title, e.code),
    }
}

/// Expands, in a backend's `outbox` module, to `complete_one` (records a send's retry or
/// failure) for connection `$conn`. The module provides `MESSAGE_LOCK` (the clause that
/// locks a message read before its delivery is updated, if any), `update_delivery` and
/// `nul`'s `text`.
#[macro_export]
macro_rules! outbox_failures {
    ($conn:ty) => {
        use shared::complete_one;

        mod shared {
            #![allow(unused_imports)]
            use super::*;
            use chrono::{DateTime, Utc};
            use switchboard_domain::{DeliveryState, MessageId, StatusError};
            use switchboard_store::{OutboxState, Result, SendOutcome, SendResult};

            use $crate::outbox::describe;
            use $crate::rows::DeliveryRow;
            use $crate::{DbResultExt, Ts};

            pub(crate) async fn complete_one(conn: &mut $conn, r: &SendResult, at: DateTime<Utc>) -> Result<()> {
                match &r.outcome {
                    // Recorded set-wise, for the whole batch, by `complete_sent`.
                    SendOutcome::Sent { .. } => Ok(()),
                    SendOutcome::Retry { run_at, error } => {
                        let n = sqlx::query(
                            "UPDATE outbox SET run_at = $1, locked_until = NULL, last_error = $2, updated_at = $3 \
                             WHERE id = $4 AND message_id = $5 AND state = 'ready' AND locked_until = $6",
                        )
                        .bind(Ts(*run_at))
                        .bind(text(error))
                        .bind(Ts(at))
                        .bind(r.job_id.get())
                        .bind(r.message_id.as_uuid())
                        .bind(Ts(r.leased_until))
                        .execute(&mut *conn)
                        .await
                        .db()?
                        .rows_affected();
                        if n == 0 {
                            tracing::debug!(job = r.job_id.get(), "retry of a job no longer leased by this claim; ignored");
                        }
                        Ok(())
                    }
                    SendOutcome::Failed { error, dead } => {
                        let state = if *dead { OutboxState::Dead } else { OutboxState::Failed };
                        let n = sqlx::query(
                            "UPDATE outbox SET state = $1, locked_until = NULL, last_error = $2, updated_at = $3 \
                             WHERE id = $4 AND message_id = $5 AND state = 'ready' AND locked_until = $6",
                        )
                        .bind(state.as_str())
                        .bind(text(&describe(error)))
                        .bind(Ts(at))
                        .bind(r.job_id.get())
                        .bind(r.message_id.as_uuid())
                        .bind(Ts(r.leased_until))
                        .execute(&mut *conn)
                        .await
                        .db()?
                        .rows_affected();
                        if n == 0 {
                            tracing::debug!(job = r.job_id.get(), "failure of a job no longer leased by this claim; ignored");
                            return Ok(());
                        }
                        fail_message(conn, r.message_id, error, at).await
                    }
                }
            }

            /// Folds a send failure into the message like a `failed` status report: `failed_at`,
            /// and state `failed` with Meta's error if that moves it forward.
            async fn fail_message(conn: &mut $conn, id: MessageId, error: &StatusError, at: DateTime<Utc>) -> Result<()> {
                let sql = format!(
                    "SELECT id, channel_id, state, sent_at, delivered_at, read_at, failed_at FROM messages WHERE id = $1{MESSAGE_LOCK}"
                );
                let row: Option<DeliveryRow> = sqlx::query_as(&sql)
                .bind(id.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .db()?;
                let Some(row) = row else { return Ok(()) };
                let before = row.delivery()?;
                let mut after = before.clone();
                after.apply(DeliveryState::Failed, at, std::slice::from_ref(error));
                if after != before {
                    update_delivery(conn, row.id, None, &after).await?;
                }
                Ok(())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_described_with_their_code() {
        let e = |details: Option<&str>| StatusError {
            code: 131_026,
            title: "Message undeliverable".into(),
            details: details.map(str::to_owned),
            href: None,
        };
        assert_eq!(describe(&e(None)), "Message undeliverable (131026)");
        assert_eq!(describe(&e(Some("Not on WhatsApp"))), "Message undeliverable (131026): Not on WhatsApp");
        assert_eq!(describe(&e(Some("Message undeliverable"))), "Message undeliverable (131026)");
    }
}
