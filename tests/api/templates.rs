//! Message templates: synchronised from Meta with paging, kept current by template
//! webhooks, listed with what each needs, and sends checked against them.

use serde_json::{Value, json};
use switchboard_tests::payloads::{meta_bytes, text_delivery};
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

const WABA: &str = "102290129340398";

fn definitions() -> Vec<Value> {
    vec![
        json!({"id": "1001", "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way."},
                              {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://acme.example/t/{{1}}"}]}]}),
        json!({"id": "1002", "name": "promo", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
               "quality_score": {"score": "GREEN"},
               "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Sale this week!"}]}),
        json!({"id": "1003", "name": "welcome", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Welcome {{1}}"}]}),
        json!({"id": "1004", "name": "welcome", "language": "es", "status": "APPROVED", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Bienvenido {{1}}"}]}),
        json!({"id": "1005", "name": "otp", "language": "en_US", "status": "REJECTED", "category": "AUTHENTICATION",
               "components": [{"type": "BODY", "text": "{{1}} is your code."}]}),
    ]
}

/// The configured channel, with its WhatsApp Business Account and templates synchronised.
async fn synced(app: &TestApp) -> String {
    let list = app.get_json("/api/v1/channels").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/admin/channels/{id}")))
        .bearer_auth(&app.token)
        .json(&json!({"waba_id": WABA}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.graph.templates(WABA, definitions(), 2).await;
    let res = app.post_json(&format!("/api/v1/admin/channels/{id}/templates/sync"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let synced: Value = res.json().await.unwrap();
    assert_eq!(synced["templates"], 5, "every page was read");
    id
}

async fn templates_are_synchronised_with_paging_and_list_what_they_need(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = synced(&app).await;
    assert_eq!(app.graph.requests_to(&format!("/v25.0/{WABA}/message_templates")).await, 3, "three pages of two");
    let list = app.get_json(&format!("/api/v1/channels/{id}/templates")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let order = items.iter().find(|t| t["name"] == "order_update").unwrap();
    assert_eq!(order["language"], "en_US");
    assert_eq!(order["category"], "UTILITY");
    assert_eq!(order["status"], "APPROVED");
    assert_eq!(order["needs"]["body"], json!(["1", "2"]));
    assert_eq!(order["needs"]["buttons"][0]["type"], "url");
    assert_eq!(order["needs"]["buttons"][0]["variables"], json!(["1"]));
    let promo = items.iter().find(|t| t["name"] == "promo").unwrap();
    assert_eq!(promo["needs"]["header"]["format"], "image");
    assert_eq!(promo["quality"], "GREEN");

    // Synchronising again replaces them: a template Meta no longer has is gone.
    app.graph.templates(WABA, definitions()[..1].to_vec(), 2).await;
    let res = app.post_json(&format!("/api/v1/admin/channels/{id}/templates/sync"), &json!({})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["templates"], 1);
    let unknown = app.get(&format!("/api/v1/channels/{}/templates", uuid::Uuid::now_v7())).await;
    assert_eq!(unknown.status(), 404);
}

async fn template_webhooks_update_status_quality_and_category(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let id = synced(&app).await;
    let change = |field: &str, value: Value| {
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": WABA, "time": 1_767_225_600, "changes": [{"field": field, "value": value}]}]})
    };
    let deliveries = [
        change(
            "message_template_status_update",
            json!({"event": "PAUSED", "message_template_id": 1003,
            "message_template_name": "welcome", "message_template_language": "en_US", "reason": "NONE"}),
        ),
        change(
            "message_template_quality_update",
            json!({"previous_quality_score": "GREEN", "new_quality_score": "YELLOW",
            "message_template_id": 1002, "message_template_name": "promo", "message_template_language": "en_US"}),
        ),
        change(
            "template_category_update",
            json!({"previous_category": "UTILITY", "new_category": "MARKETING",
            "message_template_id": 1001, "message_template_name": "order_update", "message_template_language": "en_US"}),
        ),
    ];
    for d in &deliveries {
        assert_eq!(app.post_webhook(meta_bytes(d)).await.status(), 200);
    }
    app.ingest().await;
    let list = app.get_json(&format!("/api/v1/channels/{id}/templates")).await;
    let find = |name: &str, lang: &str| {
        list["items"].as_array().unwrap().iter().find(|t| t["name"] == name && t["language"] == lang).unwrap().clone()
    };
    assert_eq!(find("welcome", "en_US")["status"], "PAUSED");
    assert_eq!(find("welcome", "es")["status"], "APPROVED", "only that language");
    assert_eq!(find("promo", "en_US")["quality"], "YELLOW");
    assert_eq!(find("order_update", "en_US")["category"], "MARKETING");
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

async fn template_sends_are_checked_against_the_synchronised_definition(backend: Backend) {
    let mut app = spawn_app(backend).await;
    synced(&app).await;
    assert_eq!(app.post_webhook(meta_bytes(&text_delivery("wamid.t1", "16505550142", "hi"))).await.status(), 200);
    app.ingest().await;
    let conv = app.conversations().await[0]["id"].as_str().unwrap().to_owned();
    let send = |body: Value| {
        let app = &app;
        let conv = conv.clone();
        async move {
            let res = app.post_json(&format!("/api/v1/conversations/{conv}/messages"), &body).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let template = |extra: Value| {
        let mut body = json!({"type": "template", "name": "order_update", "language": "en_US"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    let (status, p) = send(template(json!({"name": "nope"}))).await;
    assert_eq!((status, fields(&p)), (422, vec!["name".to_owned()]), "{p}");
    let (status, p) = send(template(json!({"name": "welcome", "language": "fr", "parameters": ["Kim"]}))).await;
    assert_eq!((status, fields(&p)), (422, vec!["language".to_owned()]), "{p}");
    let (status, p) = send(template(json!({"name": "otp", "parameters": ["123456"]}))).await;
    assert_eq!((status, fields(&p)), (422, vec!["name".to_owned()]), "a rejected template: {p}");
    let (status, p) = send(template(json!({"parameters": ["Kim"]}))).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&p), ["parameters", "url_buttons[0]"], "{p}");
    let (status, p) = send(json!({"type": "template", "name": "promo", "language": "en_US"})).await;
    assert_eq!((status, fields(&p)), (422, vec!["header_media".to_owned()]), "{p}");
    let (status, p) = send(json!({"type": "template", "name": "promo", "language": "en_US",
        "header_media": {"type": "video", "link": "https://acme.example/v.mp4"}}))
    .await;
    assert_eq!((status, fields(&p)), (422, vec!["header_media".to_owned()]), "the wrong media type: {p}");
    let (status, p) = send(template(json!({"parameters": ["Kim", "A-1"], "button_payloads": ["x"],
        "url_buttons": [{"index": 0, "text": "A-1"}]})))
    .await;
    assert_eq!(
        (status, fields(&p)),
        (422, vec!["button_payloads[0]".to_owned()]),
        "a URL button takes no payload: {p}"
    );
    assert_eq!(app.graph.sent().await.len(), 0, "nothing invalid was queued");

    let (status, p) =
        send(template(json!({"parameters": ["Kim", "A-1"], "url_buttons": [{"index": 0, "text": "A-1"}]}))).await;
    assert_eq!(status, 202, "{p}");
    let (status, p) = send(json!({"type": "template", "name": "promo", "language": "en_US",
        "header_media": {"type": "image", "link": "https://acme.example/sale.png"}}))
    .await;
    assert_eq!(status, 202, "{p}");
    app.send().await;
    let sent = app.graph.sent().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["template"]["name"], "order_update");
    let components = sent[0]["template"]["components"].as_array().unwrap();
    assert!(components.iter().any(|c| c["type"] == "button" && c["sub_type"] == "url"), "{components:?}");
}

both_backends!(
    templates_are_synchronised_with_paging_and_list_what_they_need,
    template_webhooks_update_status_quality_and_category,
    template_sends_are_checked_against_the_synchronised_definition,
);
