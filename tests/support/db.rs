//! A fresh, empty database per test, on either backend.
//!
//! - SQLite: a new file in its own directory under the system temp dir, removed on drop.
//! - PostgreSQL: `CREATE DATABASE sb_test_<uuid>` on the server named by
//!   `SWITCHBOARD_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//!   dropped `WITH (FORCE)` on drop. Dropping never panics, even if the server is gone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use switchboard_store::Store;
use switchboard_store_postgres::{PgOptions, PgStore};
use switchboard_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use uuid::Uuid;

/// The server the PostgreSQL tests create their databases on.
pub const TEST_DATABASE_URL_VAR: &str = "SWITCHBOARD_TEST_DATABASE_URL";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL if `SWITCHBOARD_TEST_DATABASE_URL` is set, SQLite otherwise: for suites
    /// that run once per CI matrix entry rather than on both backends.
    #[must_use]
    pub fn from_env() -> Self {
        if std::env::var_os(TEST_DATABASE_URL_VAR).is_some() { Self::Postgres } else { Self::Sqlite }
    }
}

#[derive(Debug)]
enum Cleanup {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

/// One test's database. Dropping it deletes the database.
#[derive(Debug)]
pub struct TestDb {
    pub backend: Backend,
    /// What `SWITCHBOARD_DATABASE_URL` would be for a server using this database.
    pub url: String,
    cleanup: Cleanup,
}

impl TestDb {
    /// Creates an empty database (not migrated).
    ///
    /// # Panics
    /// If the database cannot be created: a test cannot run without one.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("switchboard-test-{}", Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("create a temp dir for the SQLite test database");
                let url = format!("sqlite://{}", dir.join("switchboard.db").display());
                Self { backend, url, cleanup: Cleanup::Dir(dir) }
            }
            Backend::Postgres => {
                let admin_url = std::env::var(TEST_DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
                let name = format!("sb_test_{}", Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("connect to PostgreSQL at {TEST_DATABASE_URL_VAR} (or the default): {e}")
                });
                conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .expect("create the PostgreSQL test database");
                let _ = conn.close().await;
                let url = with_database(&admin_url, &name);
                Self { backend, url, cleanup: Cleanup::Database { admin_url, name } }
            }
        }
    }

    /// Connects the real backend to this database, without migrating.
    ///
    /// # Panics
    /// If the backend cannot connect.
    pub async fn connect(&self) -> Arc<dyn Store> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteStore::connect(&SqliteOptions {
                    url: self.url.clone(),
                    max_connections: 4,
                    synchronous: Synchronous::Normal,
                    busy_timeout: Duration::from_secs(5),
                })
                .await
                .expect("connect to the SQLite test database"),
            ),
            Backend::Postgres => Arc::new(
                PgStore::connect(&PgOptions {
                    url: self.url.clone(),
                    max_connections: 5,
                    acquire_timeout: Duration::from_secs(10),
                })
                .await
                .expect("connect to the PostgreSQL test database"),
            ),
        }
    }

    /// Connects the real backend and migrates.
    ///
    /// # Panics
    /// If the backend cannot connect or migrate.
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = self.connect().await;
        store.migrate().await.expect("migrate the test database");
        store
    }
}

/// `postgres://u@h:p/old?opts` → `postgres://u@h:p/<name>?opts`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // A thread with its own runtime: Drop may run inside (or outside) the
                // test's runtime, and must not block it or panic.
                let dropper = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async move {
                        let connect = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url));
                        if let Ok(Ok(mut conn)) = connect.await {
                            let drop_db = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                            let _ = tokio::time::timeout(Duration::from_secs(10), conn.execute(drop_db.as_str())).await;
                            let _ = conn.close().await;
                        }
                    });
                });
                let _ = dropper.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }
}
