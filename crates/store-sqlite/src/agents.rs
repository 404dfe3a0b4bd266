//! Agents and their API tokens (`switchboard_store_sql::agents`); here, how an update
//! that could take the last admin away is checked.

use std::ops::ControlFlow;

use sqlx::SqliteConnection;
use switchboard_domain::{AgentId, AgentRole};
use switchboard_store::{Agent, AgentPatch, AgentUpdate, Result, StoreError};

use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::AgentRow;

switchboard_store_sql::agent_store!(crate::SqliteStore, SqliteConnection);

/// The agent before `patch`, or `LastAdmin` if the patch would leave no active admin.
/// The write gate makes this check and the update one step.
async fn agent_before_update(
    conn: &mut SqliteConnection,
    id: AgentId,
    patch: &AgentPatch,
) -> Result<ControlFlow<AgentUpdate, Agent>> {
    let before: Option<AgentRow> = sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(&mut *conn)
        .await
        .db()?;
    let before: Agent = before.ok_or(StoreError::NotFound)?.try_into()?;
    let deactivating = before.active && patch.active == Some(false);
    let demoting = before.role == AgentRole::Admin && patch.role.is_some_and(|r| r != AgentRole::Admin);
    if before.active && before.role == AgentRole::Admin && (deactivating || demoting) {
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE role = 'admin' AND active AND id <> $1")
                .bind(id.as_uuid())
                .fetch_one(&mut *conn)
                .await
                .db()?;
        if others == 0 {
            return Ok(ControlFlow::Break(AgentUpdate::LastAdmin));
        }
    }
    Ok(ControlFlow::Continue(before))
}
