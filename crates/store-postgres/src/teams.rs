//! Teams, their members, and the channels routed to them (`switchboard_store_sql::teams`).

switchboard_store_sql::team_store!(crate::PgStore, sqlx::PgConnection);
