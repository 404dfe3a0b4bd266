//! `GET /api/v1/channels`: the WhatsApp numbers connected to Switchboard (every agent
//! reads them; admins need their ids to configure auto-replies, links and routing).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_domain::{ChannelId, PhoneNumberId};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::AuthenticatedAgent;
use crate::error::ApiError;

routes! {
    "/channels" => { get: list },
}

/// A connected WhatsApp number.
#[derive(Serialize, ToSchema)]
#[schema(as = Channel)]
struct ChannelJson {
    id: ChannelId,
    /// The Graph API id of the number (digits).
    phone_number_id: PhoneNumberId,
    name: String,
}

#[derive(Serialize, ToSchema)]
struct ChannelList {
    items: Vec<ChannelJson>,
}

/// The connected WhatsApp numbers (any agent).
#[utoipa::path(get, path = "/channels", responses((status = 200, body = ChannelList)))]
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
