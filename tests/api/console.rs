//! The console's shell: security headers, embedded assets, and the way to sign-in.

use switchboard_tests::{Backend, both_backends, spawn_app};

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn a_page_without_a_session_sends_the_browser_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = no_redirects().get(app.url("/?view=mine")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sign-in?next=/%3Fview%3Dmine");
    // htmx is told to load the page rather than given a redirect to follow.
    let res = no_redirects().get(app.url("/")).header("HX-Request", "true").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["hx-redirect"], "/sign-in?next=/");
}

async fn console_pages_carry_a_strict_policy_and_hashed_immutable_assets(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.client.get(app.url("/")).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains(" style="), "no inline script or style");
    let mut total = 0;
    let assets: Vec<&str> = html.split('"').filter(|s| s.starts_with("/assets/")).collect();
    assert_eq!(assets.len(), 8, "{assets:?}");
    for path in assets {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
        total += res.bytes().await.unwrap().len();
    }
    assert!(total < 200 * 1024, "the page's assets weigh {total} bytes");
    let res = app.client.get(app.url("/assets/console.00000000.css")).send().await.unwrap();
    assert_eq!(res.status(), 404, "only the current content's name is served");
}

both_backends!(
    a_page_without_a_session_sends_the_browser_to_sign_in,
    console_pages_carry_a_strict_policy_and_hashed_immutable_assets,
);
