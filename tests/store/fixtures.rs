//! Builders for the stories: times, deliveries, contacts, messages, status reports, and a
//! little backend-specific SQL.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, SqliteConnection};
use switchboard_domain::inbound::{InboundContact, InboundMessage, StatusReport, StatusValue};
use switchboard_domain::{
    ChannelId, ConversationId, DeliveryState, EventId, MessageContent, MessageId, PhoneNumberId, StatusError, WaId,
    Wamid,
};
use switchboard_store::{
    ChannelInfo, InboundOutcome, IngestBatch, IngestTx, NewEvent, NewInbound, NewOutboundMessage, StatusOutcome, Store,
};
use switchboard_tests::{Backend, TestDb};
use uuid::Uuid;

/// A fixed instant plus `secs` seconds (whole seconds: both backends keep them exactly).
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap() + chrono::Duration::seconds(secs)
}

pub fn event(body: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        body_time: switchboard_cloudapi::delivery_time(body.as_bytes()),
        body_sha256: Sha256::digest(body.as_bytes()).into(),
        body: body.as_bytes().to_vec().into(),
        received_at: at,
    }
}

pub fn wamid(s: &str) -> Wamid {
    Wamid::parse(s).unwrap()
}

pub async fn channel(store: &dyn Store, phone_number_id: &str) -> ChannelInfo {
    store.upsert_channel(&PhoneNumberId::parse(phone_number_id).unwrap(), "Support", t(0)).await.unwrap()
}

pub fn contact(wa_id: &str, profile_name: Option<&str>) -> InboundContact {
    InboundContact {
        wa_id: WaId::parse(wa_id).unwrap(),
        profile_name: profile_name.map(str::to_owned),
        user_id: None,
        parent_user_id: None,
        username: None,
    }
}

pub fn message(id: &str, from: &InboundContact, at: DateTime<Utc>, content: MessageContent) -> InboundMessage {
    InboundMessage {
        wamid: wamid(id),
        from: Some(from.wa_id.clone()),
        from_user_id: None,
        timestamp: at,
        raw: serde_json::json!({"id": id, "type": content.kind().as_str()}),
        content,
        context: None,
        referral: None,
        errors: Vec::new(),
    }
}

pub fn text(id: &str, from: &InboundContact, at: DateTime<Utc>, body: &str) -> InboundMessage {
    message(id, from, at, MessageContent::Text { body: body.to_owned() })
}

pub fn status(id: &str, state: DeliveryState, at: DateTime<Utc>) -> StatusReport {
    StatusReport {
        wamid: wamid(id),
        state: StatusValue::Known(state),
        timestamp: at,
        recipient_id: Some("16505551234".into()),
        errors: Vec::new(),
        raw: serde_json::json!({"id": id, "status": state.as_str()}),
    }
}

pub fn failure(id: &str, at: DateTime<Utc>, code: i64, title: &str) -> StatusReport {
    StatusReport {
        errors: vec![StatusError {
            code,
            title: title.to_owned(),
            details: Some(format!("details of {code}")),
            href: None,
        }],
        ..status(id, DeliveryState::Failed, at)
    }
}

/// Appends a delivery of its own and opens an ingest transaction (which claims it, and
/// whatever else is pending). Returns the claimed event ids, the new one first.
pub async fn begin(store: &dyn Store) -> (Box<dyn IngestTx>, Vec<EventId>) {
    let appended = store.append_events(&[event(&Uuid::new_v4().to_string(), t(0))]).await.unwrap();
    assert!(matches!(appended[0], switchboard_store::Appended::New(_)));
    let IngestBatch { tx, events } = store.begin_ingest(1_000).await.unwrap().expect("the new event is pending");
    (tx, events.iter().map(|e| e.id).collect())
}

/// Marks the claimed events applied and commits.
pub async fn finish(mut tx: Box<dyn IngestTx>, events: &[EventId]) {
    tx.mark_applied(events, t(0)).await.unwrap();
    tx.commit().await.unwrap();
}

/// Applies one inbound message in an ingest transaction of its own.
pub async fn apply(
    store: &dyn Store,
    channel: ChannelId,
    contact: &InboundContact,
    message: &InboundMessage,
    window_closes_at: Option<DateTime<Utc>>,
) -> InboundOutcome {
    let (mut tx, events) = begin(store).await;
    let outcome = tx
        .apply_inbound(&NewInbound {
            event_id: events[0],
            channel,
            contact,
            message,
            received_at: message.timestamp,
            window_closes_at,
        })
        .await
        .unwrap();
    finish(tx, &events).await;
    outcome
}

/// Applies a text message and returns its conversation (and message).
pub async fn inbound_text(
    store: &dyn Store,
    channel: ChannelId,
    wa_id: &str,
    id: &str,
    at: DateTime<Utc>,
) -> (ConversationId, MessageId) {
    let c = contact(wa_id, Some("Ana"));
    match apply(store, channel, &c, &text(id, &c, at, "hello"), Some(at + chrono::Duration::hours(24))).await {
        InboundOutcome::Stored { conversation_id, message_id, .. } => (conversation_id, message_id),
        InboundOutcome::Duplicate => panic!("{id} was already stored"),
    }
}

/// Applies one status report in an ingest transaction of its own.
pub async fn apply_status(store: &dyn Store, channel: ChannelId, report: &StatusReport) -> StatusOutcome {
    let (mut tx, events) = begin(store).await;
    let outcome = tx.apply_status(channel, report, None, report.timestamp).await.unwrap();
    finish(tx, &events).await;
    outcome
}

pub async fn outbound(
    store: &dyn Store,
    conversation: ConversationId,
    wamid: Option<&str>,
    state: DeliveryState,
    at: DateTime<Utc>,
) -> MessageId {
    store
        .insert_outbound(&NewOutboundMessage {
            conversation_id: conversation,
            content: MessageContent::Text { body: "Thanks, on it".into() },
            state,
            wamid: wamid.map(self::wamid),
            sent_by: None,
            at,
        })
        .await
        .unwrap()
}

/// A UUID as a SQL literal of this backend.
pub fn uuid_literal(db: &TestDb, id: &Uuid) -> String {
    match db.backend {
        Backend::Sqlite => format!("X'{}'", id.simple()),
        Backend::Postgres => format!("'{id}'::uuid"),
    }
}

/// Runs one statement outside the store (for states no port produces yet).
pub async fn exec(db: &TestDb, sql: &str) {
    try_exec(db, sql).await.unwrap();
}

/// Runs one statement outside the store, which may fail.
pub async fn try_exec(db: &TestDb, sql: &str) -> Result<(), sqlx::Error> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await?;
            sqlx::query(sql).execute(&mut conn).await?;
            conn.close().await
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await?;
            sqlx::query(sql).execute(&mut conn).await?;
            conn.close().await
        }
    }
}

/// Reads one integer outside the store.
pub async fn query_i64(db: &TestDb, sql: &str) -> i64 {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            let v: i64 = sqlx::query_scalar(&format!("SELECT ({sql})::bigint")).fetch_one(&mut conn).await.unwrap();
            v
        }
    }
}

/// Reads one optional time outside the store (as milliseconds since the epoch).
pub async fn query_time_ms(db: &TestDb, sql: &str) -> Option<i64> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            let v: Option<DateTime<Utc>> = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
            v.map(|t| t.timestamp_millis())
        }
    }
}

/// A second store on the same database: another instance of the server.
pub async fn second_instance(db: &TestDb) -> Arc<dyn Store> {
    db.connect().await
}

/// Applies the migrations in `migrations/<backend>/` up to `version` (included), as a
/// database last migrated by an older release would be.
pub async fn migrate_up_to(db: &TestDb, version: i64) {
    let mut migrator = sqlx::migrate::Migrator::new(migrations_dir(db.backend)).await.unwrap();
    migrator.migrations = migrator.migrations.iter().filter(|m| m.version <= version).cloned().collect();
    // Creates the SQLite file.
    db.connect().await.close().await;
    match db.backend {
        Backend::Sqlite => migrator.run(&mut SqliteConnection::connect(&db.url).await.unwrap()).await.unwrap(),
        Backend::Postgres => migrator.run(&mut PgConnection::connect(&db.url).await.unwrap()).await.unwrap(),
    }
}

/// `migrations/<backend>/`.
pub fn migrations_dir(backend: Backend) -> std::path::PathBuf {
    let folder = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(folder)
}
