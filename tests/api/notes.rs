//! Private notes and @mentions over HTTP: never sent to WhatsApp.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_tests::{Backend, both_backends, spawn_app};

use crate::agents::{call, create_agent, fields, me, problem};
use crate::views::customer_writes;

both_backends!(
    notes_mention_agents_and_never_reach_whatsapp,
    bad_notes_are_422_and_only_authors_or_admins_delete,
    a_mention_is_unseen_until_the_agent_has_seen_the_conversation,
);

async fn notes_mention_agents_and_never_reach_whatsapp(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (sam, sam_token) = create_agent(&app, json!({"name": "Sam", "email": "sam@example.com"})).await;
    let (_, kim_token) = create_agent(&app, json!({"name": "Kim", "email": "kim@example.com"})).await;
    let id = customer_writes(&mut app, "16505550001", "Ana", "hola", 5).await;
    let path = format!("/api/v1/conversations/{id}/notes");
    let admin = me(&app, &app.token).await;

    let res = call(
        &app,
        Method::POST,
        &path,
        Some(&app.token),
        Some(json!({"text": "@Sam@Example.com can you call her back? Also @kim@example.com. नमस्ते"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let note: Value = res.json().await.unwrap();
    let kim = me(&app, &kim_token).await;
    assert_eq!(note["mentions"], json!([sam["id"], kim["id"]]));
    assert_eq!(note["author_id"], admin["id"]);
    assert_eq!(note["conversation_id"], id.as_str());
    // A plain address is not a mention.
    let res = call(&app, Method::POST, &path, Some(&sam_token), Some(json!({"text": "mailed sam@example.com"}))).await;
    assert_eq!(res.status(), 201);
    let plain: Value = res.json().await.unwrap();
    assert_eq!(plain["mentions"], json!([]));

    // Listed oldest first, paged.
    let first = app.get_json(&format!("{path}?limit=1")).await;
    assert_eq!(first["items"][0]["id"], note["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.get_json(&format!("{path}?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["id"], plain["id"]);
    assert!(second["next_cursor"].is_null());

    // Mentions: each mentioned agent finds it; the author (not mentioned) does not.
    for token in [&sam_token, &kim_token] {
        let res = call(&app, Method::GET, "/api/v1/mentions", Some(token), None).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id"], note["id"]);
    }
    assert!(app.get_json("/api/v1/mentions").await["items"].as_array().unwrap().is_empty());

    // Notes are not messages and nothing goes to the Graph API.
    assert_eq!(app.messages(&id).await.len(), 1);
    app.send().await;
    assert!(app.graph.sent().await.is_empty());
}

async fn bad_notes_are_422_and_only_authors_or_admins_delete(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, sam_token) = create_agent(&app, json!({"name": "Sam", "email": "sam@example.com"})).await;
    let (_, kim_token) = create_agent(&app, json!({"name": "Kim", "email": "kim@example.com"})).await;
    let id = customer_writes(&mut app, "16505550001", "Ana", "hola", 5).await;
    let path = format!("/api/v1/conversations/{id}/notes");
    for body in [
        json!({"text": "ask @ghost@example.com"}),
        json!({"text": "   "}),
        json!({}),
        json!({"text": "x".repeat(10_001)}),
    ] {
        let p = problem(call(&app, Method::POST, &path, Some(&app.token), Some(body.clone())).await, 422).await;
        assert_eq!(fields(&p), ["text"], "{body}");
    }
    let p = problem(
        call(&app, Method::POST, &path, Some(&app.token), Some(json!({"text": "@ghost@example.com"}))).await,
        422,
    )
    .await;
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("@ghost@example.com"));
    assert!(app.get_json(&path).await["items"].as_array().unwrap().is_empty(), "nothing stored");
    // Unknown conversations.
    let unknown = format!("/api/v1/conversations/{}/notes", uuid::Uuid::now_v7());
    let res = call(&app, Method::POST, &unknown, Some(&app.token), Some(json!({"text": "hi there"}))).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get(&unknown).await.status(), 404);

    // Deleting: the author or an admin.
    let res = call(&app, Method::POST, &path, Some(&sam_token), Some(json!({"text": "mine"}))).await;
    let note: Value = res.json().await.unwrap();
    let note_path = format!("{path}/{}", note["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::DELETE, &note_path, Some(&kim_token), None).await.status(), 403);
    assert_eq!(call(&app, Method::DELETE, &note_path, Some(&sam_token), None).await.status(), 204);
    assert_eq!(call(&app, Method::DELETE, &note_path, Some(&sam_token), None).await.status(), 404);
    let res = call(&app, Method::POST, &path, Some(&kim_token), Some(json!({"text": "kim's"}))).await;
    let note: Value = res.json().await.unwrap();
    let note_path = format!("{path}/{}", note["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::DELETE, &note_path, Some(&app.token), None).await.status(), 204);
    // A note is found only under its own conversation.
    let other = customer_writes(&mut app, "16505550002", "Bo", "hello", 5).await;
    let res = call(&app, Method::POST, &path, Some(&kim_token), Some(json!({"text": "stays"}))).await;
    let note: Value = res.json().await.unwrap();
    let wrong = format!("/api/v1/conversations/{other}/notes/{}", note["id"].as_str().unwrap());
    assert_eq!(call(&app, Method::DELETE, &wrong, Some(&app.token), None).await.status(), 404);
    assert_eq!(app.get_json(&path).await["items"].as_array().unwrap().len(), 1);
}

async fn a_mention_is_unseen_until_the_agent_has_seen_the_conversation(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let (_, sam_token) = create_agent(&app, json!({"name": "Sam", "email": "sam@example.com"})).await;
    let (_, kim_token) = create_agent(&app, json!({"name": "Kim", "email": "kim@example.com"})).await;
    let first = customer_writes(&mut app, "16505550001", "Ana", "hola", 5).await;
    let second = customer_writes(&mut app, "16505550002", "Bo", "hello", 4).await;
    let write = |c: &str, text: &str| {
        let path = format!("/api/v1/conversations/{c}/notes");
        let body = json!({ "text": text });
        let app = &app;
        async move {
            let res = call(app, Method::POST, &path, Some(&app.token), Some(body)).await;
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.unwrap()["id"].clone()
        }
    };
    let on_first = write(&first, "@sam@example.com call her").await;
    let on_second = write(&second, "@sam@example.com @kim@example.com both of you").await;
    let get = |path: &'static str, token: String| {
        let app = &app;
        async move {
            let res = call(app, Method::GET, path, Some(&token), None).await;
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Value>().await.unwrap()
        }
    };
    let ids = |page: &Value| page["items"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect::<Vec<_>>();
    let unseen = "/api/v1/mentions?unseen=true";
    assert_eq!(ids(&get(unseen, sam_token.clone()).await), [on_second.clone(), on_first.clone()]);
    assert_eq!(get("/api/v1/conversations/counts", sam_token.clone()).await["mentions"], 2);
    assert_eq!(get("/api/v1/conversations/counts", kim_token.clone()).await["mentions"], 1);
    assert_eq!(get("/api/v1/conversations/counts", app.token.clone()).await["mentions"], 0);

    // Sam has seen the first conversation: once, and only for Sam.
    let seen = |c: &str, token: &str| {
        let path = format!("/api/v1/conversations/{c}/mentions/seen");
        let token = token.to_owned();
        let app = &app;
        async move {
            let res = call(app, Method::POST, &path, Some(&token), None).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(seen(&first, &sam_token).await, json!({"seen": 1}));
    assert_eq!(seen(&first, &sam_token).await, json!({"seen": 0}));
    assert_eq!(ids(&get(unseen, sam_token.clone()).await), std::slice::from_ref(&on_second));
    assert_eq!(ids(&get("/api/v1/mentions", sam_token.clone()).await).len(), 2, "all of them, seen or not");
    assert_eq!(ids(&get("/api/v1/mentions?unseen=false", sam_token.clone()).await).len(), 2);
    assert_eq!(get("/api/v1/conversations/counts", sam_token.clone()).await["mentions"], 1);
    assert_eq!(seen(&second, &kim_token).await, json!({"seen": 1}));
    assert_eq!(ids(&get(unseen, sam_token.clone()).await), [on_second], "Kim's seeing it is not Sam's");
    assert!(ids(&get(unseen, kim_token.clone()).await).is_empty());

    // Bad input names the field; an unknown conversation is 404.
    let res = call(&app, Method::GET, "/api/v1/mentions?unseen=maybe", Some(&sam_token), None).await;
    assert_eq!(fields(&problem(res, 422).await), ["unseen"]);
    let path = format!("/api/v1/conversations/{}/mentions/seen", uuid::Uuid::now_v7());
    let res = call(&app, Method::POST, &path, Some(&sam_token), None).await;
    assert_eq!(res.status(), 404);
}
