//! The console's inbox (`GET /`), claim next (`POST /next`), availability
//! (`POST /availability`) and live stream (`GET /live`), driven with a bearer token as a
//! browser would with a session: what the pages show, and what changed through the API.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use switchboard_tests::payloads::{contact, delivery, message, text_delivery};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::agents::{call, create_agent, me};
use crate::visibility::Fixture;

both_backends!(
    the_inbox_lists_the_views_with_previews_and_counts,
    views_sort_search_and_pages_follow_the_query,
    an_htmx_request_gets_only_the_part_it_swaps,
    bad_view_parameters_are_refused_naming_the_field,
    an_agent_outside_a_team_sees_none_of_its_conversations_in_any_view_or_count,
    claim_next_opens_the_longest_waiting_conversation_or_says_there_is_none,
    availability_is_set_from_the_header,
    live_sends_both_events_for_a_new_inbound_message_and_nothing_the_agent_may_not_see,
    mentions_lists_the_conversations_with_unseen_mentions_until_the_agent_opens_them,
);

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The page at `path` as `token` sees it (200).
async fn page(app: &TestApp, token: &str, path: &str) -> String {
    let res = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

/// The part of the page htmx asks for with `HX-Target: target`.
async fn part(app: &TestApp, token: &str, path: &str, target: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .header("HX-Request", "true")
        .header("HX-Target", target)
        .send()
        .await
        .unwrap()
}

/// A customer writes `text` from `from`; returns the conversation's id.
async fn inbound(app: &mut TestApp, wamid: &str, from: &str, text: &str) -> String {
    let body = serde_json::to_vec(&text_delivery(wamid, from, text)).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let c = app.conversations().await.into_iter().find(|c| c["contact"]["wa_id"] == from).unwrap();
    c["id"].as_str().unwrap().to_owned()
}

/// The conversation ids of the rows of `html`, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.split("<li class=\"row")
        .skip(1)
        .filter_map(|s| s.split("data-id=\"").nth(1))
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

/// The nav with its counts, as inbox.js asks for it.
async fn counted_nav(app: &TestApp, token: &str, path: &str) -> String {
    let res = part(app, token, path, "views").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<nav id=\"views\""), "{html}");
    assert!(!html.contains("data-counts-pending") && !html.contains("<html"));
    html
}

/// The count the nav shows for `label`.
fn count(html: &str, label: &str) -> u64 {
    let at =
        html.find(&format!(">{label} <span class=\"count\" data-view-count>")).unwrap_or_else(|| panic!("{label}"));
    let rest = &html[at..];
    let start = rest.find("data-view-count>").unwrap() + "data-view-count>".len();
    rest[start..].split('<').next().unwrap().parse().unwrap()
}

async fn assign(app: &TestApp, conv: &str, agent: Option<&str>) {
    let res = app.post_json(&format!("/api/v1/conversations/{conv}/assign"), &json!({ "agent_id": agent })).await;
    assert_eq!(res.status(), 200);
}

async fn the_inbox_lists_the_views_with_previews_and_counts(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let a = inbound(&mut app, "wamid.ci1", "16505550101", "where is my parcel").await;
    let b = inbound(&mut app, "wamid.ci2", "16505550102", "hello there").await;
    let me_id = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    assign(&app, &a, Some(&me_id)).await;

    // Mine by default: the one assigned to me.
    let html = page(&app, &app.token, "/").await;
    assert_eq!(row_ids(&html), [a.as_str()]);
    assert!(html.contains("where is my parcel"), "the last message is previewed");
    assert!(html.contains("+16505550101"), "the contact's number");
    assert!(html.contains("Window open"), "the window's state");
    assert!(html.contains("class=\"row unread\""), "an unanswered customer is marked");
    assert!(html.contains("data-counts-pending"), "the page comes without counts");
    let nav = counted_nav(&app, &app.token, "/").await;
    assert_eq!((count(&nav, "Mine"), count(&nav, "Unassigned"), count(&nav, "All")), (1, 1, 2));
    assert!(nav.contains("<span id=\"queue-count\">1</span>"), "b waits in the queue");
    assert!(html.contains("id=\"claim-next\""), "claim next in the header");
    assert!(html.contains("name=\"availability\""), "availability in the header");
    assert!(html.contains("<dialog id=\"shortcuts\""), "the shortcuts overlay");
    assert!(html.contains("sse-connect=\"/live\""));
    assert!(!html.contains(" style="), "no inline style");

    let html = page(&app, &app.token, "/?view=unassigned").await;
    assert_eq!(row_ids(&html), [b.as_str()]);
    assert!(html.contains("Unassigned"));
    let html = page(&app, &app.token, "/?view=all").await;
    assert_eq!(row_ids(&html), [b.clone(), a.clone()], "newest activity first");

    // A reply is previewed as ours and answers the customer.
    let res = app
        .post_json(&format!("/api/v1/conversations/{a}/messages"), &json!({"type": "text", "text": "On its way"}))
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.send().await.sent, 1);
    let html = page(&app, &app.token, "/?view=mine").await;
    assert!(html.contains("You: </span>On its way"), "{html}");
    assert!(!html.contains("class=\"row unread\""));

    // Labels and teams each get a view.
    let label = crate::labels::create_label(&app, json!({"name": "vip"})).await;
    let res = app.post_json(&format!("/api/v1/conversations/{b}/labels"), &json!({"labels": ["vip"]})).await;
    assert!(res.status().is_success());
    let html = page(&app, &app.token, &format!("/?view=label&label={}", label["id"].as_str().unwrap())).await;
    assert_eq!(row_ids(&html), [b.as_str()]);
    assert!(html.contains("<span class=\"label\">vip</span>"));
    assert!(page(&app, &app.token, "/?view=all").await.contains("/?view=label&#38;label="), "the nav lists labels");
    let nav = counted_nav(&app, &app.token, "/?view=all").await;
    assert_eq!(count(&nav, "vip"), 1, "labels are counted");

    // Mentions: the notes that mention me.
    let email = me(&app, &app.token).await["email"].as_str().unwrap().to_owned();
    let res =
        app.post_json(&format!("/api/v1/conversations/{b}/notes"), &json!({"text": format!("@{email} look")})).await;
    assert_eq!(res.status(), 201);
    let html = page(&app, &app.token, "/?view=mentions").await;
    assert_eq!(row_ids(&html), [b.as_str()]);
    assert!(html.contains("mentioned you") && html.contains(" look"));
}

async fn views_sort_search_and_pages_follow_the_query(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for i in 0..53 {
        ids.push(inbound(&mut app, &format!("wamid.cs{i}"), &format!("165055502{i:02}"), &format!("order {i}")).await);
    }
    // An image: previewed with its type.
    let image =
        message("wamid.csimg", "16505550299", "image", json!({"mime_type": "image/jpeg", "sha256": "x", "id": "1"}));
    let body = serde_json::to_vec(&delivery(vec![contact("16505550299", "Ivy")], vec![image], vec![])).unwrap();
    assert_eq!(app.post_webhook(body).await.status(), 200);
    app.ingest().await;
    let html = page(&app, &app.token, "/?view=all&sort=last_activity").await;
    assert!(html.contains("<span class=\"sr\">Photo: </span>"), "a photo is previewed by its type");

    // Waiting longest first: the first customer to write.
    let html = page(&app, &app.token, "/?view=unassigned&sort=waiting").await;
    let first = row_ids(&html);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], ids[0]);
    assert!(html.contains("<option value=\"waiting\" selected>"), "the form shows the sort");
    // Load more: the next page's rows and, as this is the last, no button.
    let more = html.split("id=\"inbox-more\"").nth(1).unwrap();
    let href = more.split("hx-get=\"").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert!(href.starts_with("/?view=unassigned&status=open&sort=waiting&cursor="), "{href}");
    let res = part(&app, &app.token, &href, "inbox-more").await;
    assert_eq!(res.status(), 200);
    let rest = res.text().await.unwrap();
    assert!(!rest.contains("<html") && !rest.contains("<nav"), "only rows");
    let second = row_ids(&rest);
    assert_eq!(second.len(), 4);
    assert!(!rest.contains("id=\"inbox-more\""), "the last page");
    let mut all: Vec<String> = first.into_iter().chain(second).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 54, "no row twice, none missed");

    // Window closing soonest: the oldest window first.
    let html = page(&app, &app.token, "/?view=all&sort=window_closing").await;
    assert_eq!(row_ids(&html)[0], ids[0]);

    // Search, as the API searches.
    let html = page(&app, &app.token, "/?view=all&q=order%2052").await;
    assert_eq!(row_ids(&html), [ids[52].clone()]);
    assert!(html.contains("value=\"order 52\""), "the search box keeps the query");

    // Status filter.
    let res = app.post_json(&format!("/api/v1/conversations/{}/status", ids[3]), &json!({"status": "pending"})).await;
    assert_eq!(res.status(), 200);
    let html = page(&app, &app.token, "/?view=all&status=pending").await;
    assert_eq!(row_ids(&html), [ids[3].clone()]);
    assert!(html.contains("status-pending"));
}

async fn an_htmx_request_gets_only_the_part_it_swaps(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let a = inbound(&mut app, "wamid.ch1", "16505550301", "hi").await;
    // A view change or live refresh: the list region, with the nav and the form's view
    // fields out of band.
    let res = part(&app, &app.token, "/?view=unassigned&loaded=120", "inbox-list").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.trim_start().starts_with("<section id=\"inbox-list\""), "{html}");
    assert!(!html.contains("<html") && !html.contains("<header"));
    assert!(!html.contains("<nav"), "the counts are asked for apart");
    assert!(html.contains("<span id=\"view-inputs\" hx-swap-oob=\"true\">"), "the form follows the view");
    assert!(html.contains("data-view-url=\"/?view=unassigned&#38;status=open&#38;sort=last_activity\""));
    assert_eq!(row_ids(&html), [a]);
    // A boosted navigation gets the whole page.
    let res = app
        .client
        .get(app.url("/?view=unassigned"))
        .bearer_auth(&app.token)
        .header("HX-Request", "true")
        .header("HX-Boosted", "true")
        .header("HX-Target", "inbox-list")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("<html"));
}

async fn bad_view_parameters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, field) in [
        ("/?view=nope", "view"),
        ("/?view=team", "team"),
        ("/?view=label&label=x", "label"),
        ("/?sort=loudest", "sort"),
        ("/?status=closed", "status"),
        ("/?q=ab", "q"),
        ("/?cursor=zzz", "cursor"),
        ("/?view=mentions&cursor=zzz", "cursor"),
    ] {
        let res = app.client.get(app.url(path)).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(res.status(), 422, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("data-field=\"{field}\"")), "{path}: {html}");
    }
    // A label that does not exist.
    let res = app.client.get(app.url(&format!("/?view=label&label={}", uuid::Uuid::now_v7()))).bearer_auth(&app.token);
    let status = res.send().await.unwrap().status();
    assert!(status == 422 || status == 404, "{status}");
}

async fn an_agent_outside_a_team_sees_none_of_its_conversations_in_any_view_or_count(backend: Backend) {
    let f = Fixture::new(backend).await;
    let app = &f.app;
    for view in ["mine", "unassigned", "all", "mentions"] {
        let html = page(app, &f.outsider_token, &format!("/?view={view}&status=all")).await;
        assert!(row_ids(&html).is_empty(), "{view}");
        let html = page(app, &f.insider_token, &format!("/?view={view}&status=all")).await;
        if view == "unassigned" || view == "all" {
            assert_eq!(row_ids(&html), [f.conversation.as_str()], "{view}");
            assert!(html.contains("Photo"), "the image is previewed by its type");
        }
    }
    let html = page(app, &f.outsider_token, &format!("/?view=label&label={}&status=all", f.label)).await;
    assert!(row_ids(&html).is_empty());
    let html = page(app, &f.outsider_token, &format!("/?view=team&team={}&status=all", f.team)).await;
    assert!(row_ids(&html).is_empty());
    assert!(!html.contains(">Billing<"), "the nav lists only the agent's own teams");
    let html = counted_nav(app, &f.outsider_token, "/?view=all").await;
    assert_eq!((count(&html, "Mine"), count(&html, "Unassigned"), count(&html, "All")), (0, 0, 0));
    assert!(html.contains("<span id=\"queue-count\">0</span>"));
    assert_eq!(count(&html, "vip"), 0);
    let html = counted_nav(app, &f.insider_token, "/?view=all").await;
    assert_eq!(
        (count(&html, "Unassigned"), count(&html, "All"), count(&html, "Billing"), count(&html, "vip")),
        (1, 1, 1, 1)
    );
    // Search does not find it either.
    let html = page(app, &f.outsider_token, "/?view=all&status=all&q=6505550142").await;
    assert!(row_ids(&html).is_empty());
    // Nor can the outsider claim it.
    let res = no_redirects()
        .post(app.url("/next"))
        .bearer_auth(&f.outsider_token)
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("hx-redirect").is_none());
    let c = app.get_json(&format!("/api/v1/conversations/{}", f.conversation)).await;
    assert!(c["assignee_id"].is_null(), "nothing changed");
}

async fn claim_next_opens_the_longest_waiting_conversation_or_says_there_is_none(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let first = inbound(&mut app, "wamid.cn1", "16505550401", "first").await;
    let second = inbound(&mut app, "wamid.cn2", "16505550402", "second").await;
    let me_id = me(&app, &app.token).await["id"].as_str().unwrap().to_owned();
    let claim = |htmx: bool| {
        let mut req = no_redirects().post(app.url("/next")).bearer_auth(&app.token);
        if htmx {
            req = req.header("HX-Request", "true");
        }
        req.send()
    };
    // htmx is told where to go.
    let res = claim(true).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["hx-redirect"], format!("/c/{first}").as_str());
    let c = app.get_json(&format!("/api/v1/conversations/{first}")).await;
    assert_eq!(c["assignee_id"], me_id.as_str(), "claimed through the core, as the API claims");
    let history = app.get_json(&format!("/api/v1/conversations/{first}/history")).await;
    assert_eq!(history["items"][0]["data"]["via"], "claim");
    // A plain form post is redirected.
    let res = claim(false).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/c/{second}").as_str());
    // Nothing left: said in #flash, nothing else happens.
    let res = claim(true).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("hx-redirect").is_none());
    assert!(res.text().await.unwrap().contains("Nothing to claim"));
    let res = claim(false).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    // Without a session or token: to sign-in.
    let res = no_redirects().post(app.url("/next")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}

async fn availability_is_set_from_the_header(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(me(&app, &app.token).await["availability"], "offline");
    let post = |body: &'static str, htmx: bool| {
        let mut req = no_redirects()
            .post(app.url("/availability"))
            .bearer_auth(&app.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if htmx {
            req = req.header("HX-Request", "true");
        }
        req.send()
    };
    let res = post("availability=online", true).await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("<option value=\"online\" selected>"), "{html}");
    assert_eq!(me(&app, &app.token).await["availability"], "online");
    assert!(app.assigner_was_woken().await, "the assigner hears an agent came online");
    assert!(page(&app, &app.token, "/").await.contains("<option value=\"online\" selected>"));

    let res = post("availability=away", false).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(me(&app, &app.token).await["availability"], "away");

    let res = post("availability=asleep", true).await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("data-field=\"availability\""));
    let res = post("", true).await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(me(&app, &app.token).await["availability"], "away", "nothing changed");
}

/// The console's stream, read raw: its data are plain ids and kinds, not JSON.
struct Live {
    res: reqwest::Response,
    buf: String,
}

/// One event: `(id, event, data)`.
type LiveEvent = (i64, String, String);

impl Live {
    async fn open(app: &TestApp, token: &str) -> Self {
        let res = app.client.get(app.url("/live")).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self { res, buf: String::new() }
    }

    /// The next event (comments skipped), or `None` after `within`.
    async fn event_within(&mut self, within: Duration) -> Option<LiveEvent> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let frame: String = self.buf.drain(..end + 2).collect();
                    let (mut id, mut event, mut data) = (None, None, None);
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id: ") {
                            id = Some(v.parse::<i64>().unwrap());
                        } else if let Some(v) = line.strip_prefix("event: ") {
                            event = Some(v.to_owned());
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            data = Some(v.to_owned());
                        }
                    }
                    if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                        return (id, event, data);
                    }
                    continue;
                }
                let chunk = self.res.chunk().await.unwrap().expect("the stream goes on");
                self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .ok()
    }

    async fn events(&mut self, n: usize) -> Vec<LiveEvent> {
        let mut out = Vec::new();
        while out.len() < n {
            out.push(self.event_within(Duration::from_secs(5)).await.expect("an event within 5 s"));
        }
        out
    }
}

async fn live_sends_both_events_for_a_new_inbound_message_and_nothing_the_agent_may_not_see(backend: Backend) {
    let mut f = Fixture::new(backend).await;
    let mut insider = Live::open(&f.app, &f.insider_token).await;
    let mut outsider = Live::open(&f.app, &f.outsider_token).await;
    let body = serde_json::to_vec(&text_delivery("wamid.cl1", "16505550142", "is anyone there?")).unwrap();
    assert_eq!(f.app.post_webhook(body).await.status(), 200);
    f.app.ingest().await;
    let conv = f.conversation.clone();
    let events = insider.events(3).await;
    let id = events[0].0;
    assert_eq!(
        events,
        [
            (id, "inbox".to_owned(), conv.clone()),
            (id, format!("c-{conv}"), "message_created".to_owned()),
            (id, "inbound".to_owned(), conv.clone()),
        ]
    );
    // The agent outside the team hears nothing of it.
    assert_eq!(outsider.event_within(Duration::from_millis(700)).await, None);
    // An agent's own reply: both events, no `inbound`.
    let res = call(
        &f.app,
        Method::POST,
        &format!("/api/v1/conversations/{conv}/messages"),
        Some(&f.insider_token),
        Some(json!({"type": "text", "text": "yes"})),
    )
    .await;
    assert_eq!(res.status(), 202);
    let events = insider.events(2).await;
    assert_eq!((events[0].1.as_str(), events[0].2.as_str()), ("inbox", conv.as_str()));
    assert_eq!(events[1].1, format!("c-{conv}"));
    assert_eq!(events[1].2, "message_created");
    assert!(events[0].0 > id);
    assert_eq!(insider.event_within(Duration::from_millis(300)).await, None);
    f.app.send().await;
    let status = insider.events(2).await;
    assert_eq!(status[1].2, "message_status");
    // Resuming after the first event replays the rest, as the API's stream does.
    let res =
        f.app.client.get(f.app.url("/live")).bearer_auth(&f.insider_token).header("last-event-id", id.to_string());
    let mut resumed = Live { res: res.send().await.unwrap(), buf: String::new() };
    let replayed = resumed.events(4).await;
    assert_eq!(replayed[0].1, "inbox");
    assert!(replayed.iter().all(|e| e.0 > id));
    assert_eq!(replayed[3].2, "message_status");
    assert!(!replayed.iter().any(|e| e.1 == "inbound"), "the reply is ours");
    // Resumes with Last-Event-ID, as the API's stream does.
    let res = f.app.client.get(f.app.url("/live")).bearer_auth(&f.insider_token).header("last-event-id", "x");
    assert_eq!(res.send().await.unwrap().status(), 400);
    let res = no_redirects().get(f.app.url("/live")).send().await.unwrap();
    assert_eq!(res.status(), 303, "a browser without a session is sent to sign in");
}

async fn mentions_lists_the_conversations_with_unseen_mentions_until_the_agent_opens_them(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, sam) = create_agent(&app, json!({"name": "Sam", "email": "sam@example.com"})).await;
    let a = inbound(&mut app, "wamid.mn1", "16505550301", "where is my parcel").await;
    let b = inbound(&mut app, "wamid.mn2", "16505550302", "wrong size").await;
    let note = |c: String, text: &'static str| {
        let app = &app;
        async move {
            let res = app.post_json(&format!("/api/v1/conversations/{c}/notes"), &json!({ "text": text })).await;
            assert_eq!(res.status(), 201);
        }
    };
    note(a.clone(), "@sam@example.com can you check the carrier?").await;
    note(b.clone(), "@sam@example.com swap it").await;
    note(a.clone(), "@sam@example.com any news?").await;
    note(b.clone(), "no mention here").await;
    // Conversations, by their newest unseen mention; the rows say who and what.
    let html = page(&app, &sam, "/?view=mentions").await;
    assert_eq!(row_ids(&html), [a.clone(), b.clone()]);
    assert!(html.contains("mentioned you</span>"), "{html}");
    assert!(html.contains("any news?") && html.contains("(and 1 more)"), "{html}");
    assert!(html.contains("where is my parcel"), "the last message is previewed too");
    assert!(html.contains(&format!("href=\"/c/{a}?view=mentions\"")), "rows open the conversation in this list");
    assert!(!html.contains(" style="), "no inline style");
    assert_eq!(count(&counted_nav(&app, &sam, "/").await, "Mentions"), 2);
    assert_eq!(count(&counted_nav(&app, &app.token, "/").await, "Mentions"), 0, "nobody mentioned the admin");
    // Next from a conversation in this list: the first other one with unseen mentions.
    let res = no_redirects()
        .get(app.url(&format!("/c/{b}/next?view=mentions&dir=next")))
        .bearer_auth(&sam)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/c/{a}?view=mentions").as_str());

    // Opening a sees its mentions: it leaves the view and the count.
    page(&app, &sam, &format!("/c/{a}?view=mentions")).await;
    assert_eq!(row_ids(&page(&app, &sam, "/?view=mentions").await), [b.as_str()]);
    assert_eq!(count(&counted_nav(&app, &sam, "/").await, "Mentions"), 1);
    // A new mention brings it back, first; the open page's live tail sees it again.
    note(a.clone(), "@sam@example.com the carrier called").await;
    assert_eq!(row_ids(&page(&app, &sam, "/?view=mentions").await), [a.clone(), b.clone()]);
    let res = app.client.get(app.url(&format!("/c/{a}/messages"))).bearer_auth(&sam).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("the carrier called"));
    assert_eq!(row_ids(&page(&app, &sam, "/?view=mentions").await), [b.as_str()]);
    page(&app, &sam, &format!("/c/{b}")).await;
    let html = page(&app, &sam, "/?view=mentions").await;
    assert!(row_ids(&html).is_empty());
    assert!(html.contains("No mentions you have not seen."));
    assert_eq!(count(&counted_nav(&app, &sam, "/").await, "Mentions"), 0);
    // One more on each: the newest mention first, in the part a live refresh asks for.
    for c in [&a, &b] {
        note(c.clone(), "@sam@example.com again").await;
    }
    let first = part(&app, &sam, "/?view=mentions", "inbox-list").await.text().await.unwrap();
    assert_eq!(row_ids(&first), [b.clone(), a.clone()]);
}
