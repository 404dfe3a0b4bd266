//! `GET /api/v1/channels`: the WhatsApp numbers connected to Switchboard (every agent
//! reads them; admins need their ids to configure auto-replies, links and routing).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_domain::{ChannelId, PhoneNumberId};

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;

// Until this module is described: the routes! table replaces these three.
pub const ROUTES: &[(&str, &str)] = &[];
pub fn openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApi::default()
}
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/channels").route(web::get().to(list)));
}

#[derive(Serialize)]
struct ChannelJson {
    id: ChannelId,
    phone_number_id: PhoneNumberId,
    name: String,
}

#[derive(Serialize)]
struct ChannelList {
    items: Vec<ChannelJson>,
}

async fn list(_agent: AuthenticatedAgent, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state
        .store
        .channels()
        .await?
        .into_iter()
        .map(|c| ChannelJson { id: c.id, phone_number_id: c.phone_number_id, name: c.name })
        .collect();
    Ok(HttpResponse::Ok().json(ChannelList { items }))
}
