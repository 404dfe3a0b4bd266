//! The console's template picker (`/c/{id}`, `GET /c/{id}/template-fields`,
//! `POST /c/{id}/template`): the channel's approved templates, exactly the inputs each
//! needs, pre-filled from the contact, sent through the REST reply's checks.

use serde_json::{Value, json};
use switchboard_tests::payloads::sample_templates;
use switchboard_tests::{Backend, TestApp, both_backends, spawn_app};

use crate::console_conversation::form_body;
use crate::views::customer_writes;

both_backends!(
    the_picker_lists_approved_templates_and_asks_for_exactly_their_variables_pre_filled,
    a_picked_template_is_checked_named_and_sent_and_refusals_name_the_inputs,
);

const FROM: &str = "16505550301";
const WABA: &str = "102290129340398";

async fn html(app: &TestApp, path: &str) -> (u16, String) {
    let res = app.client.get(app.url(path)).bearer_auth(&app.token).header("HX-Request", "true").send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.token)
        .header("HX-Request", "true")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// A conversation whose window closed (the customer wrote 30 hours ago), with a contact
/// named Ana López with the attribute `order_id`.
async fn closed_conversation(app: &mut TestApp) -> String {
    let id = customer_writes(app, FROM, "Ana López", "where is my order?", 30 * 60).await;
    let contact =
        app.get_json(&format!("/api/v1/conversations/{id}")).await["contact"]["id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/contacts/{contact}")))
        .bearer_auth(&app.token)
        .json(&json!({"attributes": {"order_id": "A-17"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    id
}

fn input_value<'a>(html: &'a str, name: &str) -> &'a str {
    let at = html.find(&format!(r#"name="{name}""#)).unwrap_or_else(|| panic!("no input {name} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    &rest[v..v + rest[v..].find('"').unwrap()]
}

async fn the_picker_lists_approved_templates_and_asks_for_exactly_their_variables_pre_filled(backend: Backend) {
    let mut app = spawn_app(backend).await;
    // Without synchronised templates: the form by hand.
    let id = closed_conversation(&mut app).await;
    let (_, page) = html(&app, &format!("/c/{id}")).await;
    assert!(page.contains(r#"id="template-name""#) && !page.contains(r#"id="template-choice""#));
    app.sync_templates(WABA, sample_templates()).await;

    // The window closed: the picker is open and marked, listing the approved templates only.
    let (status, page) = html(&app, &format!("/c/{id}")).await;
    assert_eq!(status, 200);
    let box_at = page.find(r#"<details id="template-box""#).unwrap();
    let head = &page[box_at..box_at + 120];
    assert!(head.contains("prominent") && head.contains(" open"), "{head}");
    assert!(page.contains(r#"<label for="template-choice">Template</label>"#));
    for key in ["order_named:en_US", "welcome:en_US", "promo:en_US", "thanks:es"] {
        assert!(page.contains(&format!(r#"<option value="{key}">"#)), "{key} is offered");
    }
    assert!(!page.contains("otp:en_US"), "a rejected template is not offered");
    assert!(!page.contains(r#"id="template-name""#), "no hand form beside the picker");

    // Named variables, a text header and a URL button: each one input, labelled, pre-filled
    // from the contact where it maps (first name, attribute), Meta's example as a hint.
    let (status, fields) = html(&app, &format!("/c/{id}/template-fields?template=order_named:en_US")).await;
    assert_eq!(status, 200, "{fields}");
    assert_eq!(fields.matches("<input id=\"tpl-input-").count(), 5, "header, three body variables, the button");
    assert_eq!(input_value(&fields, "name"), "order_named");
    assert_eq!(input_value(&fields, "language"), "en_US");
    assert_eq!(input_value(&fields, "header"), "A-17");
    assert_eq!(input_value(&fields, "parameters[0]"), "Ana");
    assert_eq!(input_value(&fields, "parameters[1]"), "A-17");
    assert_eq!(input_value(&fields, "parameters[2]"), "");
    assert_eq!(input_value(&fields, "url_buttons[0]"), "");
    assert!(fields.contains(r#"placeholder="e.g. Monday""#), "{fields}");
    assert!(fields.contains("Filled in from the contact&#39;s first name."), "{fields}");
    assert!(fields.contains("Filled in from the contact&#39;s attribute order_id."), "{fields}");
    assert!(fields.contains(r#"<label for="tpl-input-1">Body {{first_name}}</label>"#), "{fields}");
    assert!(fields.contains("Hi {{first_name}}, order {{order_id}} ships on {{day}}."));
    assert!(fields.contains(r#"data-error-for="parameters[2]""#));
    // A positional variable whose example is `name`: the contact's name.
    let (_, fields) = html(&app, &format!("/c/{id}/template-fields?template=welcome:en_US")).await;
    assert_eq!(input_value(&fields, "parameters[0]"), "Ana López");
    // A media header: its link; no variables: nothing to fill.
    let (_, fields) = html(&app, &format!("/c/{id}/template-fields?template=promo:en_US")).await;
    assert!(fields.contains(r#"name="header_media" type="url""#), "{fields}");
    assert_eq!(input_value(&fields, "header_media_type"), "image");
    let (_, fields) = html(&app, &format!("/c/{id}/template-fields?template=thanks:es")).await;
    assert!(fields.contains("This template needs no values.") && !fields.contains("tpl-input-"));
    // No choice: nothing; a template the channel does not have approved: 422 naming it.
    let (status, fields) = html(&app, &format!("/c/{id}/template-fields?template=")).await;
    assert_eq!((status, fields.as_str()), (200, ""));
    let (status, body) = html(&app, &format!("/c/{id}/template-fields?template=otp:en_US")).await;
    assert_eq!(status, 422);
    assert!(body.contains(r#"data-field="template""#));

    // While the window is open the picker is there, closed.
    let open = customer_writes(&mut app, "16505550302", "Bo", "hi", 1).await;
    let (_, page) = html(&app, &format!("/c/{open}")).await;
    let box_at = page.find(r#"<details id="template-box""#).unwrap();
    let head = &page[box_at..page[box_at..].find('>').unwrap() + box_at];
    assert!(!head.contains("open") && !head.contains("prominent"), "{head}");
}

fn fields(html: &str) -> Vec<String> {
    html.split(r#"<li data-field=""#).skip(1).map(|s| s[..s.find('"').unwrap()].to_owned()).collect()
}

async fn a_picked_template_is_checked_named_and_sent_and_refusals_name_the_inputs(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.sync_templates(WABA, sample_templates()).await;
    let id = closed_conversation(&mut app).await;
    let path = format!("/c/{id}/template");
    let order = |day: &'static str, button: &'static str| {
        vec![
            ("key", "k-1"),
            ("template", "order_named:en_US"),
            ("name", "order_named"),
            ("language", "en_US"),
            ("header", "A-17"),
            ("parameters[0]", "Ana"),
            ("parameters[1]", "A-17"),
            ("parameters[2]", day),
            ("url_buttons[0]", button),
        ]
    };
    // Empty inputs are refused, each named as the REST reply names it; nothing queued.
    let (status, body) = post(&app, &path, &order("", " ")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["url_buttons[0]", "parameters[2]"]);
    let mut no_header = order("Monday", "A-17");
    no_header[4] = ("header", " ");
    let (status, body) = post(&app, &path, &no_header).await;
    assert_eq!((status, fields(&body)), (422, vec!["header".to_owned()]), "{body}");
    assert!(body.contains("must not be empty"), "{body}");
    let (status, body) = post(
        &app,
        &path,
        &[("name", "promo"), ("language", "en_US"), ("header_media_type", "image"), ("header_media", "")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["header_media"]);
    let (status, body) = post(
        &app,
        &path,
        &[("name", "promo"), ("language", "en_US"), ("header_media_type", "image"), ("header_media", "not a link")],
    )
    .await;
    assert_eq!((status, fields(&body)), (422, vec!["header_media".to_owned()]), "{body}");
    let (status, body) =
        post(&app, &path, &[("name", "order_named"), ("language", "en_US"), ("parameters[1]", "x")]).await;
    assert_eq!((status, fields(&body)), (422, vec!["parameters[1]".to_owned()]), "numbered from 0: {body}");
    assert!(app.messages(&id).await.iter().all(|m| m["direction"] == "inbound"), "nothing queued");

    // Filled in: sent, its named variables named for Meta.
    let (status, body) = post(&app, &path, &order("Monday", "A-17")).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = post(
        &app,
        &path,
        &[
            ("key", "k-2"),
            ("name", "promo"),
            ("language", "en_US"),
            ("header_media_type", "image"),
            ("header_media", "https://acme.example/sale.png"),
        ],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    app.send().await;
    let sent = app.graph.sent().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let t = &sent[0]["template"];
    assert_eq!(t["name"], "order_named");
    let components = t["components"].as_array().unwrap();
    let of = |kind: &str| components.iter().find(|c| c["type"] == kind).unwrap().clone();
    assert_eq!(of("header")["parameters"][0], json!({"type": "text", "text": "A-17", "parameter_name": "order_id"}));
    assert_eq!(
        of("body")["parameters"],
        json!([{"type": "text", "text": "Ana", "parameter_name": "first_name"},
               {"type": "text", "text": "A-17", "parameter_name": "order_id"},
               {"type": "text", "text": "Monday", "parameter_name": "day"}])
    );
    assert_eq!(of("button")["parameters"][0]["text"], "A-17");
    assert_eq!(sent[1]["template"]["components"][0]["parameters"][0]["image"]["link"], "https://acme.example/sale.png");
    let out: Vec<Value> = app.messages(&id).await.into_iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(out[0]["content"]["parameters"], json!(["Ana", "A-17", "Monday"]));
}
