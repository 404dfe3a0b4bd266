//! The console's conversation page (`/c/{id}…`): what the thread shows, and that its
//! composer and actions change the store exactly as the REST routes do.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::payloads::{contact, delivery, failed_status, message, meta_bytes, status, text};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, me, new_agent};
use crate::views::customer_writes;

both_backends!(
    the_thread_shows_messages_in_order_with_marks_media_quotes_reactions_and_notes,
    the_thread_pages_back_and_its_tail_follows_new_messages_and_marks,
    a_reply_or_note_from_the_page_changes_the_store_like_the_rest_routes,
    a_quick_reply_typed_as_its_shortcut_is_filled_in_for_this_contact,
    once_the_window_closed_free_text_is_refused_and_the_template_form_shows,
    queue_actions_claim_assign_label_snooze_and_resolve_and_open_next,
    the_contact_panel_edits_the_name_and_attributes_and_lists_earlier_conversations,
    previous_and_next_follow_the_list_the_agent_came_from,
    only_an_admin_erases_the_contact_from_its_panel,
);

const FROM: &str = "16505550101";

async fn page(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let res = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub fn form_body(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => char::from(b).to_string(),
                b' ' => "+".to_owned(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A form post as htmx sends it.
async fn post_form(app: &TestApp, token: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("HX-Request", "true")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .await
        .unwrap()
}

async fn deliver(app: &mut TestApp, messages: Vec<Value>, statuses: Vec<Value>) {
    let res = app.post_webhook(meta_bytes(&delivery(vec![contact(FROM, "Ana López")], messages, statuses))).await;
    assert_eq!(res.status(), 200);
    app.ingest().await;
}

fn pos(html: &str, needle: &str) -> usize {
    html.find(needle).unwrap_or_else(|| panic!("{needle:?} is not on the page"))
}

fn no_inline_script_or_style(html: &str) {
    assert!(!html.contains("<script>") && !html.contains(" style=") && !html.contains(" onclick="), "inline code");
}

async fn the_thread_shows_messages_in_order_with_marks_media_quotes_reactions_and_notes(backend: Backend) {
    let mut app = spawn_app(backend).await;
    deliver(&mut app, vec![text("wamid.t.1", FROM, "hola, my bike is broken")], vec![]).await;
    let id = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let res = app.post_json(&format!("/api/v1/conversations/{id}/notes"), &json!({"text": "VIP customer"})).await;
    assert_eq!(res.status(), 201);
    let mut quoting = text("wamid.t.6", FROM, "as I said");
    quoting["context"] = json!({"from": FROM, "id": "wamid.t.1"});
    deliver(
        &mut app,
        vec![
            message(
                "wamid.t.2",
                FROM,
                "image",
                json!({"id": "111", "mime_type": "image/jpeg", "caption": "the wheel"}),
            ),
            message("wamid.t.3", FROM, "audio", json!({"id": "222", "mime_type": "audio/ogg", "voice": true})),
            message(
                "wamid.t.4",
                FROM,
                "document",
                json!({"id": "333", "mime_type": "application/pdf", "filename": "invoice.pdf"}),
            ),
            message("wamid.t.5", FROM, "location", json!({"latitude": 52.52, "longitude": 13.405, "name": "Shop"})),
            quoting,
            message("wamid.t.7", FROM, "reaction", json!({"message_id": "wamid.t.1", "emoji": "👍"})),
        ],
        vec![],
    )
    .await;
    // Two replies: one delivered, one that WhatsApp refused.
    for text in ["we will fix it", "are you there?"] {
        let body = json!({"type": "text", "text": text});
        assert_eq!(app.post_json(&format!("/api/v1/conversations/{id}/messages"), &body).await.status(), 202);
    }
    app.graph.answer_with_wamid(1, "wamid.out.1").await;
    app.graph.answer_with_wamid(1, "wamid.out.2").await;
    assert_eq!(app.send().await.sent, 2);
    let ts = Utc::now().timestamp();
    deliver(
        &mut app,
        vec![],
        vec![
            status("wamid.out.1", "delivered", ts),
            failed_status("wamid.out.2", 131_026, "Message undeliverable", ts),
        ],
    )
    .await;
    let messages = app.messages(&id).await;
    let mid = |wamid: &str| messages.iter().find(|m| m["wamid"] == wamid).unwrap()["id"].as_str().unwrap().to_owned();

    let (code, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    assert_eq!(code, 200);
    no_inline_script_or_style(&html);
    assert!(html.contains(r#"aria-live="polite""#) && html.contains(r#"<ol id="thread""#));
    // In order, the note among the messages, visibly a note.
    let order = [
        "hola, my bike is broken",
        "VIP customer",
        "the wheel",
        "Voice message",
        "invoice.pdf",
        "Shop",
        "as I said",
        "we will fix it",
        "are you there?",
    ];
    let at: Vec<usize> = order.iter().map(|n| pos(&html, n)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {order:?} at {at:?}");
    assert!(html[..at[1]].rfind("<li").is_some_and(|i| html[i..at[1]].contains(r#"class="note""#)));
    // Media: inline image, playable audio, downloadable document, a map link.
    assert!(html.contains(&format!(r#"<img src="/api/v1/messages/{}/media""#, mid("wamid.t.2"))));
    assert!(
        html.contains(&format!(r#"<audio controls preload="none" src="/api/v1/messages/{}/media""#, mid("wamid.t.3")))
    );
    assert!(html.contains(&format!(r#"href="/api/v1/messages/{}/media" download>"#, mid("wamid.t.4"))));
    let map = pos(&html, "openstreetmap.org");
    assert!(
        html[map..map + 60].contains("52.52") && html[map..map + 60].contains("13.405"),
        "{}",
        &html[map - 30..map + 80]
    );
    // The quote links to the message quoted; the reaction shows on it.
    assert!(html.contains(&format!(r##"<a href="#m-{}">Replying to: hola, my bike is broken</a>"##, mid("wamid.t.1"))));
    let first = pos(&html, &format!(r#"id="m-{}""#, mid("wamid.t.1")));
    let reactions = pos(&html, r#"<p class="reactions""#);
    assert!(first < reactions && reactions < at[1] && html[reactions..].contains("👍"));
    // Marks: delivered, and failed with Meta's reason in plain words.
    let delivered = pos(&html, r#"class="mark mark-delivered""#);
    assert!(delivered > at[7] && delivered < at[8]);
    let failed = pos(&html, r#"class="mark mark-failed""#);
    assert!(failed > at[8]);
    assert!(html[failed..].contains("the number may not use WhatsApp"), "{}", &html[failed..failed + 400]);
    // Authors: the customer and the agent.
    assert!(html.contains(r#"<span class="author">Ana López</span>"#));
    assert!(html.contains(r#"<span class="author">Test Admin</span>"#));
}

async fn the_thread_pages_back_and_its_tail_follows_new_messages_and_marks(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let batch: Vec<Value> =
        (0..60).map(|i| text(&format!("wamid.p.{i}"), FROM, &format!("message number {i}."))).collect();
    deliver(&mut app, batch, vec![]).await;
    let id = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    // The last 50, and a button for the ones before.
    assert!(html.contains("message number 59.") && html.contains("message number 10."));
    assert!(!html.contains("message number 9."));
    let earlier = pos(&html, "/messages?before=");
    let url: String = html[earlier..].chars().take_while(|c| *c != '"').collect();
    let (code, older) = page(&app, &app.token, &format!("/c/{id}{url}")).await;
    assert_eq!(code, 200);
    assert!(older.contains("message number 0.") && older.contains("message number 9."));
    assert!(!older.contains("message number 10.") && !older.contains("Load earlier"));
    // The tail starts at the page's first message and follows what happens next.
    let tail = pos(&html, "data-tail-url=\"");
    let tail_url: String = html[tail + 15..].chars().take_while(|c| *c != '"').collect();
    assert!(tail_url.contains("?from="), "{tail_url}");
    let body = json!({"type": "text", "text": "on our way"});
    assert_eq!(app.post_json(&format!("/api/v1/conversations/{id}/messages"), &body).await.status(), 202);
    let res = app.client.get(app.url(&tail_url)).bearer_auth(&app.token).send().await.unwrap();
    assert!(res.headers()["x-window-closes-at"].to_str().unwrap().starts_with("20"), "the window is open");
    let fresh = res.text().await.unwrap();
    assert!(fresh.contains("message number 10.") && !fresh.contains("message number 9."));
    assert!(fresh.contains("on our way") && fresh.contains("mark-queued"));
    app.graph.answer_with_wamid(1, "wamid.out.9").await;
    app.send().await;
    let (_, fresh) = page(&app, &app.token, &tail_url).await;
    assert!(fresh.contains("mark-sent"), "the mark moved to sent");
    deliver(&mut app, vec![], vec![status("wamid.out.9", "delivered", Utc::now().timestamp())]).await;
    let (_, fresh) = page(&app, &app.token, &tail_url).await;
    assert!(fresh.contains("mark-delivered") && !fresh.contains("mark-sent"), "and to delivered");
    // Bad cursors are named.
    let (code, html) = page(&app, &app.token, &format!("/c/{id}/messages?before=nope")).await;
    assert_eq!(code, 422);
    assert!(html.contains(r#"data-field="before""#));
}

async fn a_reply_or_note_from_the_page_changes_the_store_like_the_rest_routes(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (sam, _) = new_agent(&app, "Sam").await;
    let id = customer_writes(&mut app, FROM, "Ana", "hello?", 5).await;
    let admin = me(&app, &app.token).await;
    let path = format!("/c/{id}/compose");
    let res = post_form(&app, &app.token, &path, &[("text", "Hi Ana, how can I help?"), ("key", "k-1")]).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["hx-trigger"], "sb-thread");
    // The same key again: sent once.
    let res = post_form(&app, &app.token, &path, &[("text", "Hi Ana, how can I help?"), ("key", "k-1")]).await;
    assert_eq!(res.status(), 204);
    let out: Vec<Value> = app.messages(&id).await.into_iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["text"], "Hi Ana, how can I help?");
    assert_eq!(out[0]["sent_by"], admin["id"]);
    assert_eq!(out[0]["status"], "queued");
    assert_eq!(app.send().await.sent, 1);
    assert_eq!(app.graph.sent().await[0]["text"]["body"], "Hi Ana, how can I help?");

    // A note with a mention: a note, not a message.
    let email = sam["email"].as_str().unwrap();
    let res =
        post_form(&app, &app.token, &path, &[("mode", "note"), ("text", &format!("@{email} can you call her?"))]).await;
    assert_eq!(res.status(), 204);
    let notes = app.get_json(&format!("/api/v1/conversations/{id}/notes")).await;
    assert_eq!(notes["items"][0]["mentions"], json!([sam["id"]]));
    assert_eq!(app.messages(&id).await.len(), 2);
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    assert!(html.contains("can you call her?") && html.contains(r#"class="note""#));
    // The page suggests agents to mention, and the composer's controls are labelled.
    assert!(html.contains(&format!(r#"data-insert="@{email}""#)));
    assert!(html.contains(r#"<label for="composer-text""#));

    // Refusals name the field and change nothing; a plain form post goes back to the page.
    let res = post_form(&app, &app.token, &path, &[("text", "   ")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(r#"data-field="text""#));
    let res = post_form(&app, &app.token, &path, &[("mode", "note"), ("text", "ask @ghost@example.com")]).await;
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(&[("text", "plain post")]))
        .send()
        .await
        .unwrap();
    assert!(res.url().path().ends_with(&format!("/c/{id}")), "followed the redirect back to the page");
    assert_eq!(app.messages(&id).await.len(), 3);
    assert_eq!(app.send().await.sent, 1);
}

async fn a_quick_reply_typed_as_its_shortcut_is_filled_in_for_this_contact(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = customer_writes(&mut app, FROM, "Ana López", "hello?", 5).await;
    let qr = json!({"shortcut": "bye", "text": "Bye {{contact.first_name}}, {{agent.name}} here."});
    assert_eq!(app.post_json("/api/v1/admin/quick-replies", &qr).await.status(), 201);
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    assert!(html.contains(r#"data-insert="/bye""#), "the composer lists it");
    // Previewed filled in for this contact and this agent, before it is sent.
    let (code, preview) = page(&app, &app.token, &format!("/c/{id}/quick-reply?shortcut=bye")).await;
    assert_eq!(code, 200);
    assert!(preview.contains("Bye Ana, Test Admin here."), "{preview}");
    let (code, preview) = page(&app, &app.token, &format!("/c/{id}/quick-reply?shortcut=nope")).await;
    assert_eq!(code, 422);
    assert!(preview.contains(r#"data-field="quick_reply""#), "{preview}");
    assert_eq!(app.messages(&id).await.len(), 1, "a preview sends nothing");
    let res = post_form(&app, &app.token, &format!("/c/{id}/compose"), &[("text", "/bye")]).await;
    assert_eq!(res.status(), 204);
    let out = app.messages(&id).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(out["text"], "Bye Ana, Test Admin here.");
    app.send().await;
    assert_eq!(app.graph.sent().await[0]["text"]["body"], "Bye Ana, Test Admin here.");
    // An unknown one is refused, never sent as typed.
    let res = post_form(&app, &app.token, &format!("/c/{id}/compose"), &[("text", "/nope")]).await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.messages(&id).await.len(), 2);
}

async fn once_the_window_closed_free_text_is_refused_and_the_template_form_shows(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = customer_writes(&mut app, FROM, "Ana", "are you there?", 30 * 60).await;
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    // The free-text field is disabled, with the reason; the template form is shown.
    let field = pos(&html, r#"<textarea id="composer-text""#);
    assert!(html[field..field + 600].contains("disabled"), "{}", &html[field..field + 600]);
    assert!(html.contains("customer-service window closed at"));
    let form = pos(&html, r#"<form id="template-form""#);
    assert!(!html[form..form + 300].contains(" hidden"), "the template form shows");
    assert!(html.contains(r#"data-closes-at="""#));
    // Free text is refused (nothing queued, the reason said).
    let res = post_form(&app, &app.token, &format!("/c/{id}/compose"), &[("text", "sorry for the wait")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("only an approved template can be sent"));
    // A template by hand goes, as the REST reply's template.
    let form = [("name", "order_update"), ("language", "en_US"), ("parameters", "Ana\n#1234\n"), ("key", "t-1")];
    let res = post_form(&app, &app.token, &format!("/c/{id}/template"), &form).await;
    assert_eq!(res.status(), 204);
    let out = app.messages(&id).await.into_iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(out["type"], "template");
    assert_eq!(out["content"]["parameters"], json!(["Ana", "#1234"]));
    app.send().await;
    let sent = &app.graph.sent().await[0];
    assert_eq!(sent["template"]["name"], "order_update");
    assert_eq!(sent["template"]["components"][0]["parameters"][1]["text"], "#1234");
    // A template needs a name and a language; a note is still fine.
    let res = post_form(&app, &app.token, &format!("/c/{id}/template"), &[("name", ""), ("language", "")]).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-field="name""#) && html.contains(r#"data-field="language""#));
    let res =
        post_form(&app, &app.token, &format!("/c/{id}/compose"), &[("mode", "note"), ("text", "she'll call")]).await;
    assert_eq!(res.status(), 204);
}

async fn queue_actions_claim_assign_label_snooze_and_resolve_and_open_next(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (sam, sam_token) = new_agent(&app, "Sam").await;
    let first = customer_writes(&mut app, FROM, "Ana", "first", 10).await;
    let second = customer_writes(&mut app, "16505550102", "Bo", "second", 5).await;
    let conv = |id: &str| {
        let app = &app;
        let id = id.to_owned();
        async move { app.get_json(&format!("/api/v1/conversations/{id}")).await }
    };
    // Claim: the agent takes it; the panel says so.
    let res = post_form(&app, &sam_token, &format!("/c/{first}/claim"), &[]).await;
    assert_eq!(res.status(), 200);
    let panel = res.text().await.unwrap();
    assert!(panel.contains(r#"id="panel""#) && panel.contains("Sam"));
    assert_eq!(conv(&first).await["assignee_id"], sam["id"]);
    // An agent may not give it to someone else (the API's rule): 403, nothing changes.
    let admin = me(&app, &app.token).await;
    let res =
        post_form(&app, &sam_token, &format!("/c/{first}/assign"), &[("agent_id", admin["id"].as_str().unwrap())])
            .await;
    assert_eq!(res.status(), 403);
    assert_eq!(conv(&first).await["assignee_id"], sam["id"]);
    // Labels on and off.
    let res = app.post_json("/api/v1/labels", &json!({"name": "vip"})).await;
    let label: Value = res.json().await.unwrap();
    let res = post_form(&app, &sam_token, &format!("/c/{first}/labels"), &[("label", "vip")]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(conv(&first).await["labels"][0]["name"], "vip");
    let path = format!("/c/{first}/labels/{}/remove", label["id"].as_str().unwrap());
    assert_eq!(post_form(&app, &sam_token, &path, &[]).await.status(), 200);
    assert_eq!(conv(&first).await["labels"], json!([]));
    // Snooze until a time given in the browser's zone (UTC+1 here), then open again.
    let until = (Utc::now() + Duration::hours(3)).format("%Y-%m-%dT%H:%M").to_string();
    let form = [("status", "snoozed"), ("snooze_until", until.as_str()), ("tz_offset", "-60")];
    let res = post_form(&app, &sam_token, &format!("/c/{first}/status"), &form).await;
    assert_eq!(res.status(), 200);
    let c = conv(&first).await;
    assert_eq!(c["status"], "snoozed");
    let snoozed = chrono::DateTime::parse_from_rfc3339(c["snoozed_until"].as_str().unwrap()).unwrap();
    let expected = Utc::now() + Duration::hours(2);
    assert!((snoozed.with_timezone(&Utc) - expected).num_minutes().abs() <= 1, "{snoozed}");
    let res = post_form(&app, &sam_token, &format!("/c/{first}/status"), &[("status", "snoozed")]).await;
    assert_eq!(res.status(), 422, "a snooze needs a time");
    assert_eq!(post_form(&app, &sam_token, &format!("/c/{first}/status"), &[("status", "open")]).await.status(), 200);
    // Resolve and open the next: resolved, the next waiting one claimed, and there we go.
    let res = post_form(&app, &sam_token, &format!("/c/{first}/resolve-next?view=mine"), &[]).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["hx-redirect"], format!("/c/{second}?view=mine"));
    assert_eq!(conv(&first).await["status"], "resolved");
    assert_eq!(conv(&second).await["assignee_id"], sam["id"]);
    // The history tells it.
    let (code, history) = page(&app, &sam_token, &format!("/c/{first}/history")).await;
    assert_eq!(code, 200);
    assert!(history.contains("Sam assigned it to Sam") && history.contains("Sam set it resolved"), "{history}");
    // Nothing more waits: resolve-and-next goes back to the inbox.
    let res = post_form(&app, &sam_token, &format!("/c/{second}/resolve-next?view=mine"), &[]).await;
    assert_eq!(res.headers()["hx-redirect"], "/?view=mine");
    // A resolved conversation cannot be reopened (409, as the API says).
    let res = post_form(&app, &sam_token, &format!("/c/{first}/status"), &[("status", "open")]).await;
    assert_eq!(res.status(), 409);
}

async fn the_contact_panel_edits_the_name_and_attributes_and_lists_earlier_conversations(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let old = customer_writes(&mut app, FROM, "Ana", "first time", 60).await;
    let res = app.post_json(&format!("/api/v1/conversations/{old}/status"), &json!({"status": "resolved"})).await;
    assert_eq!(res.status(), 200);
    let id = customer_writes(&mut app, FROM, "Ana", "back again", 5).await;
    assert_ne!(old, id);
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    assert!(html.contains(&format!(r#"<a href="/c/{old}">Resolved"#)), "the earlier conversation is linked");
    assert!(html.contains(&format!("+{FROM}")));
    let contact_id =
        app.get_json(&format!("/api/v1/conversations/{id}")).await["contact"]["id"].as_str().unwrap().to_owned();
    // Admins get the data export; agents do not.
    assert!(
        html.contains(&format!(r#"href="/api/v1/contacts/{contact_id}/export" download>Export data</a>"#)),
        "{html}"
    );
    let (_, agent) = crate::agents::new_agent(&app, "Bo").await;
    let (status, agent_html) = page(&app, &agent, &format!("/c/{id}")).await;
    assert_eq!(status, 200);
    assert!(!agent_html.contains("/export"), "no export for agents");

    let form = [("name", "Ana B."), ("new_key", "plan"), ("new_value", "gold")];
    let res = post_form(&app, &app.token, &format!("/c/{id}/contact"), &form).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Ana B."));
    let contact = app.get_json(&format!("/api/v1/contacts/{contact_id}")).await;
    assert_eq!(contact["name"], "Ana B.");
    assert_eq!(contact["attributes"], json!({"plan": "gold"}));
    // Emptied: the attribute goes, and the override too (the profile name shows again).
    let form = [("name", ""), ("attr:plan", "")];
    assert_eq!(post_form(&app, &app.token, &format!("/c/{id}/contact"), &form).await.status(), 200);
    let contact = app.get_json(&format!("/api/v1/contacts/{contact_id}")).await;
    assert_eq!(contact["name"], Value::Null);
    assert_eq!(contact["attributes"], json!({}));
    // Checked as the API checks it.
    let long = "x".repeat(1001);
    let form = [("new_key", "note"), ("new_value", long.as_str())];
    let res = post_form(&app, &app.token, &format!("/c/{id}/contact"), &form).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(r#"data-field="attributes.note""#));
    let res = post_form(&app, &app.token, &format!("/c/{id}/contact"), &[("new_key", "plan")]).await;
    assert_eq!(res.status(), 422);
    let res = call(&app, Method::GET, &format!("/api/v1/contacts/{contact_id}"), Some(&app.token), None).await;
    assert_eq!(res.json::<Value>().await.unwrap()["attributes"], json!({}));
}

async fn only_an_admin_erases_the_contact_from_its_panel(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = customer_writes(&mut app, FROM, "Ana", "please forget me", 5).await;
    let contact_id =
        app.get_json(&format!("/api/v1/conversations/{id}")).await["contact"]["id"].as_str().unwrap().to_owned();
    let erase = format!("/c/{id}/contact/erase");
    // The admin's panel has the button, with a confirmation that says what happens.
    let (_, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    no_inline_script_or_style(&html);
    let at = pos(&html, &format!(r#"hx-post="{erase}""#));
    let form = &html[at..];
    assert!(form.contains("hx-confirm=\"Erase this contact for good?"), "{form}");
    assert!(html.contains("cannot be undone"), "the panel says it is irreversible");

    // An agent sees the conversation but no erase button, and may not erase.
    let (_, agent) = new_agent(&app, "Bo").await;
    let (status, agent_html) = page(&app, &agent, &format!("/c/{id}")).await;
    assert_eq!(status, 200);
    assert!(!agent_html.contains("/contact/erase") && !agent_html.contains("contact-erase"), "no erase for agents");
    let res = post_form(&app, &agent, &erase, &[]).await;
    assert_eq!(res.status(), 403);
    let contact = app.get_json(&format!("/api/v1/contacts/{contact_id}")).await;
    assert_eq!(contact["wa_id"], FROM, "nothing changed: {contact}");
    assert!(app.messages(&id).await.iter().any(|m| m["text"] == "please forget me"));

    // The admin erases: the page is loaded again, and shows the contact erased.
    let res = post_form(&app, &app.token, &erase, &[]).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["HX-Redirect"], format!("/c/{id}").as_str());
    let contact = app.get_json(&format!("/api/v1/contacts/{contact_id}")).await;
    assert_ne!(contact["wa_id"], FROM, "{contact}");
    assert_eq!(contact["profile_name"], Value::Null, "{contact}");
    assert_eq!(contact["name"], Value::Null, "{contact}");
    assert!(app.messages(&id).await.iter().all(|m| m["text"].is_null()), "the messages' content is gone");
    let (status, html) = page(&app, &app.token, &format!("/c/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="contact-erased""#), "shown as erased");
    assert!(!html.contains(FROM) && !html.contains("Ana") && !html.contains("please forget me"), "{html}");
    assert!(!html.contains("contact-erase-button") && !html.contains("/export"), "nothing left to erase or export");
    // Recorded in the audit log, as the API's erasure is.
    let audit = app.get_json("/api/v1/audit?action=contact_erased").await;
    assert_eq!(audit["items"][0]["target_id"], contact_id.as_str(), "{audit}");
    // Without htmx, the browser is sent back to the conversation.
    let res = app
        .client
        .post(app.url(&erase))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert!(res.status() == 200 || res.status() == 303, "{}", res.status());
}

async fn previous_and_next_follow_the_list_the_agent_came_from(backend: Backend) {
    let mut app = spawn_app(backend).await;
    // By last activity, newest first: c, b, a.
    let a = customer_writes(&mut app, "16505550201", "A", "one", 30).await;
    let b = customer_writes(&mut app, "16505550202", "B", "two", 20).await;
    let c = customer_writes(&mut app, "16505550203", "C", "three", 10).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let go = |from: String, dir: &'static str| {
        let (app, client) = (&app, &no_redirects);
        async move {
            let url = app.url(&format!("/c/{from}/next?view=all&dir={dir}"));
            let res = client.get(url).bearer_auth(&app.token).send().await.unwrap();
            assert_eq!(res.status(), 303);
            res.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(go(c.clone(), "next").await, format!("/c/{b}?view=all"));
    assert_eq!(go(b.clone(), "next").await, format!("/c/{a}?view=all"));
    assert_eq!(go(a.clone(), "next").await, "/?view=all", "past the end: back to the list");
    assert_eq!(go(a.clone(), "prev").await, format!("/c/{b}?view=all"));
    assert_eq!(go(c.clone(), "prev").await, "/?view=all");
    // The page links them, keeping the list.
    let (_, html) = page(&app, &app.token, &format!("/c/{b}?view=mine")).await;
    assert!(html.contains(&format!("/c/{b}/next?view=mine&amp;dir=next")));
    let (code, _) = page(&app, &app.token, &format!("/c/{b}/next?view=nowhere")).await;
    assert_eq!(code, 422);
}
