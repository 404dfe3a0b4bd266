//! Agents and their API tokens (`switchboard_store_sql::agents`); here, how an update
//! that could take the last admin away is checked.

use std::ops::ControlFlow;

use sqlx::PgConnection;
use switchboard_domain::{AgentId, AgentRole};
use switchboard_store::{Agent, AgentPatch, AgentUpdate, Result, StoreError};
use uuid::Uuid;

use crate::error::DbResultExt;
use crate::queue::record_history;
use crate::rows::AgentRow;

switchboard_store_sql::agent_store!(crate::PgStore, PgConnection);

/// The agent before `patch` (its row locked), or `LastAdmin` if the patch would leave no
/// active admin.
async fn agent_before_update(
    conn: &mut PgConnection,
    id: AgentId,
    patch: &AgentPatch,
) -> Result<ControlFlow<AgentUpdate, Agent>> {
    // A patch that may take an admin away locks the active admins first (always in id
    // order), so two admins demoting each other at once cannot both see the other one
    // left. Other patches (availability, capacity, names) need no such lock.
    let admins: Vec<Uuid> = if patch.role.is_some() || patch.active == Some(false) {
        sqlx::query_scalar("SELECT id FROM agents WHERE role = 'admin' AND active ORDER BY id FOR NO KEY UPDATE")
            .fetch_all(&mut *conn)
            .await
            .db()?
    } else {
        Vec::new()
    };
    let before: Option<AgentRow> =
        sqlx::query_as(&format!("SELECT {AGENT_COLS} FROM agents a WHERE a.id = $1 FOR NO KEY UPDATE"))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .db()?;
    let before: Agent = before.ok_or(StoreError::NotFound)?.try_into()?;
    let deactivating = before.active && patch.active == Some(false);
    let demoting = before.role == AgentRole::Admin && patch.role.is_some_and(|r| r != AgentRole::Admin);
    if before.active
        && before.role == AgentRole::Admin
        && (deactivating || demoting)
        && !admins.iter().any(|a| a != id.as_uuid())
    {
        return Ok(ControlFlow::Break(AgentUpdate::LastAdmin));
    }
    Ok(ControlFlow::Continue(before))
}
