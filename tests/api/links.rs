//! Click-to-chat links: the admin API, the short links and their QR codes, and the
//! attribution of the conversations they start.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, SqliteConnection};
use switchboard_domain::link::percent_encode;
use switchboard_tests::payloads::{contact, delivery, message, text_delivery};
use switchboard_tests::{AppOptions, Backend, TestApp, TestDb, both_backends, spawn_app, spawn_app_with};

use crate::labels::{agent_token, create_label, send};

const PUBLIC_URL: &str = "https://chat.example.com";
const PHONE: &str = "+44 7700 900123";
const DIGITS: &str = "447700900123";

/// The app with the channel's display number set and, optionally, a public URL.
async fn app(backend: Backend, public_url: bool) -> TestApp {
    let mut env = vec![("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", PHONE.to_owned())];
    if public_url {
        env.push(("SWITCHBOARD__LINKS__PUBLIC_URL", format!("{PUBLIC_URL}/")));
    }
    spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await
}

async fn create_link(app: &TestApp, body: Value) -> Value {
    let res = app.post_json("/api/v1/links", &body).await;
    let status = res.status();
    let out: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{out}");
    out
}

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

/// A client that does not follow redirects.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn stats(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/v1/links/{id}/stats")).await
}

async fn admins_create_links_and_get_their_urls(backend: Backend) {
    let app = app(backend, true).await;
    create_label(&app, json!({"name": "VIP"})).await;
    let link = create_link(
        &app,
        json!({"text": "Hi, I need help with my order", "campaign": "Summer sale", "source": "instagram",
               "labels": ["vip"], "tags": ["summer", "summer", "2026"]}),
    )
    .await;
    let slug = link["slug"].as_str().unwrap();
    let code = link["ref_code"].as_str().unwrap();
    assert_eq!(slug.len(), 7);
    assert_eq!(code.len(), 6);
    assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{slug}");
    assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
    assert_eq!(link["phone"], format!("+{DIGITS}"));
    assert_eq!(link["text"], "Hi, I need help with my order");
    let prefilled = format!("Hi, I need help with my order (ref {code})");
    assert_eq!(link["prefilled_text"], prefilled.as_str());
    assert_eq!(link["tags"], json!(["summer", "2026"]));
    assert_eq!(link["labels"][0]["name"], "VIP");
    assert_eq!(link["enabled"], true);
    let urls = &link["urls"];
    assert_eq!(urls["wa_me"], format!("https://wa.me/{DIGITS}?text={}", percent_encode(&prefilled)));
    assert_eq!(
        urls["api_whatsapp"],
        format!("https://api.whatsapp.com/send?phone={DIGITS}&text={}", percent_encode(&prefilled))
    );
    assert_eq!(urls["short"], format!("{PUBLIC_URL}/l/{slug}"));
    assert_eq!(urls["qr_svg"], format!("{PUBLIC_URL}/l/{slug}/qr.svg"));
    assert_eq!(urls["qr_png"], format!("{PUBLIC_URL}/l/{slug}/qr.png"));

    // Agents read links, but only admins write them.
    let (agent, _) = agent_token(&app).await;
    let id = link["id"].as_str().unwrap();
    let got: Value = send(&app, Method::GET, &format!("/api/v1/links/{id}"), &agent, None).await.json().await.unwrap();
    assert_eq!(got, link);
    let res = send(&app, Method::POST, "/api/v1/links", &agent, Some(json!({"text": "x"}))).await;
    assert_eq!(res.status(), 403);
    let res = send(&app, Method::POST, &format!("/api/v1/links/{id}/disable"), &agent, None).await;
    assert_eq!(res.status(), 403);

    // The list pages with cursors, newest first.
    let mut ids = vec![id.to_owned()];
    for i in 0..2 {
        ids.push(create_link(&app, json!({"slug": format!("more-{i}")})).await["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();
    let first = app.get_json("/api/v1/links?limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.get_json(&format!("/api/v1/links?limit=2&cursor={cursor}")).await;
    assert_eq!(second["next_cursor"], Value::Null);
    let listed: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    for q in ["limit=0", "cursor=nope"] {
        let p = problem(app.get(&format!("/api/v1/links?{q}")).await, 422).await;
        assert_eq!(p["code"], "validation_failed", "{q}");
    }

    // Without text the reference alone is prefilled; a link may name its own number.
    let bare = create_link(&app, json!({"phone": "020 7946 0958", "region": "GB", "slug": "Bare-Link"})).await;
    assert_eq!(bare["slug"], "bare-link");
    assert_eq!(bare["phone"], "+442079460958");
    assert_eq!(bare["prefilled_text"], format!("(ref {})", bare["ref_code"].as_str().unwrap()));
}

async fn links_are_changed_and_disabled_by_admins(backend: Backend) {
    let app = app(backend, false).await;
    create_label(&app, json!({"name": "VIP"})).await;
    create_label(&app, json!({"name": "Sales"})).await;
    let link = create_link(&app, json!({"text": "Hello", "campaign": "c", "labels": ["VIP"], "slug": "promo"})).await;
    let id = link["id"].as_str().unwrap();
    assert_eq!(link["urls"]["short"], "/l/promo", "relative without a public URL");
    let res = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/links/{id}"),
        &app.token,
        Some(json!({"text": "Hola", "campaign": null, "labels": ["sales"], "tags": ["es"]})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["text"], "Hola");
    assert_eq!(changed["campaign"], Value::Null);
    assert_eq!(changed["labels"][0]["name"], "Sales");
    assert_eq!(changed["tags"], json!(["es"]));
    assert_eq!((&changed["slug"], &changed["ref_code"]), (&link["slug"], &link["ref_code"]));

    let p = problem(
        send(
            &app,
            Method::PATCH,
            &format!("/api/v1/links/{id}"),
            &app.token,
            Some(json!({"slug": "other", "phone": "+1"})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["slug", "phone"]);
    let res = send(&app, Method::POST, &format!("/api/v1/links/{id}/disable"), &app.token, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["enabled"], false);
    let res =
        send(&app, Method::PATCH, &format!("/api/v1/links/{id}"), &app.token, Some(json!({"enabled": true}))).await;
    assert_eq!(res.json::<Value>().await.unwrap()["enabled"], true);
    let unknown = "/api/v1/links/0190b7a6-1f5e-7cc0-8000-000000000000";
    problem(app.get(unknown).await, 404).await;
    problem(send(&app, Method::PATCH, unknown, &app.token, Some(json!({"enabled": false}))).await, 404).await;
    problem(app.get("/api/v1/links/nope/stats").await, 404).await;
}

async fn link_validation_names_the_fields(backend: Backend) {
    // No display number configured: a link must name its number.
    let app = spawn_app(backend).await;
    let p = problem(app.post_json("/api/v1/links", &json!({"text": "hi"})).await, 422).await;
    assert_eq!(fields(&p), ["phone"]);
    let cases = [
        (json!({"phone": "+44 7700 90"}), vec!["phone"]),
        (json!({"phone": "07700 900123"}), vec!["phone"]),
        (json!({"phone": PHONE, "slug": "-bad-"}), vec!["slug"]),
        (json!({"phone": PHONE, "slug": "a"}), vec!["slug"]),
        (json!({"phone": PHONE, "text": "x".repeat(995)}), vec!["text"]),
        (json!({"phone": PHONE, "labels": ["nope"]}), vec!["labels[0]"]),
        (json!({"phone": PHONE, "tags": ["ok", ""]}), vec!["tags[1]"]),
        (json!({"phone": PHONE, "campaign": "c".repeat(101)}), vec!["campaign"]),
        (json!({"phone": PHONE, "channel_id": "0190b7a6-1f5e-7cc0-8000-000000000000"}), vec!["channel_id"]),
        (json!({"phone": "nope", "slug": "_", "tags": [""]}), vec!["phone", "slug", "tags[0]"]),
    ];
    for (body, want) in cases {
        let p = problem(app.post_json("/api/v1/links", &body).await, 422).await;
        assert_eq!(p["code"], "validation_failed", "{body}");
        assert_eq!(fields(&p), want, "{body}");
    }
    let p = problem(app.post_json("/api/v1/links", &json!({"phone": PHONE, "colour": "x"})).await, 400).await;
    assert_eq!(p["code"], "invalid_body");
    create_link(&app, json!({"phone": PHONE, "slug": "taken", "ad_source_id": "120208"})).await;
    let p = problem(app.post_json("/api/v1/links", &json!({"phone": PHONE, "slug": "TAKEN"})).await, 409).await;
    assert_eq!(p["code"], "conflict");
    let p =
        problem(app.post_json("/api/v1/links", &json!({"phone": PHONE, "ad_source_id": "120208"})).await, 409).await;
    assert_eq!(p["code"], "conflict");
    for q in ["from=2026-13-01", "to=yesterday", "from=2026-03-02&to=2026-03-01", "from=2020-01-01&to=2026-01-01"] {
        let id = app.get_json("/api/v1/links").await["items"][0]["id"].as_str().unwrap().to_owned();
        let p = problem(app.get(&format!("/api/v1/links/{id}/stats?{q}")).await, 422).await;
        assert_eq!(p["code"], "validation_failed", "{q}");
    }
}

/// The `phone` column of every link.
async fn stored_phones(db: &TestDb) -> Vec<String> {
    let sql = "SELECT phone FROM links ORDER BY created_at, id";
    match db.backend {
        Backend::Sqlite => {
            let mut c = SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
        }
        Backend::Postgres => {
            let mut c = PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
        }
    }
}

/// Issue 22.1 and 22.2 (found by fuzzing): a number the API keeps is valid E.164 and reads
/// back as itself; what it will not keep gets 422 naming `phone`, never a 500.
async fn phone_numbers_are_kept_as_shown_or_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused = [
        json!({"phone": "01227456", "region": "CN"}),
        json!({"phone": "00 07700", "region": "KR"}),
        json!({"phone": "+861227456"}),
        json!({"phone": "+81 7847654322103211"}),
        json!({"phone": "0000520984732", "region": "DE"}),
    ];
    for body in refused {
        let p = problem(app.post_json("/api/v1/links", &body).await, 422).await;
        assert_eq!(fields(&p), ["phone"], "{body}");
    }
    let created = create_link(&app, json!({"phone": "030 901820", "region": "DE"})).await;
    assert_eq!(created["phone"], "+4930901820");
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get_json(&format!("/api/v1/links/{id}")).await["phone"], "+4930901820");
    assert_eq!(app.get_json("/api/v1/links").await["items"][0]["phone"], "+4930901820");
    assert_eq!(stored_phones(&app.db).await, ["4930901820"]);
}

/// Every click count as (referrer_host, agent_family, clicks), and the table's columns.
async fn clicks_table(db: &TestDb) -> (Vec<(String, String, i64)>, Vec<String>) {
    let rows_sql =
        "SELECT referrer_host, agent_family, clicks FROM link_click_counts ORDER BY referrer_host DESC, agent_family";
    match db.backend {
        Backend::Sqlite => {
            let mut c = SqliteConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query_as(rows_sql).fetch_all(&mut c).await.unwrap();
            let cols = sqlx::query_scalar("SELECT name FROM pragma_table_info('link_click_counts') ORDER BY cid")
                .fetch_all(&mut c)
                .await
                .unwrap();
            (rows, cols)
        }
        Backend::Postgres => {
            let mut c = PgConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query_as(rows_sql).fetch_all(&mut c).await.unwrap();
            let cols = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'link_click_counts' ORDER BY ordinal_position",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            (rows, cols)
        }
    }
}

async fn the_short_link_redirects_to_wa_me_and_counts_the_click(backend: Backend) {
    let app = app(backend, false).await;
    let link = create_link(&app, json!({"text": "আমার অর্ডার কোথায়?", "slug": "summer"})).await;
    let wa_me = link["urls"]["wa_me"].as_str().unwrap();
    let client = raw_client();
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    let res = client
        .get(app.url("/l/Summer"))
        .header("user-agent", chrome)
        .header("referer", "https://www.Instagram.com/p/abc?igshid=secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], wa_me);
    assert_eq!(res.headers()["cache-control"], "no-store");
    // The redirect carries the Bengali text and the reference, percent-encoded.
    assert!(wa_me.contains("%E0%A6%86"), "{wa_me}");
    assert!(wa_me.ends_with(&percent_encode(&format!(" (ref {})", link["ref_code"].as_str().unwrap()))));
    // A link-preview bot and a HEAD request.
    let res = client.get(app.url("/l/summer")).header("user-agent", "facebookexternalhit/1.1").send().await.unwrap();
    assert_eq!(res.status(), 302);
    let res = client.head(app.url("/l/summer")).send().await.unwrap();
    assert_eq!(res.status(), 302, "HEAD answers but is not counted");

    // Reading the stats writes the clicks counted so far.
    let s = stats(&app, link["id"].as_str().unwrap()).await;
    let (rows, cols) = clicks_table(&app.db).await;
    assert_eq!(rows, [("www.instagram.com".to_owned(), "chrome".to_owned(), 1), (String::new(), "bot".to_owned(), 1)]);
    // Only the hour, the referrer's host and the browser family are kept: no address, no user agent.
    assert_eq!(cols, ["link_id", "hour", "agent_family", "referrer_host", "clicks"]);
    assert_eq!(s["totals"]["clicks"], 1);
    assert_eq!(s["totals"]["bot_clicks"], 1);
    let days = s["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default, every day listed");
    assert_eq!(days[29]["date"], chrono::Utc::now().date_naive().to_string());
    assert_eq!(days[29]["clicks"], 1);
}

async fn unknown_and_disabled_links_get_a_plain_404_page(backend: Backend) {
    let app = app(backend, false).await;
    let client = raw_client();
    for path in ["/l/nope", "/l/a_b", "/l/x", "/l/nope/qr.png", "/l/nope/qr.svg"] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert!(res.text().await.unwrap().contains("This link is not available"));
    }
    let link = create_link(&app, json!({"slug": "gone"})).await;
    let id = link["id"].as_str().unwrap();
    send(&app, Method::POST, &format!("/api/v1/links/{id}/disable"), &app.token, None).await;
    for path in ["/l/gone", "/l/gone/qr.png"] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    stats(&app, id).await;
    assert_eq!(clicks_table(&app.db).await.0.len(), 0, "a disabled link counts nothing");
    send(&app, Method::POST, &format!("/api/v1/links/{id}/enable"), &app.token, None).await;
    assert_eq!(client.get(app.url("/l/gone")).send().await.unwrap().status(), 302);
}

fn decode_png(bytes: &[u8]) -> (u32, String) {
    let img = image::load_from_memory(bytes).unwrap().to_luma8();
    let width = img.width();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    (width, content)
}

async fn qr_codes_decode_to_the_link(backend: Backend) {
    // With a public URL the QR code is the short link (so scans are counted)…
    let app = app(backend, true).await;
    let link = create_link(&app, json!({"text": "मुझे मदद चाहिए 🙏", "slug": "poster"})).await;
    let res = app.client.get(app.url("/l/poster/qr.png?size=300")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let (width, content) = decode_png(&res.bytes().await.unwrap());
    assert_eq!(content, format!("{PUBLIC_URL}/l/poster"));
    assert!((300..600).contains(&width), "{width}");
    let res = app.client.get(app.url("/l/poster/qr.svg")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().contains("<svg"));
    for size in ["63", "2049", "abc", "-1"] {
        let res = app.client.get(app.url(&format!("/l/poster/qr.png?size={size}"))).send().await.unwrap();
        assert_eq!(res.status(), 400, "{size}");
        assert!(res.text().await.unwrap().contains("64 to 2048"));
    }
    for size in ["64", "2048"] {
        let res = app.client.get(app.url(&format!("/l/poster/qr.png?size={size}"))).send().await.unwrap();
        assert_eq!(res.status(), 200, "{size}");
    }
    assert_eq!(clicks_table(&app.db).await.0.len(), 0, "drawing a QR code is not a click");

    // …without one it is the wa.me URL itself, Devanagari and emoji included.
    let app = self::app(backend, false).await;
    let link2 = create_link(&app, json!({"text": link["text"], "slug": "poster"})).await;
    let res = app.client.get(app.url("/l/poster/qr.png")).send().await.unwrap();
    let (_, content) = decode_png(&res.bytes().await.unwrap());
    assert_eq!(content, link2["urls"]["wa_me"].as_str().unwrap());
}

async fn the_first_message_with_a_reference_code_is_attributed_to_its_link(backend: Backend) {
    let mut app = app(backend, false).await;
    create_label(&app, json!({"name": "From the website"})).await;
    let link = create_link(&app, json!({"text": "আমার অর্ডার কোথায়?", "labels": ["from the website"]})).await;
    let prefilled = link["prefilled_text"].as_str().unwrap();
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.attr1", "16505550123", prefilled)).unwrap()).await;
    app.ingest().await;
    let listed = app.conversations().await;
    assert_eq!(listed[0]["link_id"], link["id"], "the conversation names the link that started it");
    let conversation = listed[0]["id"].as_str().unwrap().to_owned();
    let messages = app.messages(&conversation).await;
    // Agents see the text without the code; the content keeps what the customer sent.
    assert_eq!(messages[0]["text"], "আমার অর্ডার কোথায়?");
    assert_eq!(messages[0]["content"]["body"], prefilled);
    let labels = app.get_json(&format!("/api/v1/conversations/{conversation}/labels")).await;
    assert_eq!(labels["labels"][0]["name"], "From the website");
    assert_eq!(labels["labels"][0]["added_by"], Value::Null);

    // A later message of the same conversation is not the first: it is left as it is.
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.attr2", "16505550123", prefilled)).unwrap()).await;
    // A code no link has attributes nothing.
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.attr3", "16505550999", "Hi (ref ZZZZ99)")).unwrap())
        .await;
    app.ingest().await;
    let all = app.all_messages().await;
    let text_of = |w: &str| all.iter().find(|m| m["wamid"] == w).unwrap()["text"].clone();
    assert_eq!(text_of("wamid.attr2"), prefilled);
    assert_eq!(text_of("wamid.attr3"), "Hi (ref ZZZZ99)");

    let s = stats(&app, link["id"].as_str().unwrap()).await;
    assert_eq!(s["totals"]["conversations_started"], 1);
    assert_eq!(s["totals"]["conversations_resolved"], 0);
}

async fn an_ad_referral_is_attributed_to_the_link_naming_the_ad(backend: Backend) {
    let mut app = app(backend, false).await;
    create_label(&app, json!({"name": "Ads"})).await;
    let link = create_link(&app, json!({"ad_source_id": "120208", "labels": ["ads"], "campaign": "Summer ads"})).await;
    let mut m = message("wamid.ad1", "16505550777", "text", json!({"body": "Can I get more info on this?"}));
    m["referral"] = json!({"source_url": "https://fb.me/x", "source_id": "120208", "source_type": "ad",
        "headline": "Summer sale", "body": "50% off", "media_type": "image", "image_url": "https://x/y.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ"});
    let body = delivery(vec![contact("16505550777", "Ana")], vec![m], vec![]);
    app.post_webhook(serde_json::to_vec(&body).unwrap()).await;
    app.ingest().await;
    let listed = app.conversations().await;
    assert_eq!(listed[0]["link_id"], link["id"], "the conversation names the link that started it");
    let conversation = listed[0]["id"].as_str().unwrap().to_owned();
    let labels = app.get_json(&format!("/api/v1/conversations/{conversation}/labels")).await;
    assert_eq!(labels["labels"][0]["name"], "Ads");
    assert_eq!(app.messages(&conversation).await[0]["text"], "Can I get more info on this?");
    let s = stats(&app, link["id"].as_str().unwrap()).await;
    assert_eq!(s["totals"]["conversations_started"], 1);

    // The ad's click id and headline are kept with the attribution.
    let sql = "SELECT attribution FROM conversations WHERE link_id IS NOT NULL";
    let attribution: String = match app.db.backend {
        Backend::Sqlite => {
            let mut c = SqliteConnection::connect(&app.db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
        Backend::Postgres => {
            let mut c = PgConnection::connect(&app.db.url).await.unwrap();
            sqlx::query_scalar(&sql.replace("attribution", "attribution::text")).fetch_one(&mut c).await.unwrap()
        }
    };
    let attribution: Value = serde_json::from_str(&attribution).unwrap();
    assert_eq!(
        attribution,
        json!({"via": "ad", "source_id": "120208", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ", "headline": "Summer sale"})
    );
}

both_backends!(
    admins_create_links_and_get_their_urls,
    links_are_changed_and_disabled_by_admins,
    link_validation_names_the_fields,
    phone_numbers_are_kept_as_shown_or_refused,
    the_short_link_redirects_to_wa_me_and_counts_the_click,
    unknown_and_disabled_links_get_a_plain_404_page,
    qr_codes_decode_to_the_link,
    the_first_message_with_a_reference_code_is_attributed_to_its_link,
    an_ad_referral_is_attributed_to_the_link_naming_the_ad,
    a_flood_of_clicks_is_counted_in_a_few_rows,
    clicks_counted_before_shutdown_are_written,
);

/// Hundreds of clicks with made-up referrers: every one counted, in a few rows (one per
/// family and referrer host, at most 100 hosts a link and hour), written in batches.
async fn a_flood_of_clicks_is_counted_in_a_few_rows(backend: Backend) {
    let app = app(backend, false).await;
    let link = create_link(&app, json!({"slug": "flood"})).await;
    let client = raw_client();
    let agents = ["Mozilla/5.0 Firefox/128.0", "curl/8.5", ""];
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..300 {
        let req = client
            .get(app.url("/l/flood"))
            .header("user-agent", agents[i % 3])
            .header("referer", format!("https://spam{}.example/x", i % 150));
        requests.spawn(async move { req.send().await.unwrap().status() });
    }
    for status in requests.join_all().await {
        assert_eq!(status, 302);
    }
    let s = stats(&app, link["id"].as_str().unwrap()).await;
    assert_eq!((s["totals"]["clicks"].as_i64(), s["totals"]["bot_clicks"].as_i64()), (Some(200), Some(100)));
    let (rows, _) = clicks_table(&app.db).await;
    assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 300);
    let hosts: std::collections::HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(hosts.len() <= 101, "{} referrer hosts", hosts.len());
    assert!(hosts.contains(""), "clicks from hosts past the cap count without one");
    assert!(rows.len() <= 3 * 101, "{} rows", rows.len());
}

/// Clicks not yet written when the server stops are written at shutdown.
async fn clicks_counted_before_shutdown_are_written(backend: Backend) {
    let app = app(backend, false).await;
    create_link(&app, json!({"slug": "last"})).await;
    let client = raw_client();
    for _ in 0..3 {
        assert_eq!(client.get(app.url("/l/last")).send().await.unwrap().status(), 302);
    }
    let db = app.stop().await;
    let (rows, _) = clicks_table(&db).await;
    assert_eq!(rows, [(String::new(), "other".to_owned(), 3)]);
}
