//! Live updates: `GET /api/v1/events` streams the inbox events an agent may see, resumes
//! with `Last-Event-ID`, keeps quiet streams alive and ends them at shutdown.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_server::startup;
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::sse::{Frame, SseEvent, SseStream};
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with, test_settings};

use crate::labels::{agent_token, send};

async fn open(app: &TestApp, token: &str, last_event_id: Option<i64>) -> SseStream {
    open_at(&app.base, app, token, last_event_id).await
}

async fn open_at(base: &str, app: &TestApp, token: &str, last_event_id: Option<i64>) -> SseStream {
    let mut req = app.client.get(format!("{base}/api/v1/events")).bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id.to_string());
    }
    SseStream::new(req.send().await.unwrap())
}

/// A customer writes; returns the conversation's id and channel id.
async fn inbound(app: &mut TestApp, wamid: &str, from: &str) -> (String, String) {
    let body = serde_json::to_vec(&text_delivery(wamid, from, "my order is late")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let c = app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap();
    (c["id"].as_str().unwrap().to_owned(), c["channel_id"].as_str().unwrap().to_owned())
}

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

async fn set_status(app: &TestApp, conv: &str, status: &str) {
    let res = app.post_json(&format!("/api/v1/conversations/{conv}/status"), &json!({ "status": status })).await;
    assert_eq!(res.status(), 200);
}

async fn an_inbound_message_reaches_a_connected_agent(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut stream = open(&app, &app.token, None).await;
    let (conv, channel) = inbound(&mut app, "wamid.ev1", "16505550001").await;
    let events = stream.events(2).await;
    assert_eq!(kinds(&events), ["conversation_created", "message_created"]);
    assert!(events[0].id < events[1].id);
    let m = &events[1];
    assert_eq!(m.data["id"], m.id);
    assert_eq!(m.data["kind"], "message_created");
    assert_eq!(m.data["conversation_id"], conv.as_str());
    assert_eq!(m.data["channel_id"], channel.as_str());
    assert_eq!(m.data["direction"], "inbound");
    assert_eq!(m.data["type"], "text");
    assert!(m.data["sent_by"].is_null());
    assert!(m.data["at"].is_string());
    let message = &app.messages(&conv).await[0];
    assert_eq!(m.data["message_id"], message["id"]);
    // No personal data in the feed: clients fetch the message.
    assert!(!m.data.to_string().contains("my order is late"));
    assert!(!m.data.to_string().contains("16505550001"));
}

async fn replies_assignment_status_and_labels_stream_their_events(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conv, _) = inbound(&mut app, "wamid.ev2", "16505550002").await;
    let (_, agent_id) = agent_token(&app).await;
    let label = crate::labels::create_label(&app, json!({"name": "vip"})).await;
    let label_id = label["id"].as_str().unwrap();
    let mut stream = open(&app, &app.token, None).await;

    let res = app
        .post_json(&format!("/api/v1/conversations/{conv}/messages"), &json!({"type": "text", "text": "On it"}))
        .await;
    assert_eq!(res.status(), 202);
    let reply: Value = res.json().await.unwrap();
    let created = stream.next_event().await;
    assert_eq!(created.event, "message_created");
    assert_eq!(created.data["direction"], "outbound");
    assert_eq!(created.data["message_id"], reply["id"]);
    assert_eq!(created.data["state"], "queued");
    assert!(created.data["sent_by"].is_string());

    assert_eq!(app.send().await.sent, 1);
    let sent = stream.next_event().await;
    assert_eq!(sent.event, "message_status");
    assert_eq!((&sent.data["message_id"], &sent.data["state"]), (&reply["id"], &json!("sent")));
    assert_eq!(sent.data["previous_state"], "queued");

    let res = app.post_json(&format!("/api/v1/conversations/{conv}/assign"), &json!({ "agent_id": agent_id })).await;
    assert_eq!(res.status(), 200);
    let assigned = stream.next_event().await;
    assert_eq!(assigned.event, "assignment_changed");
    assert_eq!(assigned.data["assignee_id"], agent_id.as_str());
    assert!(assigned.data["previous_assignee_id"].is_null());

    set_status(&app, &conv, "pending").await;
    let status = stream.next_event().await;
    assert_eq!(status.event, "conversation_status");
    assert_eq!((&status.data["status"], &status.data["previous_status"]), (&json!("pending"), &json!("open")));
    assert_eq!(status.data["assignee_id"], agent_id.as_str());

    let res = app.post_json(&format!("/api/v1/conversations/{conv}/labels"), &json!({"labels": ["vip"]})).await;
    assert!(res.status().is_success(), "{}", res.status());
    let added = stream.next_event().await;
    assert_eq!(added.event, "label_added");
    assert_eq!(added.data["label_id"], label_id);
    assert!(added.data["added_by"].is_string());
    let res = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/conversations/{conv}/labels/{label_id}"),
        &app.token,
        None,
    )
    .await;
    assert!(res.status().is_success(), "{}", res.status());
    let removed = stream.next_event().await;
    assert_eq!(removed.event, "label_removed");
    assert_eq!(removed.data["label_id"], label_id);

    let res = app.post_json(&format!("/api/v1/conversations/{conv}/notes"), &json!({"text": "call her at 5"})).await;
    assert_eq!(res.status(), 201);
    let note: Value = res.json().await.unwrap();
    let noted = stream.next_event().await;
    assert_eq!(noted.event, "note_created");
    assert_eq!(noted.data["note_id"], note["id"]);
    assert!(noted.data["author_id"].is_string());
    assert!(!noted.data.to_string().contains("call her"), "no note text in events");
    assert!(
        [&created, &sent, &assigned, &status, &added, &removed, &noted].windows(2).all(|w| w[0].id < w[1].id),
        "ids increase"
    );
}

async fn a_reconnect_with_last_event_id_replays_exactly_what_was_missed(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (conv, _) = inbound(&mut app, "wamid.ev3", "16505550003").await;
    let mut stream = open(&app, &app.token, None).await;
    set_status(&app, &conv, "pending").await;
    let seen = stream.next_event().await;
    drop(stream);

    // Missed while disconnected.
    set_status(&app, &conv, "open").await;
    let body = serde_json::to_vec(&text_delivery("wamid.ev3b", "16505550003", "hello?")).unwrap();
    app.post_webhook(body).await;
    app.ingest().await;

    let mut resumed = open(&app, &app.token, Some(seen.id)).await;
    let missed = resumed.events(2).await;
    assert_eq!(kinds(&missed), ["conversation_status", "message_created"]);
    assert_eq!(missed[0].data["status"], "open");
    assert!(seen.id < missed[0].id && missed[0].id < missed[1].id);
    // Then live, with nothing repeated at the seam.
    set_status(&app, &conv, "pending").await;
    let live = resumed.next_event().await;
    assert_eq!(live.event, "conversation_status");
    assert!(live.id > missed[1].id);
    assert_eq!(resumed.event_within(Duration::from_millis(300)).await, None);

    // The same through the query string, for clients that cannot set headers.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/events?last_event_id={}", seen.id)))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let replayed = SseStream::new(res).events(3).await;
    assert_eq!(replayed.iter().map(|e| e.id).collect::<Vec<_>>(), [missed[0].id, missed[1].id, live.id]);

    // A resume point that is not an event id is refused.
    let res = app.client.get(app.url("/api/v1/events")).bearer_auth(&app.token).header("last-event-id", "x").send();
    let res = res.await.unwrap();
    assert_eq!(res.status(), 400);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_last_event_id");
    // And a stream needs a token.
    assert_eq!(app.client.get(app.url("/api/v1/events")).send().await.unwrap().status(), 401);
}

async fn an_agent_does_not_receive_events_of_conversations_they_may_not_see(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (agent, agent_id) = agent_token(&app).await;
    // The channel goes to a team the agent is not in.
    let res = app.post_json("/api/v1/teams", &json!({"name": "Billing"})).await;
    assert_eq!(res.status(), 201);
    let team: Value = res.json().await.unwrap();
    let (first, channel) = inbound(&mut app, "wamid.ev4", "16505550004").await;
    let res = app
        .client
        .put(app.url(&format!("/api/v1/channels/{channel}/team")))
        .bearer_auth(&app.token)
        .json(&json!({"team_id": team["id"]}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let mut theirs = open(&app, &agent, None).await;
    let mut admins = open(&app, &app.token, None).await;
    set_status(&app, &first, "pending").await;
    let body = serde_json::to_vec(&text_delivery("wamid.ev4b", "16505550005", "hi")).unwrap();
    app.post_webhook(body).await;
    app.ingest().await;
    let (second, _) = (app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == "16505550005"))
        .map(|c| (c["id"].as_str().unwrap().to_owned(), ()))
        .unwrap();
    assert_eq!(kinds(&admins.events(3).await), ["conversation_status", "conversation_created", "message_created"]);

    // Assigned to them, the conversation becomes theirs to see: that is the first event
    // they get, then what follows on it, and nothing of the other one.
    let res = app.post_json(&format!("/api/v1/conversations/{second}/assign"), &json!({ "agent_id": agent_id })).await;
    assert_eq!(res.status(), 200);
    set_status(&app, &first, "open").await;
    set_status(&app, &second, "pending").await;
    let got = theirs.events(2).await;
    assert_eq!(kinds(&got), ["assignment_changed", "conversation_status"]);
    assert!(got.iter().all(|e| e.data["conversation_id"] == second.as_str()));
    // Unassigned again (by an admin), they are told, and then see no more of it.
    let res = app.post_json(&format!("/api/v1/conversations/{second}/assign"), &json!({ "agent_id": null })).await;
    assert_eq!(res.status(), 200);
    set_status(&app, &second, "open").await;
    let gone = theirs.next_event().await;
    assert_eq!(gone.event, "assignment_changed");
    assert_eq!(gone.data["previous_assignee_id"], agent_id.as_str());
    assert_eq!(theirs.event_within(Duration::from_millis(300)).await, None);
    assert_eq!(admins.events(5).await.len(), 5);
}

async fn keep_alives_arrive_on_a_quiet_stream(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions { env: vec![("SWITCHBOARD__EVENTS__KEEP_ALIVE_MS", "200".into())], ..AppOptions::default() },
    )
    .await;
    let mut stream = open(&app, &app.token, None).await;
    let started = Instant::now();
    for _ in 0..2 {
        let frame = stream.frame_within(Duration::from_secs(2)).await.expect("a keep-alive within 2 s");
        assert_eq!(frame, Frame::Comment("keep-alive".into()));
    }
    assert!(started.elapsed() >= Duration::from_millis(350), "{:?}", started.elapsed());
}

async fn streams_end_when_the_server_stops(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut stream = open(&app, &app.token, None).await;
    let started = Instant::now();
    // The graceful stop waits for open responses (http.shutdown_timeout_secs = 10): the
    // streams must end on their own, at once.
    let stopping = tokio::spawn(app.stop());
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if stream.next_frame().await.is_none() {
                return;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ended");
    let _db = stopping.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

both_backends!(
    an_inbound_message_reaches_a_connected_agent,
    replies_assignment_status_and_labels_stream_their_events,
    a_reconnect_with_last_event_id_replays_exactly_what_was_missed,
    an_agent_does_not_receive_events_of_conversations_they_may_not_see,
    keep_alives_arrive_on_a_quiet_stream,
    streams_end_when_the_server_stops,
    a_lagging_subscriber_catches_up_from_the_database,
);

/// Two instances on one PostgreSQL database: what happens through one reaches the
/// streams of the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_event_through_one_instance_reaches_a_client_of_another() {
    let mut a = spawn_app(Backend::Postgres).await;
    let b = startup::start(&test_settings(&a.db, &AppOptions::default())).await.unwrap();
    let b_base = format!("http://{}", b.addr);
    let mut on_b = open_at(&b_base, &a, &a.token, None).await;
    let (conv, _) = inbound(&mut a, "wamid.ev5", "16505550006").await;
    let events = on_b.events(2).await;
    assert_eq!(kinds(&events), ["conversation_created", "message_created"]);
    assert_eq!(events[1].data["conversation_id"], conv.as_str());
    set_status(&a, &conv, "pending").await;
    assert_eq!(on_b.next_event().await.event, "conversation_status");
    b.shutdown().await;
}

/// A subscriber that falls behind the hub's buffer replays from the database: it still
/// gets every event once, in order.
async fn a_lagging_subscriber_catches_up_from_the_database(backend: Backend) {
    use std::sync::Arc;

    use switchboard_core::{LiveHub, LiveItem, LiveOptions};

    let mut app = spawn_app(backend).await;
    let (conv, _) = inbound(&mut app, "wamid.ev6", "16505550007").await;
    let conv: switchboard_domain::ConversationId = conv.parse().unwrap();
    let label = crate::labels::create_label(&app, json!({"name": "vip"})).await;
    let label: switchboard_domain::LabelId = label["id"].as_str().unwrap().parse().unwrap();
    let admin = switchboard_core::Credential::Token(switchboard_http::hash_token(&app.token));

    let tracker = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let opts = LiveOptions { buffer: 16, ..LiveOptions::default() };
    let hub = LiveHub::start(Arc::clone(&app.store), opts, &tracker, stop.clone());
    let mut slow = hub.subscribe(admin, None).await.unwrap();
    let mut fast = hub.subscribe(admin, None).await.unwrap();
    for _ in 0..20 {
        app.store.add_conversation_labels(conv, &[label], None, chrono::Utc::now()).await.unwrap();
        assert!(app.store.remove_conversation_label(conv, label).await.unwrap());
    }
    let last = app.store.last_inbox_event_id().await.unwrap();
    let next_id = |item: Option<Result<LiveItem, switchboard_store::StoreError>>| match item {
        Some(Ok(LiveItem::Event(e))) => Some(e.id),
        Some(Ok(LiveItem::KeepAlive)) => None,
        other => panic!("{other:?}"),
    };
    // Once the fast one has everything, the hub broadcast 40 events past a buffer of 16.
    let mut fast_ids = Vec::new();
    while fast_ids.last() != Some(&last) {
        let item = tokio::time::timeout(Duration::from_secs(5), fast.next()).await.unwrap();
        fast_ids.extend(next_id(item));
    }
    let mut slow_ids = Vec::new();
    while slow_ids.last() != Some(&last) {
        let item = tokio::time::timeout(Duration::from_secs(5), slow.next()).await.unwrap();
        slow_ids.extend(next_id(item));
    }
    assert_eq!(fast_ids.len(), 40);
    assert_eq!(slow_ids, fast_ids);
    assert!(slow_ids.windows(2).all(|w| w[0] < w[1]));
    hub.shutdown();
    assert!(slow.next().await.is_none());
    tracker.close();
    tracker.wait().await;
}
