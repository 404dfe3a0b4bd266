//! `GET /api/v1/channels`.

use serde_json::Value;
use switchboard_tests::{Backend, PHONE_NUMBER_ID, both_backends, spawn_app};

async fn the_configured_number_is_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let list: Value = app.get_json("/api/v1/channels").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["phone_number_id"], PHONE_NUMBER_ID);
    assert!(items[0]["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

    let anonymous = app.client.get(app.url("/api/v1/channels")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

both_backends!(the_configured_number_is_listed);
