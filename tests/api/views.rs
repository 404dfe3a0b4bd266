//! Inbox views over HTTP: filters, sorts, cursors, counts, visibility and search.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentId, ConversationId, MessageContent};
use switchboard_store::{NewLabel, NewOutboundMessage};
use switchboard_tests::payloads::{contact, delivery, meta_bytes, text};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, fields, me, new_agent, problem};

both_backends!(
    views_filter_sort_page_and_count,
    bad_view_parameters_are_422_naming_the_field,
    agents_only_see_conversations_they_may_see,
    search_finds_names_numbers_and_text_in_several_scripts,
);

/// A customer writes `body`, `minutes_ago` minutes ago; returns the conversation id.
pub async fn customer_writes(app: &mut TestApp, wa_id: &str, name: &str, body: &str, minutes_ago: i64) -> String {
    let mut m = text(&format!("wamid.{wa_id}.{minutes_ago}.{}", uuid::Uuid::new_v4().simple()), wa_id, body);
    m["timestamp"] = json!((Utc::now() - Duration::minutes(minutes_ago)).timestamp().to_string());
    let res = app.post_webhook(meta_bytes(&delivery(vec![contact(wa_id, name)], vec![m], vec![]))).await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
    let all = app.conversations().await;
    let c = all.iter().find(|c| c["contact"]["wa_id"] == wa_id && c["status"] != "resolved").unwrap();
    c["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    call(app, Method::GET, path, Some(token), None).await
}

async fn view(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = get_as(app, token, &format!("/api/v1/conversations?{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    assert!(page["next_cursor"].is_null(), "{query}: one page expected");
    ids(&page)
}

/// Every page of a view, `limit` at a time.
async fn pages(app: &TestApp, query: &str, limit: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/conversations?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get_json(&path).await;
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn agent_reply(app: &TestApp, conversation: &str, by: &str) {
    app.store
        .insert_outbound(&NewOutboundMessage {
            conversation_id: conversation.parse::<ConversationId>().unwrap(),
            content: MessageContent::Text { body: "On it".into() },
            state: switchboard_domain::DeliveryState::Sent,
            wamid: None,
            sent_by: Some(by.parse::<AgentId>().unwrap()),
            at: Utc::now(),
        })
        .await
        .unwrap();
}

async fn views_filter_sort_page_and_count(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let admin = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    let (bo, bo_token) = new_agent(&app, "Bo").await;
    let a = customer_writes(&mut app, "16505550001", "Ana", "hola", 40).await;
    let b = customer_writes(&mut app, "16505550002", "Ben", "hello", 30).await;
    let c = customer_writes(&mut app, "16505550003", "Cy", "hi", 20).await;
    let d = customer_writes(&mut app, "16505550004", "Di", "hey", 10).await;
    // Bo takes a; the admin answers c (it no longer waits).
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{a}/assign"),
        Some(&app.token),
        Some(json!({"agent_id": bo["id"]})),
    )
    .await;
    assert_eq!(res.status(), 200);
    agent_reply(&app, &c, &admin).await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{d}/status"),
        Some(&app.token),
        Some(json!({"status": "pending"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let mut labels = Vec::new();
    for name in ["vip", "refund"] {
        let l = app
            .store
            .create_label(&NewLabel {
                name: LabelName::parse(name).unwrap(),
                colour: LabelColour::parse("#00aa00").unwrap(),
                description: None,
                at: Utc::now(),
            })
            .await
            .unwrap();
        labels.push(l.id);
    }
    app.store.add_conversation_labels(a.parse().unwrap(), &labels, None, Utc::now()).await.unwrap();
    app.store.add_conversation_labels(b.parse().unwrap(), &labels[..1], None, Utc::now()).await.unwrap();
    let t = &app.token;

    // The queue: open, unassigned, longest waiting first; the answered one last.
    assert_eq!(view(&app, t, "status=open&assignee=unassigned&sort=waiting").await, [b.as_str(), c.as_str()]);
    assert_eq!(
        view(&app, t, "status=open,pending&assignee=unassigned&sort=waiting").await,
        [b.as_str(), d.as_str(), c.as_str()]
    );
    let first = &app.get_json("/api/v1/conversations?sort=waiting&status=open").await["items"][0];
    assert_eq!(first["id"], a.as_str());
    assert!(first["waiting_since"].is_string());
    assert_eq!(first["assignee_id"], bo["id"]);
    assert_eq!(first["labels"].as_array().unwrap().len(), 2);
    // The default stays last activity, newest first.
    assert_eq!(view(&app, t, "").await, [c.as_str(), d.as_str(), b.as_str(), a.as_str()]);
    // Filters.
    assert_eq!(view(&app, &bo_token, "assignee=me").await, [a.as_str()]);
    assert_eq!(view(&app, t, &format!("assignee={}", bo["id"].as_str().unwrap())).await, [a.as_str()]);
    assert!(view(&app, t, "assignee=me").await.is_empty());
    assert_eq!(view(&app, t, "status=pending").await, [d.as_str()]);
    assert_eq!(view(&app, t, "status=pending&status=open").await.len(), 4);
    assert_eq!(view(&app, t, "status=all").await.len(), 4);
    assert_eq!(view(&app, t, "label=VIP").await, [b.as_str(), a.as_str()], "by name, any case");
    assert_eq!(view(&app, t, &format!("label=vip&label={}", labels[1])).await, [a.as_str()], "all of them");
    assert_eq!(view(&app, t, "window=open").await.len(), 4);
    assert!(view(&app, t, "window=closed").await.is_empty());
    let channel = app.store.channels().await.unwrap()[0].id;
    assert_eq!(view(&app, t, &format!("channel={channel}")).await.len(), 4);
    assert!(view(&app, t, &format!("channel={}", uuid::Uuid::now_v7())).await.is_empty());
    // Window closing soonest.
    assert_eq!(view(&app, t, "sort=window_closing").await, [a.as_str(), b.as_str(), c.as_str(), d.as_str()]);

    // Every sort pages without gaps or duplicates.
    for sort in ["waiting", "last_activity", "window_closing"] {
        let whole = view(&app, t, &format!("sort={sort}")).await;
        for limit in [1, 2, 3] {
            assert_eq!(pages(&app, &format!("sort={sort}"), limit).await, whole, "{sort} by {limit}");
        }
    }
    // A cursor belongs to its sort.
    let page = app.get_json("/api/v1/conversations?sort=waiting&limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let p = problem(app.get(&format!("/api/v1/conversations?sort=last_activity&cursor={cursor}")).await, 422).await;
    assert_eq!(fields(&p), ["cursor"]);

    // Counts.
    let counts = app.get_json("/api/v1/conversations/counts").await;
    assert_eq!(
        counts,
        json!({"mine": 0, "unassigned": 2, "queue": 1, "open": 3, "pending": 1, "snoozed": 0, "mentions": 0})
    );
    let res = get_as(&app, &bo_token, "/api/v1/conversations/counts").await;
    let counts: Value = res.json().await.unwrap();
    assert_eq!(counts["mine"], 1);
}

async fn bad_view_parameters_are_422_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    for (query, field) in [
        ("status=closed", "status"),
        ("status=open,nope", "status"),
        ("assignee=someone", "assignee"),
        ("team=x", "team"),
        ("channel=x", "channel"),
        ("window=maybe", "window"),
        ("sort=oldest", "sort"),
        ("q=ab", "q"),
        ("label=nope", "label[0]"),
        ("limit=1&limit=2", "limit"),
        ("cursor=w.x.y", "cursor"),
    ] {
        let p = problem(app.get(&format!("/api/v1/conversations?{query}")).await, 422).await;
        assert_eq!(p["code"], "validation_failed");
        assert_eq!(fields(&p), [field], "{query}");
    }
    let res = app.client.get(app.url("/api/v1/conversations/counts")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

async fn agents_only_see_conversations_they_may_see(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (bo, bo_token) = new_agent(&app, "Bo").await;
    let id = customer_writes(&mut app, "16505550001", "Ana", "hola", 5).await;
    let contact_id =
        app.get_json(&format!("/api/v1/conversations/{id}")).await["contact"]["id"].as_str().unwrap().to_owned();
    // Bo sees it while the channel is routed to no team.
    assert_eq!(view(&app, &bo_token, "").await, [id.as_str()]);
    // Routed to a team Bo is not in: gone for him.
    let team: Value = call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "Sales"})))
        .await
        .json()
        .await
        .unwrap();
    let team_id = team["id"].as_str().unwrap();
    let channel = app.store.channels().await.unwrap()[0].id;
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": team_id})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(view(&app, &bo_token, "").await.is_empty());
    assert!(view(&app, &bo_token, "q=hola").await.is_empty());
    for path in [
        format!("/api/v1/conversations/{id}"),
        format!("/api/v1/conversations/{id}/messages"),
        format!("/api/v1/conversations/{id}/notes"),
        format!("/api/v1/contacts/{contact_id}"),
        format!("/api/v1/contacts/{contact_id}/conversations"),
    ] {
        let p = problem(get_as(&app, &bo_token, &path).await, 404).await;
        assert_eq!(p["code"], "not_found", "{path}");
    }
    let contacts: Value = get_as(&app, &bo_token, "/api/v1/contacts").await.json().await.unwrap();
    assert!(contacts["items"].as_array().unwrap().is_empty());
    let counts: Value = get_as(&app, &bo_token, "/api/v1/conversations/counts").await.json().await.unwrap();
    assert_eq!(counts["open"], 0);
    // The admin sees everything; the team filter finds it.
    assert_eq!(view(&app, &app.token, &format!("team={team_id}")).await, [id.as_str()]);
    // In the team, Bo sees it again.
    let bo_id = bo["id"].as_str().unwrap();
    let res =
        call(&app, Method::PUT, &format!("/api/v1/teams/{team_id}/members/{bo_id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(view(&app, &bo_token, "").await, [id.as_str()]);
    assert_eq!(get_as(&app, &bo_token, &format!("/api/v1/conversations/{id}")).await.status(), 200);
    assert_eq!(get_as(&app, &bo_token, &format!("/api/v1/contacts/{contact_id}")).await.status(), 200);
}

async fn search_finds_names_numbers_and_text_in_several_scripts(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let jose = customer_writes(&mut app, "34600111222", "José Álvarez", "¿Dónde está mi pedido?", 30).await;
    let priya = customer_writes(&mut app, "919800012345", "प्रिया शर्मा", "नमस्ते, मेरा ऑर्डर कहाँ है", 20).await;
    let jonas = customer_writes(&mut app, "491701234567", "Jonas", "Die Lieferung ist beschädigt", 10).await;
    let t = app.token.clone();
    assert_eq!(view(&app, &t, "q=%C3%81LVAREZ").await, [jose.as_str()], "ÁLVAREZ");
    assert_eq!(view(&app, &t, "q=pedido").await, [jose.as_str()]);
    assert_eq!(view(&app, &t, &format!("q={}", "प्रिया")).await, [priya.as_str()]);
    assert_eq!(view(&app, &t, &format!("q={}", "ऑर्डर")).await, [priya.as_str()]);
    assert_eq!(view(&app, &t, "q=BESCHÄDIGT").await, [jonas.as_str()]);
    assert_eq!(view(&app, &t, "q=1701234").await, [jonas.as_str()], "part of the number");
    assert!(view(&app, &t, "q=nothing%20here").await.is_empty());
    assert_eq!(view(&app, &t, "q=pedido&status=resolved").await, Vec::<String>::new());
    assert_eq!(view(&app, &t, "q=%20%20pedido%20&sort=waiting").await, [jose.as_str()], "trimmed");
}
