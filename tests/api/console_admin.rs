//! The admins' console (`/admin`): only admins get in, whatever the route; agents get 403
//! and change nothing; pages show the configuration that the API holds.

use reqwest::Method;
use serde_json::json;
use switchboard_tests::{Backend, both_backends, spawn_app};

use crate::agents::{call, new_agent};
use crate::console::no_redirects;
use crate::visibility::Fixture;

both_backends!(
    every_admin_page_and_action_refuses_agents_and_changes_nothing,
    admin_pages_send_a_browser_without_a_session_to_sign_in,
    the_labels_page_shows_the_labels_and_their_forms_call_the_api,
);

/// `path` with every `{placeholder}` replaced by an id that exists nowhere: the refusal
/// comes before the path is read.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        out.push_str(&uuid::Uuid::new_v4().to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn every_admin_page_and_action_refuses_agents_and_changes_nothing(backend: Backend) {
    let fx = Fixture::new(backend).await;
    let app = &fx.app;
    assert!(switchboard_http::CONSOLE_ADMIN_ROUTES.iter().any(|(m, p)| *m == "get" && *p == "/admin"));
    // Both agents' tokens have been used (their `last_used_at` is set before the snapshot).
    for token in [&fx.insider_token, &fx.outsider_token] {
        assert_eq!(call(app, Method::GET, "/api/v1/agents/me", Some(token), None).await.status(), 200);
    }
    let before = fx.snapshot().await;
    // Every route the admin console registers, and one it does not: the scope refuses
    // before any handler (or the router) runs.
    let unknown = [("post", "/admin/anything/at/all")];
    for (m, template) in switchboard_http::CONSOLE_ADMIN_ROUTES.iter().chain(&unknown) {
        let path = concrete(template);
        let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        for token in [&fx.insider_token, &fx.outsider_token] {
            let req = app.client.request(method.clone(), app.url(&path)).bearer_auth(token);
            let req = if *m == "get" { req } else { req.json(&json!({"name": "taken over"})) };
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 403, "{m} {template}");
            let html = res.text().await.unwrap();
            assert!(html.contains("not allowed"), "{m} {template}: says why: {html}");
            assert!(!html.contains("admin-nav"), "{m} {template}: shows no admin page");
        }
        // The admin gets through (GET pages answer; a made-up path is a 404, not a 403).
        if *m == "get" && !template.contains('{') {
            let res = app.client.get(app.url(&path)).bearer_auth(&app.token).send().await.unwrap();
            assert_eq!(res.status(), 200, "{template} for the admin");
        }
    }
    assert_eq!(fx.snapshot().await, before, "an agent changed something under /admin");
    // A newly made agent is refused too; the settings link is only in admins' header.
    let (_, token) = new_agent(app, "Newcomer").await;
    let res = app.client.get(app.url("/admin")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let inbox = app.client.get(app.url("/")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(!inbox.contains("href=\"/admin\""));
    let inbox = app.client.get(app.url("/")).bearer_auth(&app.token).send().await.unwrap().text().await.unwrap();
    assert!(inbox.contains("href=\"/admin\""));
}

async fn admin_pages_send_a_browser_without_a_session_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = no_redirects().get(app.url("/admin/labels")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sign-in?next=/admin/labels");
    // With the console's headers, like any console page.
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

async fn the_labels_page_shows_the_labels_and_their_forms_call_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = call(
        &app,
        Method::POST,
        "/api/v1/labels",
        Some(&app.token),
        Some(json!({"name": "VIP <b>", "colour": "#aa3300", "description": "Big spenders"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.client.get(app.url("/admin/labels")).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = res.text().await.unwrap();
    assert!(html.contains("VIP &#60;b&#62;") && !html.contains("VIP <b>"), "the name is escaped");
    assert!(html.contains("fill=\"#aa3300\""));
    assert!(html.contains("Big spenders"));
    assert!(html.contains(r#"data-api="POST /api/v1/labels""#));
    assert!(html.contains(&format!(r#"data-api="PATCH /api/v1/labels/{id}""#)));
    assert!(html.contains(&format!(r#"data-api="DELETE /api/v1/labels/{id}""#)));
    assert!(html.contains("aria-current=\"page\""), "the navigation marks the screen");
    assert!(!html.contains(" style="), "no inline style");
}
