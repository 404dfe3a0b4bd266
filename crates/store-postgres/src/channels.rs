//! Channels as admins manage them (`switchboard_store_sql::channels`).

switchboard_store_sql::channel_store!(crate::PgStore, sqlx::PgConnection);
