//! Contacts over HTTP: list and search, the CRM fields, validation, conversations.

use reqwest::Method;
use serde_json::{Map, Value, json};
use switchboard_tests::{Backend, both_backends, spawn_app};

use crate::agents::{call, fields, problem};
use crate::views::customer_writes;

both_backends!(contacts_are_listed_searched_and_edited, contact_patches_are_validated_naming_the_field);

async fn contacts_are_listed_searched_and_edited(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let first = customer_writes(&mut app, "34600111222", "José Álvarez", "hola", 30).await;
    customer_writes(&mut app, "919800012345", "प्रिया शर्मा", "नमस्ते", 20).await;
    let list = app.get_json("/api/v1/contacts").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["profile_name"], "प्रिया शर्मा", "newest first");
    let page = app.get_json("/api/v1/contacts?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get_json(&format!("/api/v1/contacts?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["wa_id"], "34600111222");
    assert!(rest["next_cursor"].is_null());
    assert_eq!(app.get_json("/api/v1/contacts?q=%C3%A1lvarez").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get_json("/api/v1/contacts?q=9800012").await["items"][0]["profile_name"], "प्रिया शर्मा");
    assert_eq!(app.get_json(&format!("/api/v1/contacts?q={}", "शर्मा")).await["items"].as_array().unwrap().len(), 1);

    let id =
        app.get_json(&format!("/api/v1/conversations/{first}")).await["contact"]["id"].as_str().unwrap().to_owned();
    let c = app.get_json(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(c["wa_id"], "34600111222");
    assert_eq!((c["name"].clone(), c["display_name"].clone()), (Value::Null, json!("José Álvarez")));
    assert_eq!(c["attributes"], json!({}));
    assert!(c["created_at"].is_string() && c["updated_at"].is_string());

    let path = format!("/api/v1/contacts/{id}");
    let res = call(
        &app,
        Method::PATCH,
        &path,
        Some(&app.token),
        Some(json!({"name": "Pepe", "attributes": {"plan": "gold", "orders": 3, "vip": true, "gone": null}})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!((c["name"].clone(), c["display_name"].clone()), (json!("Pepe"), json!("Pepe")));
    assert_eq!(c["attributes"], json!({"plan": "gold", "orders": 3, "vip": true}));
    let res =
        call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({"attributes": {"plan": null, "city": "Pune"}})))
            .await;
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["attributes"], json!({"orders": 3, "vip": true, "city": "Pune"}));
    assert_eq!(c["name"], "Pepe");
    assert_eq!(app.get_json(&path).await, c);
    // The conversation shows the name agents gave.
    assert_eq!(app.get_json(&format!("/api/v1/conversations/{first}")).await["contact"]["name"], "Pepe");
    assert_eq!(app.get_json("/api/v1/contacts?q=pepe").await["items"][0]["id"], id.as_str());
    let res = call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({"name": null}))).await;
    let c: Value = res.json().await.unwrap();
    assert_eq!((c["name"].clone(), c["display_name"].clone()), (Value::Null, json!("José Álvarez")));

    // All their conversations, newest first: resolve, and the customer writes again.
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{first}/status"),
        Some(&app.token),
        Some(json!({"status": "resolved"})),
    )
    .await;
    assert_eq!(res.status(), 200);
    let second = customer_writes(&mut app, "34600111222", "José Álvarez", "otra vez", 1).await;
    assert_ne!(second, first);
    let convs = app.get_json(&format!("{path}/conversations")).await;
    let ids: Vec<&str> = convs["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()]);
    let page = app.get_json(&format!("{path}/conversations?limit=1")).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get_json(&format!("{path}/conversations?limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], first.as_str());
    // Unknown contacts.
    for p in [format!("/api/v1/contacts/{}", uuid::Uuid::now_v7()), "/api/v1/contacts/nope".to_owned()] {
        assert_eq!(app.get(&p).await.status(), 404);
    }
}

async fn contact_patches_are_validated_naming_the_field(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let conv = customer_writes(&mut app, "16505550001", "Ana", "hola", 5).await;
    let id = app.get_json(&format!("/api/v1/conversations/{conv}")).await["contact"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/contacts/{id}");
    let long_key = "k".repeat(65);
    for (body, field) in [
        (json!({"name": 5}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"attributes": [1]}), "attributes"),
        (json!({"attributes": {long_key: 1}}), "attributes"),
        (json!({"attributes": {"": 1}}), "attributes"),
        (json!({"attributes": {"nested": {"a": 1}}}), "attributes.nested"),
        (json!({"attributes": {"list": [1, 2]}}), "attributes.list"),
        (json!({"attributes": {"long": "x".repeat(1001)}}), "attributes.long"),
        (json!({"wa_id": "1"}), "wa_id"),
    ] {
        let p = problem(call(&app, Method::PATCH, &path, Some(&app.token), Some(body.clone())).await, 422).await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    // At most 50 attributes, counted after the merge.
    let fifty: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
    let res = call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({ "attributes": fifty }))).await;
    assert_eq!(res.status(), 200);
    let p =
        problem(call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({"attributes": {"k50": 1}}))).await, 422)
            .await;
    assert_eq!(fields(&p), ["attributes"]);
    let res =
        call(&app, Method::PATCH, &path, Some(&app.token), Some(json!({"attributes": {"k50": 1, "k0": null}}))).await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["attributes"].as_object().unwrap().len(), 50);
    let res = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/contacts/{}", uuid::Uuid::now_v7()),
        Some(&app.token),
        Some(json!({})),
    )
    .await;
    assert_eq!(res.status(), 404);
    let p = problem(app.get("/api/v1/contacts?q=ab").await, 422).await;
    assert_eq!(fields(&p), ["q"]);
}
