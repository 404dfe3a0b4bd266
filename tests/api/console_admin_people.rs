//! The admin screens for agents, teams and routing, click-to-chat links and the outbox:
//! each page shows what the API holds and its forms call the API; a link's QR code
//! downloads as a decodable SVG and PNG and its chart counts clicks and conversations per
//! day; retrying every unsent message at once (`POST /api/v1/admin/outbox/retry`).

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::payloads::text_delivery;
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with};

use crate::agents::{call, create_agent, fields, new_agent, problem};
use crate::labels::create_label;

both_backends!(
    the_agents_page_shows_each_agent_and_its_forms_call_the_api,
    the_teams_page_shows_members_routing_and_policies,
    the_link_pages_show_the_urls_the_qr_code_and_clicks_and_conversations_per_day,
    the_outbox_page_lists_unsent_messages_with_their_reasons_and_retry_all_requeues_them,
);

/// The admin's page at `path`: 200, as HTML with no inline style.
async fn page(app: &TestApp, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(!html.contains(" style="), "{path}: no inline style");
    assert!(!html.contains("<script>"), "{path}: no inline script");
    html
}

/// The part of `html` from the record with `id` to the next record or heading.
fn part<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[start..];
    let end = ["class=\"record\"", "<h2"].iter().filter_map(|m| rest.find(m)).min();
    end.map_or(rest, |end| &rest[..end])
}

async fn the_agents_page_shows_each_agent_and_its_forms_call_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let (agent, _) =
        create_agent(&app, json!({"name": "Zoë <Ops>", "email": "zoe@example.com", "role": "agent", "capacity": 3}))
            .await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/agents/{id}"),
        Some(&app.token),
        Some(json!({"totp_required": true})),
    )
    .await;
    assert_eq!(res.status(), 200);

    let html = page(&app, "/admin/agents").await;
    // The invitation: the agent is created, then their one-time link made and shown once.
    assert!(html.contains(r#"data-api="POST /api/v1/agents""#));
    assert!(html.contains(r#"data-then-api="POST /api/v1/agents/{agent.id}/invitation""#));
    assert!(html.contains(r##"data-answer="#invitation""##));
    assert!(html.contains(r#"id="invitation" class="card answer" hidden"#), "the answer's place is hidden until used");
    assert!(html.contains(r#"data-answer-field="url""#) && html.contains(r##"data-copy="#invitation-url""##));
    let row = part(&html, &format!("agent-{id}"));
    assert!(row.contains("Zoë &#60;Ops&#62;") && !row.contains("Zoë <Ops>"), "the name is escaped: {row}");
    assert!(row.contains("zoe@example.com"));
    assert!(row.contains("capacity 3") && row.contains(r#"name="capacity""#) && row.contains(r#"value="3""#));
    assert!(row.contains("invited: no password yet"));
    assert!(row.contains("TOTP required, not set up"));
    assert!(row.contains(r#"name="totp_required" checked"#));
    assert!(row.contains(&format!(r#"data-api="PATCH /api/v1/agents/{id}""#)));
    assert!(row.contains(&format!(r#"data-api="POST /api/v1/agents/{id}/invitation""#)));
    assert!(row.contains("New invitation link"), "no password yet: an invitation, not a reset");
    assert!(row.contains(r#"data-body='{"active":false}'"#) && row.contains(">Deactivate<"));
    // The admin's own row has no way to deactivate themselves.
    let me: Value = app.get_json("/api/v1/agents/me").await;
    let mine = part(&html, &format!("agent-{}", me["id"].as_str().unwrap()));
    assert!(!mine.contains(">Deactivate<"));

    // Deactivated through the API: the page says so and offers to reactivate.
    let res =
        call(&app, Method::PATCH, &format!("/api/v1/agents/{id}"), Some(&app.token), Some(json!({"active": false})))
            .await;
    assert_eq!(res.status(), 200);
    let html = page(&app, "/admin/agents").await;
    let row = part(&html, &format!("agent-{id}"));
    assert!(row.contains("deactivated"));
    assert!(row.contains(r#"data-body='{"active":true}'"#) && row.contains(">Reactivate<"));
    assert!(!row.contains(">Deactivate<"));
}

async fn the_teams_page_shows_members_routing_and_policies(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, _) = new_agent(&app, "Alice").await;
    let (bob, _) = new_agent(&app, "Bob").await;
    let alice_id = alice["id"].as_str().unwrap();
    let bob_id = bob["id"].as_str().unwrap();
    let res = call(&app, Method::POST, "/api/v1/teams", Some(&app.token), Some(json!({"name": "Billing & Co"}))).await;
    assert_eq!(res.status(), 201);
    let team: Value = res.json().await.unwrap();
    let team_id = team["id"].as_str().unwrap();
    let res =
        call(&app, Method::PUT, &format!("/api/v1/teams/{team_id}/members/{alice_id}"), Some(&app.token), None).await;
    assert_eq!(res.status(), 204);
    let body = json!({"policy": "round_robin", "reassign_after_minutes": 30});
    let res =
        call(&app, Method::PUT, &format!("/api/v1/teams/{team_id}/assignment"), Some(&app.token), Some(body)).await;
    assert_eq!(res.status(), 200);
    let channels = app.get_json("/api/v1/channels").await;
    let channel = channels["items"][0]["id"].as_str().unwrap().to_owned();

    // Routed to no team, the channel follows no policy.
    let html = page(&app, "/admin/teams").await;
    let row = part(&html, &format!("channel-{channel}"));
    assert!(row.contains("the default: no policy set"), "{row}");
    assert!(row.contains(r#"<option value="" selected>No team"#));
    assert!(!row.contains(&format!("DELETE /api/v1/channels/{channel}/assignment")), "no own policy to remove");

    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/team"),
        Some(&app.token),
        Some(json!({"team_id": team_id})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = page(&app, "/admin/teams").await;
    let t = part(&html, &format!("team-{team_id}"));
    assert!(t.contains("Billing &#38; Co"), "{t}");
    assert!(t.contains("1 member ·"), "{t}");
    assert!(t.contains("round robin, taken back after 30 minutes without an answer"));
    assert!(t.contains(&format!(r#"data-api="DELETE /api/v1/teams/{team_id}/members/{alice_id}""#)));
    // Bob (not a member) is offered, Alice (one) is not; the path is filled from the select.
    assert!(t.contains(&format!(r#"data-api="PUT /api/v1/teams/{team_id}/members/{{agent_id}}""#)));
    assert!(t.contains(&format!(r#"<option value="{bob_id}">Bob</option>"#)));
    assert!(!t.contains(&format!(r#"<option value="{alice_id}">"#)));
    assert!(t.contains(r#"<option value="round_robin" selected>"#));
    assert!(t.contains(r#"name="reassign_after_minutes""#) && t.contains(r#"value="30""#));
    let c = part(&html, &format!("channel-{channel}"));
    assert!(c.contains(&format!(r#"<option value="{team_id}" selected>Billing &#38; Co</option>"#)), "{c}");
    assert!(c.contains("(its team&#39;s)") || c.contains("(its team's)"), "{c}");

    // The channel's own policy wins, and can be removed to follow the team again.
    let res = call(
        &app,
        Method::PUT,
        &format!("/api/v1/channels/{channel}/assignment"),
        Some(&app.token),
        Some(json!({"policy": "least_loaded"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = page(&app, "/admin/teams").await;
    let c = part(&html, &format!("channel-{channel}"));
    assert!(c.contains("least loaded (the channel"), "{c}");
    assert!(c.contains(r#"<option value="least_loaded" selected>"#));
    assert!(c.contains(&format!(r#"data-api="DELETE /api/v1/channels/{channel}/assignment""#)));
}

/// An image from the SVG the QR code route draws (`M{x} {y}h{w}v{h}H{x}V{y}` squares).
fn rasterise_svg(svg: &str) -> image::GrayImage {
    let number = |s: &str, key: &str| -> u32 {
        let start = s.find(key).unwrap() + key.len();
        s[start..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (number(svg, "width=\""), number(svg, "height=\""));
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    for square in d.split('M').filter(|s| !s.is_empty()) {
        let nums: Vec<u32> = square
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let (x, y, sw, sh) = (nums[0], nums[1], nums[2], nums[3]);
        for px in x..x + sw {
            for py in y..y + sh {
                img.put_pixel(px, py, image::Luma([0]));
            }
        }
    }
    img
}

fn decode(img: image::GrayImage) -> String {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

async fn the_link_pages_show_the_urls_the_qr_code_and_clicks_and_conversations_per_day(backend: Backend) {
    let env = vec![("SWITCHBOARD__WHATSAPP__DISPLAY_PHONE_NUMBER", "+44 7700 900123".to_owned())];
    let mut app = spawn_app_with(backend, AppOptions { env, ..AppOptions::default() }).await;
    let label = create_label(&app, json!({"name": "Poster"})).await;
    let label_id = label["id"].as_str().unwrap();
    let res = app
        .post_json(
            "/api/v1/links",
            &json!({"text": "Hola, quiero información", "slug": "spring-poster", "campaign": "Spring", "labels": [label_id]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let link: Value = res.json().await.unwrap();
    let id = link["id"].as_str().unwrap();
    let wa_me = link["urls"]["wa_me"].as_str().unwrap();

    let list = page(&app, "/admin/links").await;
    assert!(list.contains(r#"data-api="POST /api/v1/links""#) && list.contains(r#"data-then="/admin/links/{id}""#));
    assert!(list.contains(&format!(r#"<a href="/admin/links/{id}">/l/spring-poster</a>"#)));
    assert!(list.contains("Spring") && list.contains("Hola, quiero información"));
    assert!(list.contains(&format!(r#"<option value="{label_id}">Poster</option>"#)), "labels to choose");
    assert!(list.contains("empty: the channel&#39;s number") || list.contains("empty: the channel's number"));

    // Two clicks (and one by a link preview, not counted), and a conversation the link starts.
    let raw = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for agent in ["Mozilla/5.0 Firefox/126.0", "Mozilla/5.0 Firefox/126.0", "facebookexternalhit/1.1"] {
        let res = raw.get(app.url("/l/spring-poster")).header("user-agent", agent).send().await.unwrap();
        assert_eq!(res.status(), 302);
    }
    let prefilled = link["prefilled_text"].as_str().unwrap();
    app.post_webhook(serde_json::to_vec(&text_delivery("wamid.poster1", "16505550123", prefilled)).unwrap()).await;
    app.ingest().await;

    let html = page(&app, &format!("/admin/links/{id}")).await;
    // wa.me and the short link (absolute: this server's address without a public URL), to copy.
    assert!(html.contains(&format!(r#"id="wa-me-url" value="{}""#, wa_me.replace('&', "&#38;"))), "{html}");
    assert!(html.contains(&format!(r#"id="short-url" value="{}""#, app.url("/l/spring-poster"))));
    assert!(html.contains(r##"data-copy="#short-url""##) && html.contains(r##"data-copy="#wa-me-url""##));
    assert!(html.contains(r#"<img src="/l/spring-poster/qr.svg?size=256""#));
    assert!(html.contains(r#"href="/l/spring-poster/qr.svg" download="spring-poster-qr.svg""#));
    assert!(html.contains(r#"href="/l/spring-poster/qr.png?size=1024" download="spring-poster-qr.png""#));
    assert!(html.contains(&format!(r#"data-api="PATCH /api/v1/links/{id}""#)));
    assert!(html.contains(&format!(r#"data-api="POST /api/v1/links/{id}/disable""#)));
    assert!(html.contains(&format!(r#"<option value="{label_id}" selected>Poster</option>"#)));
    // The totals and today's numbers, as the stats API counts them.
    let stats = app.get_json(&format!("/api/v1/links/{id}/stats")).await;
    assert_eq!(stats["totals"]["clicks"], 2);
    assert_eq!(stats["totals"]["conversations_started"], 1);
    assert!(html.contains("2 clicks · 1 conversation started · 0 resolved · 1 by link previews and bots"), "{html}");
    let today = chrono::Utc::now().date_naive();
    assert!(html.contains(&format!("<tr><td>{today}</td><td>2</td><td>1</td><td>0</td></tr>")));
    assert_eq!(html.matches("<tr><td>").count(), 30, "a row per day of the last 30");
    // The chart: a bar per day and series, today's the tallest of each (the full height).
    assert_eq!(html.matches(r#"<rect class="bar-clicks""#).count(), 30);
    assert_eq!(html.matches(r#"<rect class="bar-started""#).count(), 30);
    assert!(html.contains(&format!("<title>{today}: 2 clicks</title>")));
    assert!(html.contains(&format!("<title>{today}: 1 conversation started</title>")));
    assert!(html.contains(r#"role="img" aria-labelledby="chart-title chart-desc""#));

    // The QR code downloads, in both formats, decode to the link (the wa.me URL here:
    // without a public URL there is no absolute short link to print).
    let res = app.client.get(app.url("/l/spring-poster/qr.svg")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert_eq!(decode(rasterise_svg(&res.text().await.unwrap())), wa_me);
    let res = app.client.get(app.url("/l/spring-poster/qr.png?size=1024")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap().to_luma8();
    assert!(img.width() >= 1024);
    assert_eq!(decode(img), wa_me);

    // Turned off: no QR code to show, a way to turn it on.
    let res = call(&app, Method::POST, &format!("/api/v1/links/{id}/disable"), Some(&app.token), None).await;
    assert_eq!(res.status(), 200);
    let html = page(&app, &format!("/admin/links/{id}")).await;
    assert!(!html.contains("<img src=\"/l/"));
    assert!(html.contains(&format!(r#"data-api="POST /api/v1/links/{id}/enable""#)));
    let list = page(&app, "/admin/links").await;
    assert!(list.contains(r#"<span class="badge bad">off</span>"#));
    // A link that does not exist.
    let res = app
        .client
        .get(app.url(&format!("/admin/links/{}", uuid::Uuid::now_v7())))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// A conversation whose customer wrote just now; its id.
async fn conversation(app: &mut TestApp, from: &str) -> String {
    let body = serde_json::to_vec(&text_delivery(&format!("wamid.in.{from}"), from, "hello")).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn reply(app: &TestApp, conv: &str, text: &str) -> Value {
    let res =
        app.post_json(&format!("/api/v1/conversations/{conv}/messages"), &json!({"type": "text", "text": text})).await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn outbox(app: &TestApp, state: &str) -> Vec<Value> {
    app.get_json(&format!("/api/v1/admin/outbox?state={state}")).await["items"].as_array().unwrap().clone()
}

async fn retry_all(app: &TestApp, token: &str, body: Option<Value>) -> reqwest::Response {
    call(app, Method::POST, "/api/v1/admin/outbox/retry", Some(token), body).await
}

async fn the_outbox_page_lists_unsent_messages_with_their_reasons_and_retry_all_requeues_them(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let html = page(&app, "/admin/outbox").await;
    assert!(!html.contains("Retry all"), "nothing to retry");
    assert_eq!(html.matches("<p>None.</p>").count(), 2);

    // A dead letter (retries used up) in one conversation, a refused send in another.
    let first = conversation(&mut app, "16505550101").await;
    let second = conversation(&mut app, "16505550102").await;
    app.graph.fail_next(3, 500, json!({})).await;
    let dead = reply(&app, &first, "are you <there>?").await;
    assert_eq!(app.send().await.failed, 1);
    app.graph.fail_with_code(1, 400, 131_026, "Message undeliverable").await;
    let failed = reply(&app, &second, "last try").await;
    assert_eq!(app.send().await.failed, 1);
    let dead_entry = outbox(&app, "dead").await.remove(0);
    let failed_entry = outbox(&app, "failed").await.remove(0);
    assert_eq!(dead_entry["message_id"], dead["id"]);
    assert_eq!(failed_entry["message_id"], failed["id"]);

    let html = page(&app, "/admin/outbox").await;
    assert!(html.contains(r#"data-api="POST /api/v1/admin/outbox/retry""#) && html.contains("Retry all"));
    let d = part(&html, &format!("outbox-{}", dead_entry["id"]));
    assert!(d.contains("text: “are you &#60;there&#62;?”"), "{d}");
    assert!(d.contains("3 attempts"));
    assert!(d.contains(&format!(r#"href="/c/{first}""#)));
    assert!(d.contains(&format!(r#"data-api="POST /api/v1/admin/outbox/{}/retry""#, dead_entry["id"])));
    let f = part(&html, &format!("outbox-{}", failed_entry["id"]));
    // The reason in plain words, as the sender recorded it.
    assert!(f.contains(failed_entry["last_error"].as_str().unwrap().split(" (").next().unwrap()), "{f}");
    assert!(f.contains("Why:"));
    assert!(html.contains(r#"data-body='{"state":"dead"}'"#) && html.contains(r#"data-body='{"state":"failed"}'"#));

    // Retry all: agents may not; a state that is not dead or failed is named.
    let (_, agent) = new_agent(&app, "Agent").await;
    assert_eq!(retry_all(&app, &agent, None).await.status(), 403);
    for bad in [json!({"state": "ready"}), json!({"state": "gone"}), json!({"colour": "red"})] {
        let res = retry_all(&app, &app.token, Some(bad.clone())).await;
        if bad.get("state").is_some() {
            assert_eq!(fields(&problem(res, 422).await), ["state"], "{bad}");
        } else {
            assert_eq!(res.status(), 400, "{bad}");
        }
    }
    assert_eq!(outbox(&app, "dead").await.len(), 1, "nothing requeued by a refused call");
    // Only the refused ones, then everything left.
    let res = retry_all(&app, &app.token, Some(json!({"state": "failed"}))).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["requeued"], 1);
    assert!(outbox(&app, "failed").await.is_empty());
    assert_eq!(outbox(&app, "dead").await.len(), 1);
    let res = retry_all(&app, &app.token, None).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["requeued"], 1);
    assert_eq!(outbox(&app, "ready").await.len(), 2);
    let res = retry_all(&app, &app.token, None).await;
    assert_eq!(res.json::<Value>().await.unwrap()["requeued"], 0, "nothing left to requeue");
    // The messages are queued again, and go out.
    let queued = app.messages(&first).await.into_iter().find(|m| m["id"] == dead["id"]).unwrap();
    assert_eq!(queued["status"], "queued");
    assert_eq!(app.send().await.sent, 2);
    for (conv, m) in [(&first, &dead), (&second, &failed)] {
        let m = app.messages(conv).await.into_iter().find(|x| x["id"] == m["id"]).unwrap();
        assert_eq!(m["status"], "sent");
    }
    let html = page(&app, "/admin/outbox").await;
    assert_eq!(html.matches("<p>None.</p>").count(), 2);
}
