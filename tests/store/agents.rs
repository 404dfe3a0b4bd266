//! Agents and API tokens.

use std::sync::Arc;

use chrono::Duration;
use switchboard_domain::{AgentName, AgentRole, Email, NewAgent, TokenHash};
use switchboard_store::{Store, StoreError};
use switchboard_tests::TestDb;

use crate::fixtures::{exec, query_time_ms, t, uuid_literal};

conformance!(
    stories: [an_agent_is_found_by_its_token, a_taken_email_is_a_conflict],
    with_db: [last_use_is_recorded_at_most_once_a_minute, revoked_tokens_and_inactive_agents_are_refused],
);

fn new_agent(email: &str, role: AgentRole) -> NewAgent {
    NewAgent { name: AgentName::parse("Ana Pérez").unwrap(), email: Email::parse(email).unwrap(), role }
}

fn token(n: u8) -> TokenHash {
    TokenHash::from_bytes([n; 32])
}

async fn an_agent_is_found_by_its_token(store: Arc<dyn Store>) {
    let agent = store.create_agent(&new_agent("ana@example.com", AgentRole::Admin), &token(1), t(0)).await.unwrap();
    assert_eq!(agent.name.as_str(), "Ana Pérez");
    assert_eq!(agent.email.as_str(), "ana@example.com");
    assert_eq!(agent.role, AgentRole::Admin);
    assert!(agent.active);
    assert_eq!(agent.created_at, t(0));

    let other = store.create_agent(&new_agent("bo@example.com", AgentRole::Agent), &token(2), t(1)).await.unwrap();
    assert_eq!(store.agent_by_token(&token(1), t(5)).await.unwrap(), Some(agent));
    assert_eq!(store.agent_by_token(&token(2), t(5)).await.unwrap(), Some(other));
    assert_eq!(store.agent_by_token(&token(3), t(5)).await.unwrap(), None);
}

async fn a_taken_email_is_a_conflict(store: Arc<dyn Store>) {
    store.create_agent(&new_agent("ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let err = store.create_agent(&new_agent("ANA@example.com", AgentRole::Admin), &token(2), t(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "agent email" }), "{err:?}");
    // Nothing of the refused agent was kept, its token included.
    assert_eq!(store.agent_by_token(&token(2), t(2)).await.unwrap(), None);
}

async fn last_use_is_recorded_at_most_once_a_minute(db: &TestDb, store: Arc<dyn Store>) {
    store.create_agent(&new_agent("ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    let last_used = || query_time_ms(db, "SELECT last_used_at FROM api_tokens");
    assert_eq!(last_used().await, None);
    store.agent_by_token(&token(1), t(100)).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(t(100).timestamp_millis()));
    store.agent_by_token(&token(1), t(100) + Duration::seconds(59)).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(t(100).timestamp_millis()));
    store.agent_by_token(&token(1), t(100) + Duration::seconds(61)).await.unwrap().unwrap();
    assert_eq!(last_used().await, Some(t(161).timestamp_millis()));
}

async fn revoked_tokens_and_inactive_agents_are_refused(db: &TestDb, store: Arc<dyn Store>) {
    // No port revokes or deactivates yet: the story does it with SQL.
    let ana = store.create_agent(&new_agent("ana@example.com", AgentRole::Agent), &token(1), t(0)).await.unwrap();
    store.create_agent(&new_agent("bo@example.com", AgentRole::Agent), &token(2), t(0)).await.unwrap();
    let now = match db.backend {
        switchboard_tests::Backend::Sqlite => "1",
        switchboard_tests::Backend::Postgres => "now()",
    };
    exec(
        db,
        &format!("UPDATE api_tokens SET revoked_at = {now} WHERE agent_id = {}", uuid_literal(db, ana.id.as_uuid())),
    )
    .await;
    assert_eq!(store.agent_by_token(&token(1), t(1)).await.unwrap(), None);

    let inactive = match db.backend {
        switchboard_tests::Backend::Sqlite => "0",
        switchboard_tests::Backend::Postgres => "FALSE",
    };
    exec(db, &format!("UPDATE agents SET active = {inactive} WHERE email = 'bo@example.com'")).await;
    assert_eq!(store.agent_by_token(&token(2), t(1)).await.unwrap(), None);
}
