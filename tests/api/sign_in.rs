//! Console sign-in: passwords set from one-time invitation links, the session cookie on
//! the API, CSRF, the rate limit on failed sign-ins, idle and absolute expiry, sign-out
//! and revocation, and the TOTP second factor (optional, per agent, or for everyone).

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};
use switchboard_core::auth::{csrf_token, hash_secret_token};
use switchboard_domain::AgentId;
use switchboard_store::{InvitationPurpose, NewInvitation, NewSession};
use switchboard_tests::{AppOptions, Backend, TestApp, both_backends, spawn_app, spawn_app_with};

use crate::agents::{call, new_agent, problem};

both_backends!(
    a_right_password_signs_in_and_a_wrong_one_does_not_say_which_was_wrong,
    the_cookie_works_on_the_api_and_bearer_tokens_are_unchanged,
    a_cookie_request_that_changes_something_needs_the_csrf_token,
    a_cross_site_sign_in_form_is_refused,
    failed_sign_ins_are_limited_per_account,
    failed_sign_ins_are_limited_per_client,
    an_invitation_works_once_and_not_after_it_expired,
    a_reset_ends_the_agents_sessions,
    sessions_end_when_idle_or_at_their_absolute_expiry,
    sign_out_and_revocation_end_the_cookie,
    deactivating_an_agent_ends_their_sessions,
    totp_enrolment_then_sign_in_asks_for_a_code,
    mandatory_totp_makes_agents_enrol_at_sign_in,
    the_account_page_lists_sessions_with_the_csrf_token,
);

/// The client a browser would be, without following redirects or keeping cookies.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `sb_session` value a response sets, if any (non-empty).
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let v = c.strip_prefix("sb_session=")?.split(';').next()?;
        (!v.is_empty()).then(|| v.to_owned())
    })
}

fn set_cookie_header(res: &reqwest::Response) -> String {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join("\n")
}

/// An agent with a password set through an invitation link, as a new agent would.
pub struct Person {
    pub id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

pub async fn person(app: &TestApp, name: &str) -> Person {
    let (agent, token) = new_agent(app, name).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    let password = format!("{name} has a long password");
    let url = invitation(app, &id).await;
    let res = browser().post(url).form(&[("password", &password), ("confirm", &password)]).send().await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    Person { id, email: agent["email"].as_str().unwrap().to_owned(), password, token }
}

/// A new invitation (or reset) link for the agent, made by the admin.
async fn invitation(app: &TestApp, id: &str) -> String {
    let res = call(app, Method::POST, &format!("/api/v1/agents/{id}/invitation"), Some(&app.token), None).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/invitation/sbi_", app.base)), "{url}");
    url
}

pub async fn sign_in_as(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    browser()
        .post(app.url("/sign-in"))
        .header("origin", &app.base)
        .form(&[("email", email), ("password", password), ("next", "/?view=mine")])
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the session cookie's value.
async fn signed_in(app: &TestApp, p: &Person) -> String {
    let res = sign_in_as(app, &p.email, &p.password).await;
    assert_eq!(res.status(), 303);
    session_cookie(&res).expect("a session cookie")
}

/// A request with the session cookie (and, if given, a CSRF header).
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = browser().request(method, app.url(path)).header(COOKIE, format!("sb_session={cookie}"));
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn me_status(app: &TestApp, cookie: &str) -> u16 {
    with_cookie(app, Method::GET, "/api/v1/agents/me", cookie, None, None).await.status().as_u16()
}

/// A console form post with the session cookie and its CSRF token, as htmx sends it.
pub async fn console_post(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header(COOKIE, format!("sb_session={cookie}"))
        .header("x-csrf-token", csrf_token(cookie))
        .header("hx-request", "true")
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn a_right_password_signs_in_and_a_wrong_one_does_not_say_which_was_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/?view=mine");
    let set = set_cookie_header(&res);
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = session_cookie(&res).unwrap();
    assert!(cookie.starts_with("sbs_"));

    // A wrong password and an unknown email get the same page and no cookie.
    let wrong = sign_in_as(&app, &ana.email, "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    assert!(session_cookie(&wrong).is_none());
    let wrong_text = wrong.text().await.unwrap();
    let unknown = sign_in_as(&app, "nobody@example.com", "not the password at all").await;
    assert_eq!(unknown.status(), 401);
    assert!(session_cookie(&unknown).is_none());
    let unknown_text = unknown.text().await.unwrap();
    assert!(
        wrong_text.contains("The email or password is wrong") || wrong_text.contains("the email or password is wrong")
    );
    assert_eq!(wrong_text, unknown_text.replace("nobody@example.com", &ana.email));
    assert!(!wrong_text.contains("not the password"), "the password is never echoed");

    // `next` must be on this site.
    let res = browser()
        .post(app.url("/sign-in"))
        .form(&[("email", ana.email.as_str()), ("password", &ana.password), ("next", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/");
    // Behind a proxy that says https, the cookie is Secure only if the proxy is trusted.
    let res = browser()
        .post(app.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("email", ana.email.as_str()), ("password", &ana.password)])
        .send()
        .await
        .unwrap();
    assert!(!set_cookie_header(&res).contains("Secure"));
}

async fn the_cookie_works_on_the_api_and_bearer_tokens_are_unchanged(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    let res = with_cookie(&app, Method::GET, "/api/v1/agents/me", &cookie, None, None).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["email"], ana.email.as_str());
    assert_eq!(me["totp_required"], false);
    // A garbage cookie is no session.
    assert_eq!(me_status(&app, "sbs_nothing").await, 401);
    // Bearer tokens work as before, with no CSRF token, cookie or not.
    let res = call(
        &app,
        Method::PUT,
        "/api/v1/agents/me/availability",
        Some(&ana.token),
        Some(json!({"availability": "away"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = browser()
        .put(app.url("/api/v1/agents/me/availability"))
        .bearer_auth(&ana.token)
        .header(COOKIE, "sb_session=sbs_garbage")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"availability": "online"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a bearer token is not a cookie: no CSRF check");
}

async fn a_cookie_request_that_changes_something_needs_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    let path = "/api/v1/agents/me/availability";
    let body = json!({"availability": "online"});
    // No header (a cross-site form post carries the cookie but cannot set headers).
    let res = with_cookie(&app, Method::PUT, path, &cookie, None, Some(body.clone())).await;
    assert_eq!(problem(res, 403).await["code"], "csrf_failed");
    // A wrong one.
    let res = with_cookie(&app, Method::PUT, path, &cookie, Some(&csrf_token("sbs_other")), Some(body.clone())).await;
    assert_eq!(problem(res, 403).await["code"], "csrf_failed");
    // The right one, but the browser says the request comes from another site.
    let res = browser()
        .put(app.url(path))
        .header(COOKIE, format!("sb_session={cookie}"))
        .header("x-csrf-token", csrf_token(&cookie))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res, 403).await["code"], "csrf_failed");
    // A form post, as another site's page would send it.
    let res = browser()
        .post(app.url("/api/v1/agents/me/tokens"))
        .header(COOKIE, format!("sb_session={cookie}"))
        .header("origin", "https://evil.example")
        .form(&[("name", "stolen")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Nothing changed.
    assert_eq!(crate::agents::me(&app, &ana.token).await["availability"], "offline");
    let tokens = call(&app, Method::GET, "/api/v1/agents/me/tokens", Some(&ana.token), None).await;
    assert_eq!(tokens.json::<Value>().await.unwrap()["items"].as_array().unwrap().len(), 1);
    // With the right token, from this site: done.
    let res = with_cookie(&app, Method::PUT, path, &cookie, Some(&csrf_token(&cookie)), Some(body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(crate::agents::me(&app, &ana.token).await["availability"], "online");
}

async fn a_cross_site_sign_in_form_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let res = browser()
            .post(app.url("/sign-in"))
            .header(header, value)
            .form(&[("email", ana.email.as_str()), ("password", &ana.password)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{header}: {value}");
        assert!(session_cookie(&res).is_none());
    }
    let res = browser()
        .post(app.url("/sign-in"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", ana.email.as_str()), ("password", &ana.password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

fn limited(env: &[(&'static str, &str)]) -> AppOptions {
    AppOptions { env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(), ..AppOptions::default() }
}

async fn failed_sign_ins_are_limited_per_account(backend: Backend) {
    let app = spawn_app_with(
        backend,
        limited(&[
            ("SWITCHBOARD__CONSOLE__SIGN_IN_FAILURES_PER_ACCOUNT", "3"),
            ("SWITCHBOARD__CONSOLE__SIGN_IN_FAILURE_WINDOW_SECS", "4"),
        ]),
    )
    .await;
    let ana = person(&app, "Ana").await;
    let bo = person(&app, "Bo").await;
    for _ in 0..3 {
        assert_eq!(sign_in_as(&app, &ana.email, "a wrong password!").await.status(), 401);
    }
    // Even the right password is refused now, with how long to wait.
    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 429);
    assert!(session_cookie(&res).is_none());
    let wait: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=4).contains(&wait), "{wait}");
    let text = res.text().await.unwrap();
    assert!(text.contains("too many failed sign-ins; try again in 1 minute(s)"), "{text}");
    // Another account from the same client is not affected.
    assert_eq!(sign_in_as(&app, &bo.email, &bo.password).await.status(), 303);
    // After the window, the right password works; a success does not erase the record.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_eq!(sign_in_as(&app, &ana.email, &ana.password).await.status(), 303);
}

async fn failed_sign_ins_are_limited_per_client(backend: Backend) {
    let app = spawn_app_with(
        backend,
        limited(&[
            ("SWITCHBOARD__CONSOLE__SIGN_IN_FAILURES_PER_CLIENT", "4"),
            ("SWITCHBOARD__CONSOLE__SIGN_IN_FAILURE_WINDOW_SECS", "4"),
        ]),
    )
    .await;
    let ana = person(&app, "Ana").await;
    for i in 0..4 {
        assert_eq!(sign_in_as(&app, &format!("guess{i}@example.com"), "a wrong password!").await.status(), 401);
    }
    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 429, "every account from this address is refused for a while");
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert_eq!(sign_in_as(&app, &ana.email, &ana.password).await.status(), 303);
}

async fn an_invitation_works_once_and_not_after_it_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    let (agent, _) = new_agent(&app, "Cy").await;
    let id = agent["id"].as_str().unwrap();
    let email = agent["email"].as_str().unwrap();
    let res = call(&app, Method::POST, &format!("/api/v1/agents/{id}/invitation"), Some(&app.token), None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["purpose"], "invite");
    let url = body["url"].as_str().unwrap().to_owned();
    let page = browser().get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(email));
    // Too short, or two different passwords: refused, the link still works.
    let res = browser().post(&url).form(&[("password", "short"), ("confirm", "short")]).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("at least 10 characters"));
    let res =
        browser().post(&url).form(&[("password", "long enough 1"), ("confirm", "long enough 2")]).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res =
        browser().post(&url).form(&[("password", "long enough 1"), ("confirm", "long enough 1")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/sign-in?done=password_set");
    // Used: a clear page, 410, and the password is not changed again.
    let again = browser()
        .post(&url)
        .form(&[("password", "another one 22"), ("confirm", "another one 22")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("already used"));
    assert_eq!(browser().get(&url).send().await.unwrap().status(), 410);
    assert_eq!(sign_in_as(&app, email, "long enough 1").await.status(), 303);
    assert_eq!(sign_in_as(&app, email, "another one 22").await.status(), 401);

    // An expired link.
    let token = "sbi_expired_for_the_test";
    let agent_id: AgentId = id.parse().unwrap();
    app.store
        .create_invitation(
            &NewInvitation {
                hash: &hash_secret_token(token),
                agent: agent_id,
                purpose: InvitationPurpose::Reset,
                created_by: None,
                expires_at: Utc::now() - chrono::Duration::minutes(1),
            },
            Utc::now() - chrono::Duration::hours(72),
        )
        .await
        .unwrap();
    let url = app.url(&format!("/invitation/{token}"));
    let page = browser().get(&url).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    let res = browser()
        .post(&url)
        .form(&[("password", "expired but long"), ("confirm", "expired but long")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(sign_in_as(&app, email, "expired but long").await.status(), 401);
    // An unknown link, and one for an agent who does not exist.
    assert_eq!(browser().get(app.url("/invitation/sbi_nope")).send().await.unwrap().status(), 404);
    let res =
        call(&app, Method::POST, &format!("/api/v1/agents/{}/invitation", AgentId::new()), Some(&app.token), None)
            .await;
    assert_eq!(res.status(), 404);
    // Agents may not make links.
    let bo = person(&app, "Bo").await;
    let res = call(&app, Method::POST, &format!("/api/v1/agents/{}/invitation", bo.id), Some(&bo.token), None).await;
    assert_eq!(res.status(), 403);
}

async fn a_reset_ends_the_agents_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let first = signed_in(&app, &ana).await;
    let second = signed_in(&app, &ana).await;
    let res = call(&app, Method::POST, &format!("/api/v1/agents/{}/invitation", ana.id), Some(&app.token), None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["purpose"], "reset");
    // Not used yet: the sessions still work.
    assert_eq!(me_status(&app, &first).await, 200);
    let url = body["url"].as_str().unwrap();
    let new = "a brand new password";
    let res = browser().post(url).form(&[("password", new), ("confirm", new)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(me_status(&app, &first).await, 401);
    assert_eq!(me_status(&app, &second).await, 401);
    assert_eq!(sign_in_as(&app, &ana.email, &ana.password).await.status(), 401);
    assert_eq!(sign_in_as(&app, &ana.email, new).await.status(), 303);
    // API tokens are not sessions: they keep working.
    assert_eq!(crate::agents::me(&app, &ana.token).await["id"], ana.id.as_str());
}

async fn sessions_end_when_idle_or_at_their_absolute_expiry(backend: Backend) {
    let app = spawn_app_with(backend, limited(&[("SWITCHBOARD__CONSOLE__SESSION_IDLE_MINUTES", "60")])).await;
    let ana = person(&app, "Ana").await;
    let agent: AgentId = ana.id.parse().unwrap();
    let session = |token: &'static str, created_ago: i64, expires_in: i64| {
        let store = app.store.clone();
        async move {
            let hash = hash_secret_token(token);
            let now = Utc::now();
            store
                .create_session(
                    &NewSession {
                        hash: &hash,
                        agent,
                        expires_at: now + chrono::Duration::minutes(expires_in),
                        user_agent: None,
                        client_addr: None,
                        second_factor_pending: false,
                    },
                    now - chrono::Duration::minutes(created_ago),
                )
                .await
                .unwrap()
        }
    };
    session("sbs_fresh", 59, 600).await;
    session("sbs_idle", 61, 600).await;
    session("sbs_past", 1, -1).await;
    assert_eq!(me_status(&app, "sbs_fresh").await, 200);
    assert_eq!(me_status(&app, "sbs_idle").await, 401, "unused for longer than the idle time");
    assert_eq!(me_status(&app, "sbs_past").await, 401, "past the absolute expiry");
    // Use moves the idle expiry (recorded at most once a minute).
    let live = app.store.sessions(agent, Utc::now()).await.unwrap();
    let fresh = live.iter().find(|s| s.created_at < Utc::now() - chrono::Duration::minutes(58)).unwrap();
    assert!(fresh.last_seen_at > Utc::now() - chrono::Duration::minutes(1), "its use was recorded");
    // The listing shows the live ones only.
    let res = call(&app, Method::GET, "/api/v1/agents/me/sessions", Some(&ana.token), None).await;
    let items = res.json::<Value>().await.unwrap()["items"].as_array().unwrap().len();
    assert_eq!(items, 1);
}

async fn sign_out_and_revocation_end_the_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    // Signing out needs the CSRF token too.
    let res = with_cookie(&app, Method::POST, "/sign-out", &cookie, None, None).await;
    assert_eq!(res.status(), 403);
    assert_eq!(me_status(&app, &cookie).await, 200);
    let res = with_cookie(&app, Method::POST, "/sign-out", &cookie, Some(&csrf_token(&cookie)), None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/sign-in");
    assert!(set_cookie_header(&res).contains("sb_session=;"), "{}", set_cookie_header(&res));
    assert_eq!(me_status(&app, &cookie).await, 401);

    // Revoked by its owner through the API, or by an admin.
    let a = signed_in(&app, &ana).await;
    let b = signed_in(&app, &ana).await;
    let res = with_cookie(&app, Method::GET, "/api/v1/agents/me/sessions", &a, None, None).await;
    let list: Value = res.json().await.unwrap();
    let ids: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2);
    assert!(list.to_string().find("sbs_").is_none(), "tokens are never listed");
    // Newest first: b, then a.
    let res =
        call(&app, Method::DELETE, &format!("/api/v1/agents/{}/sessions/{}", ana.id, ids[0]), Some(&app.token), None)
            .await;
    assert_eq!(res.status(), 204);
    assert_eq!(me_status(&app, &b).await, 401);
    assert_eq!(me_status(&app, &a).await, 200);
    let res = with_cookie(
        &app,
        Method::DELETE,
        &format!("/api/v1/agents/me/sessions/{}", ids[1]),
        &a,
        Some(&csrf_token(&a)),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(me_status(&app, &a).await, 401);
    // Another agent may neither list nor revoke them.
    let bo = person(&app, "Bo").await;
    let res = call(&app, Method::GET, &format!("/api/v1/agents/{}/sessions", ana.id), Some(&bo.token), None).await;
    assert_eq!(res.status(), 403);
}

async fn deactivating_an_agent_ends_their_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/agents/{}", ana.id),
        Some(&app.token),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(me_status(&app, &cookie).await, 401);
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/agents/{}", ana.id),
        Some(&app.token),
        Some(json!({"active": true})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(me_status(&app, &cookie).await, 401, "a revoked session stays revoked");
    assert_eq!(sign_in_as(&app, &ana.email, &ana.password).await.status(), 303);
}

/// The code an authenticator app shows for `secret` (base32) at `unix` seconds.
fn code_at(secret: &str, unix: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(unix).to_string()
}

fn now_unix() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap()
}

/// The secret an enrolment page shows.
fn shown_secret(html: &str) -> String {
    let start = html.find("id=\"totp-secret\">").expect("the secret is shown") + "id=\"totp-secret\">".len();
    html[start..].split('<').next().unwrap().to_owned()
}

async fn totp_enrolment_then_sign_in_asks_for_a_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    let res = console_post(&app, "/account/totp", &cookie, &[]).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let secret = shown_secret(&html);
    assert!(html.contains("data:image/svg+xml;base64,"), "a QR code");
    // A wrong code does not turn it on.
    let res = console_post(&app, "/account/totp/confirm", &cookie, &[("code", "000000")]).await;
    assert_eq!(res.status(), 422);
    let now = now_unix();
    let res = console_post(&app, "/account/totp/confirm", &cookie, &[("code", &code_at(&secret, now))]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Two-factor authentication is on"));
    // The secret is stored sealed, never in the clear.
    let creds = app.store.credentials(ana.id.parse().unwrap()).await.unwrap();
    let sealed = creds.totp.unwrap().secret.sealed;
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_bytes()));

    // Signing in now asks for a code; until then the cookie opens nothing.
    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/sign-in/code?next=/%3Fview%3Dmine");
    let pending = session_cookie(&res).unwrap();
    assert_eq!(me_status(&app, &pending).await, 401);
    let code_post = |code: String| {
        let pending = pending.clone();
        let url = app.url("/sign-in/code");
        async move {
            browser()
                .post(url)
                .header(COOKIE, format!("sb_session={pending}"))
                .form(&[("code", code.as_str()), ("next", "/")])
                .send()
                .await
                .unwrap()
        }
    };
    let res = code_post("123456".into()).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("the code is wrong or already used"));
    // The code of the step used to confirm is not accepted again (replay).
    let res = code_post(code_at(&secret, now)).await;
    assert_eq!(res.status(), 422);
    let res = code_post(code_at(&secret, now + 30)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/");
    assert_eq!(me_status(&app, &pending).await, 200);
    // The same code a second time, in another sign-in: refused.
    let again = session_cookie(&sign_in_as(&app, &ana.email, &ana.password).await).unwrap();
    let res = browser()
        .post(app.url("/sign-in/code"))
        .header(COOKIE, format!("sb_session={again}"))
        .form(&[("code", code_at(&secret, now + 30).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(me_status(&app, &again).await, 401);
    // Turned off from the account page (not required): sign-in asks no code again.
    let res = console_post(&app, "/account/totp/disable", &pending, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(sign_in_as(&app, &ana.email, &ana.password).await.headers()[LOCATION], "/?view=mine");
}

async fn mandatory_totp_makes_agents_enrol_at_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let bo = person(&app, "Bo").await;
    // Only admins see and change the setting.
    let res =
        call(&app, Method::PUT, "/api/v1/settings/security", Some(&ana.token), Some(json!({"totp_mandatory": true})))
            .await;
    assert_eq!(res.status(), 403);
    let res =
        call(&app, Method::PUT, "/api/v1/settings/security", Some(&app.token), Some(json!({"totp_mandatory": true})))
            .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get_json("/api/v1/settings/security").await["totp_mandatory"], true);

    let res = sign_in_as(&app, &ana.email, &ana.password).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/sign-in/code"));
    let pending = session_cookie(&res).unwrap();
    assert_eq!(me_status(&app, &pending).await, 401, "not signed in until enrolled");
    let page =
        browser().get(app.url("/sign-in/code")).header(COOKIE, format!("sb_session={pending}")).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("/sign-in/enrol"));
    let res = browser()
        .post(app.url("/sign-in/enrol"))
        .header(COOKIE, format!("sb_session={pending}"))
        .form(&[("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let secret = shown_secret(&res.text().await.unwrap());
    let res = browser()
        .post(app.url("/sign-in/code"))
        .header(COOKIE, format!("sb_session={pending}"))
        .form(&[("code", code_at(&secret, now_unix()).as_str()), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(me_status(&app, &pending).await, 200);
    // Required: it cannot be turned off.
    let res = console_post(&app, "/account/totp/disable", &pending, &[]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("required"));

    // Per agent: required for Bo alone once the global setting is off.
    let res =
        call(&app, Method::PUT, "/api/v1/settings/security", Some(&app.token), Some(json!({"totp_mandatory": false})))
            .await;
    assert_eq!(res.status(), 200);
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/agents/{}", bo.id),
        Some(&app.token),
        Some(json!({"totp_required": true})),
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["totp_required"], true);
    let res = sign_in_as(&app, &bo.email, &bo.password).await;
    assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/sign-in/code"));
    // API tokens are not affected.
    assert_eq!(crate::agents::me(&app, &bo.token).await["id"], bo.id.as_str());
}

async fn the_account_page_lists_sessions_with_the_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let ana = person(&app, "Ana").await;
    let cookie = signed_in(&app, &ana).await;
    let res = with_cookie(&app, Method::GET, "/account", &cookie, None, None).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"));
    let html = res.text().await.unwrap();
    assert!(html.contains(&csrf_token(&cookie)), "htmx sends the page's CSRF token");
    assert!(!html.contains(&cookie), "never the session token");
    assert!(html.contains("this one"));
    assert!(!html.contains("style="));
    // Without a session: to sign-in.
    let res = browser().get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
}
