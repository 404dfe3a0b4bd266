//! Migrations and readiness.

use std::sync::Arc;

use switchboard_store::{Store, StoreError};
use switchboard_tests::{Backend, TestDb};

conformance!(
    stories: [a_migrated_store_is_ready, a_closed_store_is_unavailable],
    with_db: [an_unmigrated_database_is_not_ready],
);

async fn a_migrated_store_is_ready(store: Arc<dyn Store>) {
    assert!(store.readiness().await.unwrap().pending_migrations.is_empty());
    // Migrating again is a no-op.
    store.migrate().await.unwrap();
    assert!(store.readiness().await.unwrap().pending_migrations.is_empty());
}

async fn an_unmigrated_database_is_not_ready(db: &TestDb, store: Arc<dyn Store>) {
    assert_eq!(store.backend(), if db.backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    let fresh = TestDb::new(db.backend).await;
    let bare = fresh.connect().await;
    assert_eq!(bare.readiness().await.unwrap().pending_migrations, migration_versions(db.backend));
    bare.migrate().await.unwrap();
    assert!(bare.readiness().await.unwrap().pending_migrations.is_empty());
    bare.close().await;
}

/// The versions in `migrations/<backend>/`, in order: every one is pending on a bare database.
fn migration_versions(backend: Backend) -> Vec<i64> {
    let mut versions: Vec<i64> = std::fs::read_dir(crate::fixtures::migrations_dir(backend))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.split('_').next()?.parse().ok())
        .collect();
    versions.sort_unstable();
    assert!(versions.len() >= 2, "{versions:?}");
    versions
}

async fn a_closed_store_is_unavailable(store: Arc<dyn Store>) {
    store.close().await;
    let err = store.append_events(&[crate::fixtures::event("late", crate::fixtures::t(0))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.event_log_stats().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
