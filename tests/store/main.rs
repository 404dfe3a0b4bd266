//! The store conformance suite: every story runs against SQLite and against PostgreSQL,
//! through the storage ports (plus a little SQL, where a story needs a state that no port
//! can produce yet).
//!
//! PostgreSQL is the server named by `SWITCHBOARD_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its own database.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used)]

/// One test per backend for each story.
///
/// - `stories: [a, b]` — `async fn a(store: Arc<dyn Store>)`, on a fresh migrated store.
/// - `with_db: [c]` — `async fn c(db: &TestDb, store: Arc<dyn Store>)`, for stories that
///   also need SQL or a second connection.
macro_rules! conformance {
    (stories: [$($story:ident),* $(,)?] $(, with_db: [$($db_story:ident),* $(,)?])? $(,)?) => {
        conformance!(@backend sqlite, Sqlite, [$($story),*], [$($($db_story),*)?]);
        conformance!(@backend postgres, Postgres, [$($story),*], [$($($db_story),*)?]);
    };
    (@backend $module:ident, $backend:ident, [$($story:ident),*], [$($db_story:ident),*]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let db = switchboard_tests::TestDb::new(switchboard_tests::Backend::$backend).await;
                    let store = db.store().await;
                    super::$story(std::sync::Arc::clone(&store)).await;
                    store.close().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db_story() {
                    let db = switchboard_tests::TestDb::new(switchboard_tests::Backend::$backend).await;
                    let store = db.store().await;
                    super::$db_story(&db, std::sync::Arc::clone(&store)).await;
                    store.close().await;
                }
            )*
        }
    };
}

mod agents;
mod agents_admin;
mod assignment;
mod audit;
mod auth;
mod autoreply;
mod batches;
mod consent;
mod contacts;
mod events;
mod fixtures;
mod inbound;
mod inbox_events;
mod ingest;
mod labels;
mod last_inbound;
mod links;
mod lists;
mod notes;
mod nul;
mod outbox;
mod queue;
mod schema;
mod statuses;
mod views;
mod views_scale;
