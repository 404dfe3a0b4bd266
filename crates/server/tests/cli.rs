//! The `switchboard` binary itself: its commands, and durability across `kill -9`.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::Connection;
use switchboard_store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const SECRET: &str = "cli-test-secret";

fn temp_sqlite() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("sb-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/sb.db", dir.display());
    (dir, url)
}

fn switchboard(db_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SWITCHBOARD_DATABASE_URL", db_url)
        .env("SWITCHBOARD__LOG__FILTER", "warn");
    cmd
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["serve", "migrate", "check-config", "agent"] {
        assert!(text.contains(cmd), "{cmd} missing from --help");
    }
}

#[test]
fn check_config_masks_secrets_and_names_bad_keys() {
    let out = switchboard("postgres://app:hunter2@db.example/sb")
        .env("SWITCHBOARD_APP_SECRET", "very-secret-value")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("very-secret-value") && !all.contains("hunter2"), "{all}");
    assert!(all.contains("app_secret = \"********\""), "{all}");
    assert!(all.contains("no access token"), "{all}");

    // A password in the query string is masked too.
    let out = switchboard("postgres://app@db.example/sb?sslmode=verify-full&password=hunter2")
        .arg("check-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("url = \"postgres://app@db.example/sb?sslmode=verify-full&password=***\""), "{all}");

    let out = switchboard("mysql://x").arg("check-config").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.url") && err.contains("SWITCHBOARD_DATABASE_URL"), "{err}");
}

#[test]
fn agent_create_prints_a_token_once_and_stores_only_its_hash() {
    let (dir, url) = temp_sqlite();
    let out = switchboard(&url)
        .args(["agent", "create", "--name", "Ana", "--email", "ana@example.com", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("sbt_") && token.len() == 68, "{token}");
    let db = std::fs::read(dir.join("sb.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()), "the token itself is stored");
    // A one-time link to set a console password, on standard error.
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let link = err.split_whitespace().find(|w| w.contains("/invitation/sbi_")).unwrap_or_else(|| panic!("{err}"));
    assert!(link.starts_with("http://127.0.0.1:8080/invitation/sbi_"), "{link}");
    // No key was configured: one was generated beside the database, readable by its owner only.
    let key = dir.join("secrets.key");
    assert_eq!(std::fs::read_to_string(&key).unwrap().trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A new link (a reset, or another invitation) on standard output.
    let out = switchboard(&url).args(["agent", "invite", "--email", "ANA@example.com"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = String::from_utf8(out.stdout).unwrap();
    assert!(again.trim().starts_with("http://127.0.0.1:8080/invitation/sbi_") && again.trim() != link, "{again}");
    let out = switchboard(&url).args(["agent", "invite", "--email", "nobody@example.com"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent has the email"));

    let again =
        switchboard(&url).args(["agent", "create", "--name", "Ana", "--email", "ANA@example.com"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = switchboard(&url).args(["agent", "create", "--name", "Bo", "--email", "nope"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--email"));
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn contact_erase_erases_by_number() {
    let (dir, url) = temp_sqlite();
    let out = switchboard(&url).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO contacts (id, wa_id, profile_name, created_at, updated_at, attributes) \
         VALUES (randomblob(16), '15550001111', 'Cordelia Clipboard', 0, 0, '{\"vip\": true}')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let bad = switchboard(&url).args(["contact", "erase", "--wa-id", "not-a-number"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--wa-id"));
    let unknown = switchboard(&url).args(["contact", "erase", "--wa-id", "15550002222"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no contact has this number"));

    let out = switchboard(&url).args(["contact", "erase", "--wa-id", "+15550001111"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = String::from_utf8(out.stdout).unwrap();
    assert!(uuid::Uuid::parse_str(id.trim()).is_ok(), "{id}");
    for file in ["sb.db", "sb.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        for needle in ["15550001111", "Cordelia Clipboard"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in {file}");
        }
    }
    // Erased: the number names no contact any more.
    let again = switchboard(&url).args(["contact", "erase", "--wa-id", "15550001111"]).output().unwrap();
    assert!(!again.status.success());
    std::fs::remove_dir_all(dir).ok();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sign(body: &[u8]) -> String {
    switchboard_cloudapi::signature::sign(SECRET.as_bytes(), body)
}

/// Starts `serve`, waits until it answers, acknowledges `n` deliveries, then `kill -9`s
/// it and returns how many were acknowledged.
async fn acknowledge_then_kill(db_url: &str, n: usize) -> usize {
    let port = free_port();
    let mut child = switchboard(db_url)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_PHONE_NUMBER_ID", "106540352242922")
        .env("SWITCHBOARD__INGEST__ENABLED", "false")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server did not start");
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url) = (client.clone(), format!("{base}/webhooks/whatsapp"));
        tasks.push(tokio::spawn(async move {
            let body = format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"106540352242922"}},"messages":[{{"from":"16505551234","id":"wamid.k{i}","timestamp":"1767225600","type":"text","text":{{"body":"hi"}}}}]}}}}]}}]}}"#
            );
            let sig = sign(body.as_bytes());
            let res = client.post(url).header("x-hub-signature-256", sig).body(body).send().await;
            res.is_ok_and(|r| r.status() == 200)
        }));
    }
    let mut acked = 0;
    for t in tasks {
        acked += usize::from(t.await.unwrap());
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    acked
}

async fn events_in(store: &dyn Store) -> i64 {
    let s = store.event_log_stats().await.unwrap();
    s.pending + s.applied + s.failed
}

#[tokio::test]
async fn acknowledged_deliveries_survive_kill_9_on_sqlite() {
    let (dir, url) = temp_sqlite();
    let acked = acknowledge_then_kill(&url, 300).await;
    assert_eq!(acked, 300);
    let store = switchboard_store_sqlite::SqliteStore::connect(&switchboard_store_sqlite::SqliteOptions {
        url: url.clone(),
        max_connections: 1,
        synchronous: switchboard_store_sqlite::Synchronous::Normal,
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    assert_eq!(events_in(&store).await, 300);
    store.close().await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn acknowledged_deliveries_survive_kill_9_on_postgres() {
    let admin = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("sb_cli_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let acked = acknowledge_then_kill(&url, 300).await;
    assert_eq!(acked, 300);
    let store = switchboard_store_postgres::PgStore::connect(&switchboard_store_postgres::PgOptions {
        url,
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    assert_eq!(events_in(&store).await, 300);
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await.unwrap();
}

/// The binary with no configuration at all: `link` needs none.
fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

#[test]
fn link_prints_wa_me_and_api_urls() {
    let out = bare()
        .args(["link", "--phone", "07700 900123", "--region", "GB", "--text", "Hi, I need help with my order"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "https://wa.me/447700900123?text=Hi%2C%20I%20need%20help%20with%20my%20order",
            "https://api.whatsapp.com/send?phone=447700900123&text=Hi%2C%20I%20need%20help%20with%20my%20order",
        ]
    );
}

#[test]
fn link_writes_svg_and_png_qr_codes() {
    let dir = std::env::temp_dir().join(format!("sb-link-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("out.svg");
    let png = dir.join("out.png");
    for (path, size) in [(&svg, "256"), (&png, "512")] {
        let out = bare()
            .args(["link", "--phone", "+1 (555) 010-0199", "--text", "Hola 👋"])
            .arg("--qr")
            .arg(path)
            .args(["--size", size])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("https://wa.me/15550100199?text=Hola%20"));
    }
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<?xml") || svg_text.contains("<svg"), "{svg_text:.100}");
    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));

    let bad = bare().args(["link", "--phone", "+15550100199", "--qr"]).arg(dir.join("out.jpg")).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains(".png or .svg"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn link_rejects_a_bad_number_with_its_reason() {
    let out = bare().args(["link", "--phone", "+44 7700 90"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--phone") && err.contains("too short"), "{err}");

    let out = bare().args(["link", "--phone", "07700 900123"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no country code"));
}

/// Starts `serve` with ingest on, delivers `n` texts from `from`, waits until they are
/// applied, then stops it.
async fn serve_and_deliver(db_url: &str, media_dir: &std::path::Path, from: &str, n: usize) {
    let port = free_port();
    let mut child = switchboard(db_url)
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_APP_SECRET", SECRET)
        .env("SWITCHBOARD_PHONE_NUMBER_ID", "106540352242922")
        .env("SWITCHBOARD__MEDIA__DIR", media_dir)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "server did not start");
    for i in 0..n {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Ana"}},"wa_id":"{from}"}}],"messages":[{{"from":"{from}","id":"wamid.e{i}","timestamp":"1767225600","type":"text","text":{{"body":"export line {i}"}}}}]}}}}]}}]}}"#
        );
        let res = client
            .post(format!("{base}/webhooks/whatsapp"))
            .header("x-hub-signature-256", sign(body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // Applied once the readiness of the ingest shows no backlog.
    let store = switchboard_store_sqlite::SqliteStore::connect(&switchboard_store_sqlite::SqliteOptions {
        url: db_url.to_owned(),
        max_connections: 1,
        synchronous: switchboard_store_sqlite::Synchronous::Normal,
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let mut applied = false;
    for _ in 0..200 {
        let s = (&store as &dyn Store).event_log_stats().await.unwrap();
        if s.pending == 0 && s.applied == i64::try_from(n).unwrap() {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(applied, "the deliveries were not applied");
}

#[tokio::test]
async fn contact_export_writes_a_zip_and_refuses_an_unknown_number() {
    let (dir, url) = temp_sqlite();
    let media = dir.join("media");
    serve_and_deliver(&url, &media, "16505550123", 12).await;

    let out_file = dir.join("export.zip");
    let out = switchboard(&url)
        .env("SWITCHBOARD__MEDIA__DIR", &media)
        .args(["contact", "export", "--wa-id", "16505550123", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("1 conversations, 12 messages, 0 media files"), "{stderr}");
    assert!(!stderr.contains("export line"), "no message text on the terminal: {stderr}");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out_file).unwrap()).unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("contact.json").unwrap(), &mut json).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["contact"]["wa_id"], "16505550123");
    let messages = doc["conversations"][0]["messages"].as_array().unwrap();
    let bodies: Vec<&str> = messages.iter().map(|m| m["content"]["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, (0..12).map(|i| format!("export line {i}")).collect::<Vec<_>>());
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().ends_with(".part")), "{left:?}");

    // An unknown number: a non-zero exit, a clear message, no file.
    let none = dir.join("none.zip");
    let out =
        switchboard(&url).args(["contact", "export", "--wa-id", "15550009999", "--out"]).arg(&none).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no contact has the WhatsApp number 15550009999"), "{stderr}");
    assert!(!none.exists());
    // Not a number at all.
    let out = switchboard(&url).args(["contact", "export", "--wa-id", "abc", "--out"]).arg(&none).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--wa-id"));
    std::fs::remove_dir_all(dir).ok();
}
