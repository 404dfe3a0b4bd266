//! `GET /api/v1/reports/conversations` and `…/conversations.csv`, and the console's
//! `/reports`: figures over a small dataset whose KPI facts are set to known values
//! (the recording itself is `kpis.rs`'s), per UTC and local day, per group, an agent's
//! own; the CSV's columns and rows.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, SqliteConnection};
use switchboard_domain::PhoneNumberId;
use switchboard_domain::autoreply::Greeting;
use switchboard_store::ChannelAutoRepliesPatch;
use switchboard_tests::payloads::{contact, delivery, message};
use switchboard_tests::{Backend, PHONE_NUMBER_ID, TestApp, both_backends, spawn_app};

use crate::agents::{call, new_agent};

both_backends!(
    figures_are_exact_per_day_and_in_all_wall_clock_and_business,
    days_follow_the_time_zone,
    groups_split_the_figures_and_labels_overlap,
    past_figures_come_from_the_cache_and_follow_every_change,
    housekeeping_fills_the_cache_and_refills_only_what_changed,
    agents_see_only_their_own_figures,
    the_csv_lists_one_row_per_conversation_with_its_facts,
    a_persons_reply_counts_in_todays_report,
    bad_parameters_are_refused_naming_the_field,
    the_reports_page_shows_the_figures_and_links_the_csv,
    csat_figures_are_exact_per_day_per_group_and_for_an_agent,
    the_csv_carries_each_conversations_survey,
    the_csat_export_lists_answered_surveys_and_agents_get_their_own,
    a_rating_tapped_in_whatsapp_is_reported,
);

/// Runs `$body` with a connection `$c` to the test's database and `$t`, which turns a
/// time into the column's value there.
macro_rules! on_db {
    ($db:expr, |$c:ident, $t:ident| $body:expr) => {
        match $db.backend {
            Backend::Sqlite => {
                let mut $c = SqliteConnection::connect(&$db.url).await.unwrap();
                let $t = |d: DateTime<Utc>| d.timestamp_millis();
                $body
            }
            Backend::Postgres => {
                let mut $c = PgConnection::connect(&$db.url).await.unwrap();
                let $t = |d: DateTime<Utc>| d;
                $body
            }
        }
    };
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A conversation's facts, as the test sets them.
struct Facts<'a> {
    created: &'a str,
    resolved: Option<&'a str>,
    assignee: Option<&'a str>,
    first_response: Option<(i64, i64, &'a str)>,
    resolution: Option<(i64, i64)>,
    replies: i64,
    labels: &'a [&'a str],
}

/// A customer writes from `wa_id` (a new conversation); returns its id.
async fn customer(app: &mut TestApp, wa_id: &str) -> String {
    let m = message(&format!("wamid.report.{wa_id}"), wa_id, "text", json!({"body": "hello"}));
    let body = delivery(vec![contact(wa_id, "Ana")], vec![m], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == wa_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_facts(app: &TestApp, conversation: &str, f: &Facts<'_>) {
    let id = uuid::Uuid::parse_str(conversation).unwrap();
    let assignee = f.assignee.map(|a| uuid::Uuid::parse_str(a).unwrap());
    let by = f.first_response.map(|(_, _, by)| uuid::Uuid::parse_str(by).unwrap());
    let created = at(f.created);
    let first_at = f.first_response.map(|(s, _, _)| created + chrono::Duration::seconds(s));
    let resolved = f.resolved.map(at);
    let status = if resolved.is_some() { "resolved" } else { "open" };
    let sql = "UPDATE conversations SET created_at = $2, status = $3, resolved_at = $4, assignee_id = $5, \
        first_response_at = $6, first_response_by = $7, first_response_seconds = $8, \
        first_response_business_seconds = $9, resolution_seconds = $10, resolution_business_seconds = $11, \
        person_replies = $12, waiting_since = NULL WHERE id = $1";
    on_db!(app.db, |c, t| {
        sqlx::query(sql)
            .bind(id)
            .bind(t(created))
            .bind(status)
            .bind(resolved.map(t))
            .bind(assignee)
            .bind(first_at.map(t))
            .bind(by)
            .bind(f.first_response.map(|x| x.0))
            .bind(f.first_response.map(|x| x.1))
            .bind(f.resolution.map(|x| x.0))
            .bind(f.resolution.map(|x| x.1))
            .bind(f.replies)
            .execute(&mut c)
            .await
            .unwrap();
        // Its greeting, sent a second after it started.
        sqlx::query("UPDATE auto_replies SET sent_at = $2 WHERE conversation_id = $1")
            .bind(id)
            .bind(t(created + chrono::Duration::seconds(1)))
            .execute(&mut c)
            .await
            .unwrap();
    });
    if !f.labels.is_empty() {
        let res =
            app.post_json(&format!("/api/v1/conversations/{conversation}/labels"), &json!({"labels": f.labels})).await;
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
}

/// The dataset: an admin's and Rita's conversations over 2026-03-02 and 03 (UTC), one
/// later; every conversation got a greeting. Returns (Rita's token, Rita's id, ids c1..c6).
async fn dataset(app: &mut TestApp) -> (String, String, Vec<String>) {
    let greeting: Greeting =
        serde_json::from_value(json!({"enabled": true, "text": "Hi, an agent will be with you"})).unwrap();
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let channel = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id;
    let patch = ChannelAutoRepliesPatch { greeting: Some(Some(&greeting)), ..ChannelAutoRepliesPatch::default() };
    app.store.patch_channel_auto_replies(channel, &patch, Utc::now()).await.unwrap();
    for name in ["vip", "refund"] {
        assert!(app.post_json("/api/v1/labels", &json!({"name": name})).await.status().is_success());
    }
    let (rita, rita_token) = new_agent(app, "Rita").await;
    let rita = rita["id"].as_str().unwrap().to_owned();
    let admin = app.get_json("/api/v1/agents/me").await["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for n in 1..=6 {
        ids.push(customer(app, &format!("1650555010{n}")).await);
    }
    assert_eq!(app.send().await.sent, 6, "the greetings went out");
    let facts = [
        Facts {
            created: "2026-03-02T09:00:00Z",
            resolved: Some("2026-03-02T10:00:00Z"),
            assignee: Some(&rita),
            first_response: Some((60, 60, &rita)),
            resolution: Some((3600, 1800)),
            replies: 2,
            labels: &["vip"],
        },
        Facts {
            created: "2026-03-02T12:00:00Z",
            resolved: None,
            assignee: Some(&admin),
            first_response: Some((120, 0, &admin)),
            resolution: None,
            replies: 1,
            labels: &[],
        },
        // 21:00 on the 2nd in New York; answered by Rita, assigned to nobody.
        Facts {
            created: "2026-03-03T02:00:00Z",
            resolved: Some("2026-03-03T04:00:00Z"),
            assignee: None,
            first_response: Some((300, 300, &rita)),
            resolution: Some((7200, 3600)),
            replies: 3,
            labels: &["vip", "refund"],
        },
        Facts {
            created: "2026-03-03T08:00:00Z",
            resolved: None,
            assignee: Some(&rita),
            first_response: Some((180, 90, &rita)),
            resolution: None,
            replies: 1,
            labels: &[],
        },
        Facts {
            created: "2026-03-03T10:00:00Z",
            resolved: None,
            assignee: None,
            first_response: None,
            resolution: None,
            replies: 0,
            labels: &[],
        },
        // After the range.
        Facts {
            created: "2026-03-05T10:00:00Z",
            resolved: Some("2026-03-05T11:00:00Z"),
            assignee: Some(&rita),
            first_response: Some((10, 10, &rita)),
            resolution: Some((3600, 3600)),
            replies: 1,
            labels: &["vip"],
        },
    ];
    for (id, f) in ids.iter().zip(&facts) {
        set_facts(app, id, f).await;
    }
    (rita_token, rita, ids)
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let res = call(app, Method::GET, &format!("/api/v1/reports/conversations?{query}"), Some(token), None).await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

/// `(count, median, p90, average)` of a times object, wall-clock or business.
fn times(v: &Value, business: bool) -> (u64, f64, f64, f64) {
    let p = if business { "business_" } else { "" };
    let f = |k: &str| v[format!("{p}{k}")].as_f64().unwrap_or(f64::NAN);
    (v["count"].as_u64().unwrap(), f("median_seconds"), f("p90_seconds"), f("average_seconds"))
}

fn counts(v: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap();
    (n("conversations_started"), n("conversations_open"), n("conversations_resolved"), n("auto_replies_sent"))
}

async fn figures_are_exact_per_day_and_in_all_wall_clock_and_business(backend: Backend) {
    let mut app = spawn_app(backend).await;
    dataset(&mut app).await;
    let r = report(&app, &app.token.clone(), "from=2026-03-02&to=2026-03-03").await;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str(), r["time_zone"].as_str()),
        (Some("2026-03-02"), Some("2026-03-03"), Some("UTC"))
    );
    assert!(r["agent_id"].is_null() && r["group_by"].is_null() && r["groups"] == json!([]), "{r}");

    let s = &r["summary"];
    assert_eq!(counts(s), (5, 3, 2, 5), "{s}");
    assert_eq!(times(&s["first_response"], false), (4, 150.0, 264.0, 165.0));
    assert_eq!(times(&s["first_response"], true), (4, 75.0, 237.0, 112.5));
    assert_eq!(times(&s["resolution"], false), (2, 5400.0, 6840.0, 5400.0));
    assert_eq!(times(&s["resolution"], true), (2, 2700.0, 3420.0, 2700.0));
    assert_eq!(s["replies_per_conversation"], 1.4);

    let days = r["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    let (d1, d2) = (&days[0], &days[1]);
    assert_eq!((d1["date"].as_str(), d2["date"].as_str()), (Some("2026-03-02"), Some("2026-03-03")));
    assert_eq!(counts(d1), (2, 1, 1, 2), "{d1}");
    assert_eq!(times(&d1["first_response"], false), (2, 90.0, 114.0, 90.0));
    assert_eq!(times(&d1["first_response"], true), (2, 30.0, 54.0, 30.0));
    assert_eq!(times(&d1["resolution"], false), (1, 3600.0, 3600.0, 3600.0));
    assert_eq!(times(&d1["resolution"], true), (1, 1800.0, 1800.0, 1800.0));
    assert_eq!(d1["replies_per_conversation"], 1.5);
    assert_eq!(counts(d2), (3, 2, 1, 3), "{d2}");
    assert_eq!(times(&d2["first_response"], false), (2, 240.0, 288.0, 240.0));
    assert_eq!(times(&d2["first_response"], true), (2, 195.0, 279.0, 195.0));
    assert_eq!(times(&d2["resolution"], true), (1, 3600.0, 3600.0, 3600.0));

    // A day with nothing: zeros and nulls.
    let r = report(&app, &app.token.clone(), "from=2026-03-04&to=2026-03-04").await;
    let s = &r["summary"];
    assert_eq!(counts(s), (0, 0, 0, 0));
    assert_eq!(s["first_response"]["count"], 0);
    assert!(s["first_response"]["median_seconds"].is_null() && s["replies_per_conversation"].is_null(), "{s}");
}

async fn days_follow_the_time_zone(backend: Backend) {
    let mut app = spawn_app(backend).await;
    dataset(&mut app).await;
    // New York's 2nd runs from 05:00 UTC to 05:00 UTC on the 3rd: c1, c2 and c3 started,
    // c1 and c3 resolved.
    let r = report(&app, &app.token.clone(), "from=2026-03-02&to=2026-03-02&time_zone=America/New_York").await;
    assert_eq!(r["time_zone"], "America/New_York");
    assert_eq!(r["days"].as_array().unwrap().len(), 1);
    assert_eq!(counts(&r["summary"]), (3, 1, 2, 3), "{r}");
    assert_eq!(times(&r["summary"]["first_response"], false), (3, 120.0, 264.0, 160.0));
}

async fn groups_split_the_figures_and_labels_overlap(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, rita, _) = dataset(&mut app).await;
    let token = app.token.clone();
    let q = "from=2026-03-02&to=2026-03-03&group_by=";
    let group = |r: &Value, name: Option<&str>| -> Value {
        r["groups"].as_array().unwrap().iter().find(|g| g["name"].as_str() == name).cloned().unwrap_or(Value::Null)
    };

    // Agents: the assignee, else who answered first.
    let r = report(&app, &token, &format!("{q}agent")).await;
    assert_eq!(r["group_by"], "agent");
    assert_eq!(counts(&r["summary"]), (5, 3, 2, 5), "the groups add up to the whole");
    let names: Vec<_> = r["groups"].as_array().unwrap().iter().map(|g| g["name"].clone()).collect();
    assert_eq!(names.len(), 3, "{r}");
    assert_eq!(names[2], Value::Null, "the conversations of nobody come last");
    let g = group(&r, Some("Rita"));
    assert_eq!(g["id"], rita.as_str());
    assert_eq!(counts(&g), (3, 1, 2, 3));
    assert_eq!(times(&g["first_response"], false), (3, 180.0, 276.0, 180.0));
    assert_eq!(counts(&group(&r, None)), (1, 1, 0, 1));

    // Labels overlap; the summary stays the whole.
    let r = report(&app, &token, &format!("{q}label")).await;
    assert_eq!(counts(&r["summary"]), (5, 3, 2, 5));
    assert_eq!(counts(&group(&r, Some("vip"))), (2, 0, 2, 2));
    assert_eq!(counts(&group(&r, Some("refund"))), (1, 0, 1, 1));
    assert_eq!(counts(&group(&r, None)), (3, 3, 0, 3));
    assert_eq!(times(&group(&r, Some("vip"))["resolution"], false), (2, 5400.0, 6840.0, 5400.0));

    // One channel (the test's), no team, no link.
    let r = report(&app, &token, &format!("{q}channel")).await;
    assert_eq!(r["groups"].as_array().unwrap().len(), 1);
    assert!(r["groups"][0]["id"].is_string());
    assert_eq!(counts(&r["groups"][0]), (5, 3, 2, 5));
    for by in ["team", "link"] {
        let r = report(&app, &token, &format!("{q}{by}")).await;
        assert_eq!(r["groups"].as_array().unwrap().len(), 1, "{by}");
        assert!(r["groups"][0]["id"].is_null(), "{by}");
        assert_eq!(counts(&r["groups"][0]), (5, 3, 2, 5), "{by}");
    }
}

/// The dataset's c2 (the admin's, open) resolved at 13:00 on the 2nd, after an hour, and
/// labelled "refund".
async fn resolve_c2(app: &TestApp, c2: &str) {
    let admin = app.get_json("/api/v1/agents/me").await["id"].as_str().unwrap().to_owned();
    let facts = Facts {
        created: "2026-03-02T12:00:00Z",
        resolved: Some("2026-03-02T13:00:00Z"),
        assignee: Some(&admin),
        first_response: Some((120, 0, &admin)),
        resolution: Some((3600, 600)),
        replies: 1,
        labels: &["refund"],
    };
    set_facts(app, c2, &facts).await;
}

/// How many slot figures the cache holds.
async fn cached_slots(app: &TestApp) -> i64 {
    on_db!(app.db, |c, _t| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM report_slots")
        .fetch_one(&mut c)
        .await
        .unwrap())
}

/// Past days are summed from cached slots: every kind of change to an old conversation
/// (its facts, labels, assignee, deletion) shows in the next report, grouped or not.
async fn past_figures_come_from_the_cache_and_follow_every_change(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (rita_token, rita, ids) = dataset(&mut app).await;
    let token = app.token.clone();
    let q = "from=2026-03-02&to=2026-03-03";
    let group = |r: &Value, name: Option<&str>| -> Value {
        r["groups"].as_array().unwrap().iter().find(|g| g["name"].as_str() == name).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(cached_slots(&app).await, 0);
    // Filled by the first reports (two days of 96 slots, per kind), then read back.
    for _ in 0..2 {
        assert_eq!(counts(&report(&app, &token, q).await["summary"]), (5, 3, 2, 5));
        assert_eq!(
            counts(&group(&report(&app, &token, &format!("{q}&group_by=agent")).await, Some("Rita"))),
            (3, 1, 2, 3)
        );
        assert_eq!(
            counts(&group(&report(&app, &token, &format!("{q}&group_by=label")).await, Some("vip"))),
            (2, 0, 2, 2)
        );
        assert_eq!(counts(&report(&app, &rita_token, q).await["summary"]), (3, 1, 2, 3));
    }
    assert_eq!(cached_slots(&app).await, 3 * 2 * 96);

    // c2 (the admin's, open) resolved on the 2nd, after an hour.
    resolve_c2(&app, &ids[1]).await;
    // c5 (nobody's, unanswered) given to Rita; c1's "vip" label taken off.
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{}/assign", ids[4]),
        Some(&token),
        Some(json!({"agent_id": rita})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let labels = app.get_json("/api/v1/labels").await;
    let vip = labels["items"].as_array().unwrap().iter().find(|l| l["name"] == "vip").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res =
        call(&app, Method::DELETE, &format!("/api/v1/conversations/{}/labels/{vip}", ids[0]), Some(&token), None).await;
    assert!(res.status().is_success(), "{}", res.status());

    let r = report(&app, &token, q).await;
    assert_eq!(counts(&r["summary"]), (5, 2, 3, 5), "{r}");
    assert_eq!(times(&r["summary"]["resolution"], false), (3, 3600.0, 6480.0, 4800.0));
    assert_eq!(counts(&r["days"][0]), (2, 0, 2, 2));
    let r = report(&app, &token, &format!("{q}&group_by=agent")).await;
    assert_eq!(counts(&group(&r, Some("Rita"))), (4, 2, 2, 4), "{r}");
    assert_eq!(group(&r, None), Value::Null, "nobody's conversation went to Rita, its greeting with it");
    let r = report(&app, &token, &format!("{q}&group_by=label")).await;
    assert_eq!(counts(&group(&r, Some("vip"))), (1, 0, 1, 1), "{r}");
    assert_eq!(counts(&group(&r, Some("refund"))), (2, 0, 2, 2));
    assert_eq!(counts(&report(&app, &rita_token, q).await["summary"]), (4, 2, 2, 4));

    // A conversation deleted (as retention does) leaves the figures; renaming an agent
    // shows at once (names are not cached).
    on_db!(app.db, |c, _t| {
        sqlx::query("DELETE FROM conversations WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&ids[3]).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
    });
    let res =
        call(&app, Method::PATCH, &format!("/api/v1/agents/{rita}"), Some(&token), Some(json!({"name": "Rita M."})))
            .await;
    assert!(res.status().is_success(), "{}", res.status());
    let r = report(&app, &token, &format!("{q}&group_by=agent")).await;
    assert_eq!(counts(&r["summary"]), (4, 1, 3, 4), "{r}");
    assert_eq!(counts(&group(&r, Some("Rita M."))), (3, 1, 2, 3), "{r}");
}

/// The housekeeping pass computes the cache's missing slots of the last quarter ahead of
/// any report (every kind, from the first conversation's slot to three hours ago), then
/// only those a change marked.
async fn housekeeping_fills_the_cache_and_refills_only_what_changed(backend: Backend) {
    use switchboard_core::housekeeping::{Housekeeper, HousekeepingOptions};
    let mut app = spawn_app(backend).await;
    let (_, _, ids) = dataset(&mut app).await;
    let pass = |now: &str| {
        let housekeeper = Housekeeper::new(std::sync::Arc::clone(&app.store), HousekeepingOptions::default());
        let now = at(now);
        async move { housekeeper.run_once(now).await.unwrap().report_slots }
    };
    // From c1's start (the 2nd, 09:00) to 21:00 on the 5th: 84 hours of slots, six kinds.
    assert_eq!(pass("2026-03-06T00:00:00Z").await, 6 * 84 * 4);
    assert_eq!(cached_slots(&app).await, 6 * 84 * 4);
    assert_eq!(pass("2026-03-06T00:00:00Z").await, 0, "nothing changed");
    // c2 resolved at 13:00 and labelled: its start's and its resolution's slots. A report
    // recomputes them in all (and the nine hours of the 2nd before c1 started, never
    // cached), so the pass recomputes them for the five other kinds only: merging the marks
    // kept what the report's figures were computed under.
    resolve_c2(&app, &ids[1]).await;
    let r = report(&app, &app.token.clone(), "from=2026-03-02&to=2026-03-03").await;
    assert_eq!(counts(&r["summary"]), (5, 2, 3, 5), "{r}");
    assert_eq!(cached_slots(&app).await, 6 * 84 * 4 + 9 * 4);
    assert_eq!(pass("2026-03-06T00:00:00Z").await, 5 * 2);
    let writers =
        on_db!(app.db, |c, _t| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM report_marks WHERE writer <> 0")
            .fetch_one(&mut c)
            .await
            .unwrap());
    assert_eq!(writers, 0, "merged");
    assert_eq!(pass("2026-03-06T00:00:00Z").await, 0);
}

async fn agents_see_only_their_own_figures(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (rita_token, rita, _) = dataset(&mut app).await;
    let r = report(&app, &rita_token, "from=2026-03-02&to=2026-03-03").await;
    assert_eq!(r["agent_id"], rita.as_str());
    // c1, c4 (assigned) and c3 (answered first, assigned to nobody).
    assert_eq!(counts(&r["summary"]), (3, 1, 2, 3), "{r}");
    assert_eq!(times(&r["summary"]["first_response"], false), (3, 180.0, 276.0, 180.0));
    assert_eq!(r["summary"]["replies_per_conversation"], 2.0);
    // Grouping does not widen it.
    let r = report(&app, &rita_token, "from=2026-03-02&to=2026-03-03&group_by=agent").await;
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["id"], rita.as_str());
    // Nor does the CSV.
    let res = call(
        &app,
        Method::GET,
        "/api/v1/reports/conversations.csv?from=2026-03-02&to=2026-03-03",
        Some(&rita_token),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap().lines().count(), 1 + 3);
    // An agent with no conversations: zeros.
    let (_, other) = new_agent(&app, "Otto").await;
    assert_eq!(counts(&report(&app, &other, "from=2026-03-02&to=2026-03-03").await["summary"]), (0, 0, 0, 0));
}

/// A CSV's rows as maps from column to value (no field here needs quoting but names).
fn csv(text: &str) -> (Vec<String>, Vec<std::collections::HashMap<String, String>>) {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let head: Vec<String> = lines.next().unwrap().split(',').map(str::to_owned).collect();
    let rows = lines
        .map(|l| {
            let cells: Vec<String> = l.split(',').map(str::to_owned).collect();
            assert_eq!(cells.len(), head.len(), "{l}");
            head.iter().cloned().zip(cells).collect()
        })
        .collect();
    (head, rows)
}

async fn the_csv_lists_one_row_per_conversation_with_its_facts(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, rita, ids) = dataset(&mut app).await;
    let res = app.get("/api/v1/reports/conversations.csv?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"conversations-2026-03-02-2026-03-03.csv\""
    );
    let (head, rows) = csv(&res.text().await.unwrap());
    assert_eq!(
        head,
        [
            "conversation_id",
            "contact_id",
            "channel_id",
            "channel",
            "team_id",
            "team",
            "agent_id",
            "agent",
            "status",
            "labels",
            "link_id",
            "link",
            "started_at",
            "first_response_at",
            "first_response_by",
            "resolved_at",
            "first_response_seconds",
            "first_response_business_seconds",
            "resolution_seconds",
            "resolution_business_seconds",
            "replies",
            "auto_replies",
            "csat_scale",
            "csat_score",
            "csat_comment",
            "csat_surveyed_at",
            "csat_answered_at",
            "first_response_due_at",
            "first_response_sla",
            "resolution_due_at",
            "resolution_sla",
        ]
    );
    // Oldest first; the one after the range left out.
    let listed: Vec<&str> = rows.iter().map(|r| r["conversation_id"].as_str()).collect();
    assert_eq!(listed, ids[..5].iter().map(String::as_str).collect::<Vec<_>>());
    let c3 = &rows[2];
    assert_eq!(c3["agent_id"], rita, "answered first by Rita, assigned to nobody");
    assert_eq!(c3["agent"], "Rita");
    assert_eq!(c3["status"], "resolved");
    assert_eq!(c3["labels"], "refund; vip");
    assert_eq!(c3["started_at"], "2026-03-03T02:00:00Z");
    assert_eq!(c3["first_response_at"], "2026-03-03T02:05:00Z");
    assert_eq!(c3["first_response_by"], rita);
    assert_eq!(c3["resolved_at"], "2026-03-03T04:00:00Z");
    let kpis: Vec<&str> = [
        "first_response_seconds",
        "first_response_business_seconds",
        "resolution_seconds",
        "resolution_business_seconds",
        "replies",
        "auto_replies",
    ]
    .iter()
    .map(|k| c3[*k].as_str())
    .collect();
    assert_eq!(kpis, ["300", "300", "7200", "3600", "3", "1"]);
    let c5 = &rows[4];
    assert_eq!(
        (
            c5["agent"].as_str(),
            c5["first_response_seconds"].as_str(),
            c5["resolved_at"].as_str(),
            c5["labels"].as_str()
        ),
        ("", "", "", "")
    );
    assert!(!c5["channel"].is_empty() && c5["team_id"].is_empty() && c5["link_id"].is_empty());
}

async fn a_persons_reply_counts_in_todays_report(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conversation = customer(&mut app, "16505550199").await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&app.token),
        Some(json!({"type": "text", "text": "Here to help"})),
    )
    .await;
    assert_eq!(res.status(), 202);
    app.send().await;
    let r = report(&app, &app.token.clone(), "").await;
    assert_eq!(r["days"].as_array().unwrap().len(), 30, "the last 30 days by default");
    let s = &r["summary"];
    assert_eq!(counts(s), (1, 1, 0, 0), "{s}");
    assert_eq!(s["first_response"]["count"], 1);
    assert_eq!(s["replies_per_conversation"], 1.0);
    let today = r["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["date"], Utc::now().date_naive().to_string());
    assert_eq!(today["conversations_started"], 1);
}

async fn bad_parameters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    for (q, field) in [
        ("time_zone=Mars/Olympus", "time_zone"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("group_by=colour", "group_by"),
    ] {
        for path in ["/api/v1/reports/conversations", "/api/v1/reports/conversations.csv"] {
            let res = app.get(&format!("{path}?{q}")).await;
            assert_eq!(res.status(), 422, "{path}?{q}");
            let p: Value = res.json().await.unwrap();
            assert_eq!(p["errors"][0]["field"], field, "{path}?{q}: {p}");
        }
    }
    let res = app.client.get(app.url("/api/v1/reports/conversations")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn the_reports_page_shows_the_figures_and_links_the_csv(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (rita_token, _, ids) = dataset(&mut app).await;
    let page = |token: String, q: &'static str| {
        let app = &app;
        async move {
            let res = call(app, Method::GET, &format!("/reports?{q}"), Some(&token), None).await;
            assert_eq!(res.status(), 200, "{q}");
            res.text().await.unwrap()
        }
    };
    let html = page(app.token.clone(), "from=2026-03-02&to=2026-03-03&group_by=agent").await;
    assert!(html.contains(r#"<td id="started">5</td>"#), "{html}");
    assert!(html.contains(r#"<td id="first-response-median">2 min 30 s</td>"#), "{html}");
    assert!(html.contains(r#"<svg class="chart""#));
    assert!(
        html.contains(
            r#"href="/api/v1/reports/conversations.csv?from=2026-03-02&#38;to=2026-03-03&#38;time_zone=UTC""#
        ),
        "{html}"
    );
    assert!(html.contains("Rita"), "the agents' table");
    assert!(
        html.contains(r#"href="/api/v1/reports/csat.csv?from=2026-03-02&#38;to=2026-03-03&#38;time_zone=UTC""#),
        "{html}"
    );
    assert!(!html.contains(r#"id="csat-chart""#), "no chart without answers");
    assert!(html.contains(r#"<td id="csat-average">—</td>"#), "{html}");
    // With answers: the average, the rate and the distribution's chart.
    surveys(&app, &ids).await;
    let html = page(app.token.clone(), "from=2026-03-02&to=2026-03-03").await;
    assert!(html.contains(r#"<td id="csat-average">3.5 / 5</td>"#), "{html}");
    assert!(html.contains(r#"<td id="csat-rate">80 % (4 of 5)</td>"#), "{html}");
    assert!(html.contains(r#"id="csat-chart""#) && html.contains("<title>4 of 5: 1 answer</title>"), "{html}");
    // Rita's own.
    let html = page(rita_token, "from=2026-03-02&to=2026-03-03").await;
    assert!(html.contains(r#"<td id="started">3</td>"#), "{html}");
    assert!(html.contains("Your conversations"));
    // A bad field is shown on the page, the form kept.
    let res = call(&app, Method::GET, "/reports?time_zone=Mars", Some(&app.token), None).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("must be an IANA time zone name"), "{html}");
    assert!(html.contains(r#"value="Mars""#));
}

/// A conversation's survey as the test sets it: sent at, scale, answer (score, at,
/// comment).
async fn set_survey(
    app: &TestApp,
    conversation: &str,
    sent: &str,
    scale: i64,
    answer: Option<(i64, &str, Option<&str>)>,
) {
    let id = uuid::Uuid::parse_str(conversation).unwrap();
    let sent = at(sent);
    let sql = "UPDATE conversations SET csat_queued_at = $2, csat_expires_at = $3, csat_scale = $4, csat_score = $5, \
        csat_rated_at = $6, csat_comment = $7 WHERE id = $1";
    on_db!(app.db, |c, t| {
        sqlx::query(sql)
            .bind(id)
            .bind(t(sent))
            .bind(t(sent + chrono::Duration::days(7)))
            .bind(scale)
            .bind(answer.map(|a| a.0))
            .bind(answer.map(|a| t(at(a.1))))
            .bind(answer.and_then(|a| a.2))
            .execute(&mut c)
            .await
            .unwrap();
    });
}

/// The dataset's surveys: c1 5/5 (Rita), c2 2/5 (the admin), c3 2/3 (Rita), c4 4/5
/// (Rita), c5 unanswered (nobody), c6 1/5 after the range. Over the 2nd and 3rd: 5 sent,
/// 4 answered, average (5 + 2 + 3 + 4) / 4 = 3.5 of five.
async fn surveys(app: &TestApp, ids: &[String]) {
    set_survey(app, &ids[0], "2026-03-02T10:00:00Z", 5, Some((5, "2026-03-02T10:05:00Z", Some("=1+1 great")))).await;
    set_survey(app, &ids[1], "2026-03-02T13:00:00Z", 5, Some((2, "2026-03-02T13:01:00Z", None))).await;
    set_survey(app, &ids[2], "2026-03-03T04:00:00Z", 3, Some((2, "2026-03-03T04:10:00Z", None))).await;
    set_survey(app, &ids[3], "2026-03-03T09:00:00Z", 5, Some((4, "2026-03-03T09:30:00Z", Some("ok")))).await;
    set_survey(app, &ids[4], "2026-03-03T11:00:00Z", 5, None).await;
    set_survey(app, &ids[5], "2026-03-05T11:00:00Z", 5, Some((1, "2026-03-05T11:02:00Z", None))).await;
}

/// `(sent, answered, response rate, average)` of a figures object's CSAT.
fn csat(v: &Value) -> (u64, u64, Option<f64>, Option<f64>) {
    let c = &v["csat"];
    (
        c["surveys_sent"].as_u64().unwrap(),
        c["answered"].as_u64().unwrap(),
        c["response_rate"].as_f64(),
        c["average"].as_f64(),
    )
}

/// The non-zero `(scale, score, count)` of a figures object's CSAT distribution.
fn distribution(v: &Value) -> Vec<(u64, u64, u64)> {
    v["csat"]["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["scale"].as_u64().unwrap(), d["score"].as_u64().unwrap(), d["count"].as_u64().unwrap()))
        .filter(|d| d.2 > 0)
        .collect()
}

async fn csat_figures_are_exact_per_day_per_group_and_for_an_agent(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (rita_token, rita, ids) = dataset(&mut app).await;
    surveys(&app, &ids).await;
    let token = app.token.clone();
    let r = report(&app, &token, "from=2026-03-02&to=2026-03-03").await;
    let s = &r["summary"];
    assert_eq!(csat(s), (5, 4, Some(0.8), Some(3.5)), "{s}");
    assert_eq!(distribution(s), [(3, 2, 1), (5, 2, 1), (5, 4, 1), (5, 5, 1)]);
    // Every score of each scale answered on, zeros included.
    assert_eq!(s["csat"]["distribution"].as_array().unwrap().len(), 3 + 5);
    let days = r["days"].as_array().unwrap();
    assert_eq!(csat(&days[0]), (2, 2, Some(1.0), Some(3.5)));
    assert_eq!(csat(&days[1]), (3, 2, Some(0.667), Some(3.5)));
    assert_eq!(distribution(&days[1]), [(3, 2, 1), (5, 4, 1)]);

    // Per agent: Rita's three, the admin's one, nobody's unanswered one.
    let r = report(&app, &token, "from=2026-03-02&to=2026-03-03&group_by=agent").await;
    assert_eq!(csat(&r["summary"]), (5, 4, Some(0.8), Some(3.5)));
    let group = |name: Option<&str>| {
        r["groups"].as_array().unwrap().iter().find(|g| g["name"].as_str() == name).cloned().unwrap()
    };
    assert_eq!(csat(&group(Some("Rita"))), (3, 3, Some(1.0), Some(4.0)));
    assert_eq!(csat(&group(None)), (1, 0, Some(0.0), None));
    assert_eq!(group(None)["csat"]["distribution"], json!([]));
    // Labels overlap: c1 and c3 are vip.
    let r = report(&app, &token, "from=2026-03-02&to=2026-03-03&group_by=label").await;
    let vip = r["groups"].as_array().unwrap().iter().find(|g| g["name"] == "vip").cloned().unwrap();
    assert_eq!(csat(&vip), (2, 2, Some(1.0), Some(4.0)));
    assert_eq!(csat(&r["summary"]), (5, 4, Some(0.8), Some(3.5)));

    // Rita's own.
    let r = report(&app, &rita_token, "from=2026-03-02&to=2026-03-03").await;
    assert_eq!(r["agent_id"], rita.as_str());
    assert_eq!(csat(&r["summary"]), (3, 3, Some(1.0), Some(4.0)));
    // A range with no survey.
    let r = report(&app, &token, "from=2026-03-04&to=2026-03-04").await;
    assert_eq!(csat(&r["summary"]), (0, 0, None, None));
}

async fn the_csv_carries_each_conversations_survey(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, _, ids) = dataset(&mut app).await;
    surveys(&app, &ids).await;
    let res = app.get("/api/v1/reports/conversations.csv?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(res.status(), 200);
    let (_, rows) = csv(&res.text().await.unwrap());
    let survey = |i: usize| -> Vec<String> {
        ["csat_scale", "csat_score", "csat_comment", "csat_surveyed_at", "csat_answered_at"]
            .iter()
            .map(|k| rows[i][*k].clone())
            .collect()
    };
    assert_eq!(survey(0), ["5", "5", "'=1+1 great", "2026-03-02T10:00:00Z", "2026-03-02T10:05:00Z"]);
    assert_eq!(survey(2), ["3", "2", "", "2026-03-03T04:00:00Z", "2026-03-03T04:10:00Z"]);
    assert_eq!(survey(4), ["5", "", "", "2026-03-03T11:00:00Z", ""], "sent, unanswered");
}

async fn the_csat_export_lists_answered_surveys_and_agents_get_their_own(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (rita_token, rita, ids) = dataset(&mut app).await;
    surveys(&app, &ids).await;
    let admin = app.get_json("/api/v1/agents/me").await["id"].as_str().unwrap().to_owned();
    let res = app.get("/api/v1/reports/csat.csv?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"csat-2026-03-02-2026-03-03.csv\"");
    let (head, rows) = csv(&res.text().await.unwrap());
    assert_eq!(
        head,
        [
            "conversation_id",
            "contact_id",
            "channel_id",
            "channel",
            "team_id",
            "team",
            "agent_id",
            "agent",
            "score",
            "scale",
            "comment",
            "surveyed_at",
            "answered_at",
        ]
    );
    // The answered ones in the range, in the order they were sent.
    let listed: Vec<&str> = rows.iter().map(|r| r["conversation_id"].as_str()).collect();
    assert_eq!(listed, ids[..4].iter().map(String::as_str).collect::<Vec<_>>());
    let c1 = &rows[0];
    assert_eq!((c1["agent_id"].as_str(), c1["agent"].as_str()), (rita.as_str(), "Rita"));
    assert_eq!((c1["score"].as_str(), c1["scale"].as_str(), c1["comment"].as_str()), ("5", "5", "'=1+1 great"));
    assert_eq!(
        (c1["surveyed_at"].as_str(), c1["answered_at"].as_str()),
        ("2026-03-02T10:00:00Z", "2026-03-02T10:05:00Z")
    );
    assert!(!c1["contact_id"].is_empty() && !c1["channel_id"].is_empty() && !c1["channel"].is_empty());
    assert_eq!(c1["team_id"], "");
    let c2 = &rows[1];
    assert_eq!((c2["agent_id"].as_str(), c2["score"].as_str(), c2["comment"].as_str()), (admin.as_str(), "2", ""));
    assert_eq!((rows[2]["score"].as_str(), rows[2]["scale"].as_str()), ("2", "3"));

    // Rita: only her conversations' answers (not the admin's c2).
    let res =
        call(&app, Method::GET, "/api/v1/reports/csat.csv?from=2026-03-02&to=2026-03-03", Some(&rita_token), None)
            .await;
    assert_eq!(res.status(), 200);
    let (_, rows) = csv(&res.text().await.unwrap());
    let listed: Vec<&str> = rows.iter().map(|r| r["conversation_id"].as_str()).collect();
    assert_eq!(listed, [ids[0].as_str(), ids[2].as_str(), ids[3].as_str()]);
    assert!(rows.iter().all(|r| r["agent_id"] == rita));
    // Another agent: the header alone.
    let (_, other) = new_agent(&app, "Otto").await;
    let res =
        call(&app, Method::GET, "/api/v1/reports/csat.csv?from=2026-03-02&to=2026-03-03", Some(&other), None).await;
    assert_eq!(res.text().await.unwrap().lines().count(), 1);
    // Bad input is refused naming the field; no token, no CSV.
    let res = app.get("/api/v1/reports/csat.csv?from=2026-03-04&to=2026-03-01").await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"][0]["field"], "from");
    let res = app.client.get(app.url("/api/v1/reports/csat.csv")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn a_rating_tapped_in_whatsapp_is_reported(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let pnid = PhoneNumberId::parse(PHONE_NUMBER_ID).unwrap();
    let channel = app.store.channels().await.unwrap().into_iter().find(|c| c.phone_number_id == pnid).unwrap().id;
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/admin/channels/{channel}/csat"),
        Some(&app.token),
        Some(json!({"enabled": true, "question": "How did we do?"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let conversation = customer(&mut app, "16505550177").await;
    let res =
        app.post_json(&format!("/api/v1/conversations/{conversation}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.send().await.sent, 1, "the survey");
    let tap = message(
        "wamid.report.tap",
        "16505550177",
        "interactive",
        json!({"type": "list_reply", "list_reply": {"id": format!("csat:{conversation}:4"), "title": "Good"}}),
    );
    let body = delivery(vec![contact("16505550177", "Ana")], vec![tap], vec![]);
    assert_eq!(app.post_webhook(serde_json::to_vec(&body).unwrap()).await.status(), 200);
    app.ingest().await;

    let r = report(&app, &app.token.clone(), "").await;
    assert_eq!(csat(&r["summary"]), (1, 1, Some(1.0), Some(4.0)), "{r}");
    assert_eq!(distribution(&r["summary"]), [(5, 4, 1)]);
    let res = app.get("/api/v1/reports/csat.csv").await;
    let (_, rows) = csv(&res.text().await.unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0]["conversation_id"].as_str(), rows[0]["score"].as_str()), (conversation.as_str(), "4"));
    assert!(!rows[0]["answered_at"].is_empty());
}
