//! Column types that read and write the same Rust value in each dialect's own form.
//!
//! | Rust            | SQLite                       | PostgreSQL    |
//! |-----------------|------------------------------|---------------|
//! | [`Ts`]          | INTEGER, epoch milliseconds  | `timestamptz` |
//! | [`Int`]         | INTEGER                      | `int4`/`int8` |
//! | `Uuid`          | 16-byte BLOB                 | `uuid`        |
//! | `Json<T>`       | TEXT                         | `jsonb`       |
//!
//! (`Uuid` and `Json` already do this in sqlx.) Shared rows and shared statements bind and
//! decode these, so one text serves both backends.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type, ValueRef};

/// A point in time as a column: epoch milliseconds in SQLite, `timestamptz` in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub DateTime<Utc>);

impl From<DateTime<Utc>> for Ts {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

impl From<Ts> for DateTime<Utc> {
    fn from(t: Ts) -> Self {
        t.0
    }
}

/// `Some(Ts)` of an optional time, to bind.
#[must_use]
pub fn opt_ts(t: Option<DateTime<Utc>>) -> Option<Ts> {
    t.map(Ts)
}

/// The time of an optional column.
#[must_use]
pub fn opt_time(t: Option<Ts>) -> Option<DateTime<Utc>> {
    t.map(|t| t.0)
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut <Sqlite as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, Sqlite>>::encode(self.0.timestamp_millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let ms = <i64 as Decode<'r, Sqlite>>::decode(value)?;
        DateTime::from_timestamp_millis(ms)
            .map(Self)
            .ok_or_else(|| format!("corrupt row: time {ms} out of range").into())
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for Ts {
    fn array_type_info() -> PgTypeInfo {
        <DateTime<Utc> as PgHasArrayType>::array_type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut <Postgres as Database>::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<'q, Postgres>>::encode_by_ref(&self.0, buf)
    }

    fn size_hint(&self) -> usize {
        <DateTime<Utc> as Encode<'q, Postgres>>::size_hint(&self.0)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(Self)
    }
}

/// An integer column: INTEGER in SQLite, `int4` or `int8` in PostgreSQL (read either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int(pub i64);

impl Type<Sqlite> for Int {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for Int {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<'r, Sqlite>>::decode(value).map(Self)
    }
}

impl Type<Postgres> for Int {
    fn type_info() -> PgTypeInfo {
        <i64 as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <i64 as Type<Postgres>>::compatible(ty) || <i32 as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Int {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if <i32 as Type<Postgres>>::compatible(&value.type_info()) {
            <i32 as Decode<'r, Postgres>>::decode(value).map(|n| Self(n.into()))
        } else {
            <i64 as Decode<'r, Postgres>>::decode(value).map(Self)
        }
    }
}

/// The columns of a `ConversationRow`, from conversations `c`, contacts `ct` and channels
/// `ch` (a literal, for `concat!`).
#[macro_export]
macro_rules! conversation_columns {
    () => {
        "SELECT c.id, c.channel_id, ch.phone_number_id, c.contact_id, ct.wa_id, ct.profile_name, \
           ct.user_id, ct.username, c.status, c.assignee_id, c.window_closes_at, c.last_inbound_at, \
           c.last_message_at, c.created_at, c.resolved_at, c.message_count, ct.name AS contact_name, \
           COALESCE(c.team_id, ch.team_id) AS team_id, c.waiting_since, CASE WHEN c.status = 'snoozed' THEN c.snoozed_until END AS snoozed_until, \
           c.link_id, ct.opted_out_at, \
           c.first_response_due_at, c.first_response_sla, c.resolution_due_at, c.resolution_sla, \
           c.sla_due_at "
    };
}

/// `conversation_columns!()` with its joins, up to the `WHERE`.
#[macro_export]
macro_rules! conversation_select {
    () => {
        concat!(
            $crate::conversation_columns!(),
            "FROM conversations c \
             JOIN contacts ct ON ct.id = c.contact_id \
             JOIN channels ch ON ch.id = c.channel_id "
        )
    };
}

/// The columns of a `MessageRow`, from `messages`, up to the `WHERE`.
#[macro_export]
macro_rules! message_select {
    () => {
        "SELECT id, conversation_id, direction, wamid, content, text, context, referral, errors, state, \
           timestamp, created_at, sent_at, delivered_at, read_at, failed_at, error_code, error_title, \
           error_details, sent_by, auto_rule \
         FROM messages "
    };
}
