#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;
use switchboard_domain::DeliveryState;

use super::*;

const WAMID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";

/// A one-message delivery, shaped and escaped as Meta sends it.
fn delivery(message: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"J\u00fcrgen M\u00fcller"}},"wa_id":"16505551234"}}],"messages":[{message}]}},"field":"messages"}}]}}]}}"#
    )
}

fn messages(changes: &[Change]) -> &MessagesChange {
    match changes {
        [Change::Messages(m)] => m,
        other => panic!("expected one messages change, got {other:?}"),
    }
}

/// Parses a one-message delivery and returns that message, checking the common keys.
fn parse_one(message: &str) -> InboundMessage {
    let changes = parse_delivery(delivery(message).as_bytes()).unwrap();
    let change = messages(&changes);
    assert!(change.malformed.is_empty(), "{:?}", change.malformed);
    let [m] = change.messages.as_slice() else { panic!("expected one message") };
    assert_eq!(m.raw, serde_json::from_str::<Value>(message).unwrap());
    m.clone()
}

fn content(message: &str) -> MessageContent {
    parse_one(message).content
}

#[test]
fn text_message_decodes_escapes_and_keeps_everything() {
    let m = parse_one(
        r#"{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=","timestamp":"1749416383","text":{"body":"Gr\u00fc\u00dfe \ud83d\ude2e siehe https:\/\/example.com\/a"},"type":"text"}"#,
    );
    assert_eq!(m.wamid.as_str(), WAMID);
    assert_eq!(m.from.map(|f| f.to_string()).as_deref(), Some("16505551234"));
    assert_eq!(m.timestamp, DateTime::from_timestamp(1_749_416_383, 0).unwrap());
    assert_eq!(m.content, MessageContent::Text { body: "Grüße 😮 siehe https://example.com/a".into() });
    assert_eq!(m.context, None);
    assert_eq!(m.referral, None);
    assert!(m.errors.is_empty());
}

#[test]
fn contacts_and_metadata_are_typed() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"J\u00fcrgen","username":"@juergen"},"wa_id":"16505551234","user_id":"US.13491208655302741918","parent_user_id":"US.ENT.11815799212886844830"},{"profile":{"name":"No number"}}],"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.A","timestamp":"1749416383","text":{"body":"hi"},"type":"text"}]},"field":"messages"}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    let change = messages(&changes);
    assert_eq!(change.phone_number_id.as_str(), "106540352242922");
    assert_eq!(change.display_phone_number.as_deref(), Some("15550783881"));
    let [c] = change.contacts.as_slice() else { panic!("the contact without wa_id is skipped") };
    assert_eq!(c.wa_id.as_str(), "16505551234");
    assert_eq!(c.profile_name.as_deref(), Some("Jürgen"));
    assert_eq!(c.username.as_deref(), Some("@juergen"));
    assert_eq!(c.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(c.parent_user_id.as_deref(), Some("US.ENT.11815799212886844830"));
    assert_eq!(change.raw["contacts"][1]["profile"]["name"], "No number");
    assert_eq!(change.messages[0].from_user_id.as_deref(), Some("US.13491208655302741918"));
}

#[test]
fn image_message() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.I","timestamp":"1749416383","type":"image","image":{"caption":"Caf\u00e9 receipt","mime_type":"image\/jpeg","sha256":"rRmxL3LrwgyNNl4hvzc6nTCkNP3Iu0XxeCr5Rjdm\/sw=","id":"1003383421387256","url":"https:\/\/lookaside.fbsbx.com\/whatsapp_business\/attachments\/?mid=1003383421387256"}}"#,
    );
    let MessageContent::Image(media) = c else { panic!("{c:?}") };
    assert_eq!(media.id.as_deref(), Some("1003383421387256"));
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(media.sha256.as_deref(), Some("rRmxL3LrwgyNNl4hvzc6nTCkNP3Iu0XxeCr5Rjdm/sw="));
    assert_eq!(media.caption.as_deref(), Some("Café receipt"));
    assert_eq!(media.link, None);
}

#[test]
fn video_message() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.V","timestamp":"1749416383","type":"video","video":{"mime_type":"video\/mp4","sha256":"abc=","id":"1184430736604430"}}"#,
    );
    assert_eq!(
        c,
        MessageContent::Video(Media {
            id: Some("1184430736604430".into()),
            mime_type: Some("video/mp4".into()),
            sha256: Some("abc=".into()),
            ..Media::default()
        })
    );
}

#[test]
fn voice_note_is_audio_with_the_voice_flag() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.Au","timestamp":"1749416383","type":"audio","audio":{"mime_type":"audio\/ogg; codecs=opus","sha256":"x=","id":"1398347574529574","voice":true}}"#,
    );
    let MessageContent::Audio(media) = c else { panic!("{c:?}") };
    assert!(media.voice);
    assert_eq!(media.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
}

#[test]
fn document_message_keeps_the_filename() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.D","timestamp":"1749416383","type":"document","document":{"caption":"Rechnung","filename":"Rechnung M\u00e4rz.pdf","mime_type":"application\/pdf","sha256":"y=","id":"3959203830983440"}}"#,
    );
    let MessageContent::Document(media) = c else { panic!("{c:?}") };
    assert_eq!(media.filename.as_deref(), Some("Rechnung März.pdf"));
    assert_eq!(media.caption.as_deref(), Some("Rechnung"));
}

#[test]
fn sticker_message_keeps_the_animated_flag() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.S","timestamp":"1749416383","type":"sticker","sticker":{"mime_type":"image\/webp","sha256":"z=","id":"1228718078374584","animated":true}}"#,
    );
    let MessageContent::Sticker(media) = c else { panic!("{c:?}") };
    assert!(media.animated);
    assert!(!media.voice);
}

#[test]
fn location_message_takes_numbers_or_numeric_strings() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.L","timestamp":"1749416383","location":{"address":"1 Hacker Way, Menlo Park","latitude":37.483307,"longitude":-122.148981,"name":"Meta HQ","url":"https:\/\/www.meta.com"},"type":"location"}"#,
    );
    assert_eq!(
        c,
        MessageContent::Location {
            latitude: 37.483_307,
            longitude: -122.148_981,
            name: Some("Meta HQ".into()),
            address: Some("1 Hacker Way, Menlo Park".into()),
            url: Some("https://www.meta.com".into()),
        }
    );
    let c = content(
        r#"{"from":"16505551234","id":"wamid.L2","timestamp":"1749416383","location":{"latitude":"52.52","longitude":" 13.405 "},"type":"location"}"#,
    );
    assert_eq!(
        c,
        MessageContent::Location { latitude: 52.52, longitude: 13.405, name: None, address: None, url: None }
    );
}

#[test]
fn location_without_coordinates_is_unknown() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.L3","timestamp":"1749416383","location":{"latitude":"north"},"type":"location"}"#,
    );
    assert_eq!(c, MessageContent::Unknown { original_type: "location".into() });
}

#[test]
fn contacts_message_keeps_the_cards_as_json() {
    let c = content(
        r#"{"contacts":[{"name":{"first_name":"Bj\u00f6rn","formatted_name":"Bj\u00f6rn Borg"},"phones":[{"phone":"+46 70 123 45 67","wa_id":"46701234567","type":"CELL"}]}],"from":"16505551234","id":"wamid.C","timestamp":"1749416383","type":"contacts"}"#,
    );
    let MessageContent::Contacts { contacts } = c else { panic!("{c:?}") };
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["name"]["formatted_name"], "Björn Borg");
    assert_eq!(contacts[0]["phones"][0]["wa_id"], "46701234567");
}

#[test]
fn interactive_button_reply_with_context() {
    let m = parse_one(
        r#"{"context":{"from":"15550783881","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"},"from":"16505551234","id":"wamid.B","timestamp":"1749416383","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"change-button","title":"\u00c4ndern"}}}"#,
    );
    assert_eq!(
        m.content,
        MessageContent::Interactive(InteractiveReply::ButtonReply {
            id: "change-button".into(),
            title: "Ändern".into()
        })
    );
    let context = m.context.unwrap();
    assert_eq!(context.from.as_deref(), Some("15550783881"));
    assert_eq!(context.message_id.as_deref(), Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"));
    assert!(!context.forwarded);
}

#[test]
fn interactive_list_reply() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.LR","timestamp":"1749416383","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"priority_express","title":"Express","description":"Next day \ud83d\ude9a"}}}"#,
    );
    assert_eq!(
        c,
        MessageContent::Interactive(InteractiveReply::ListReply {
            id: "priority_express".into(),
            title: "Express".into(),
            description: Some("Next day 🚚".into()),
        })
    );
}

#[test]
fn interactive_flow_reply_keeps_the_response_json_string() {
    let c = content(
        r#"{"context":{"from":"15550783881","id":"wamid.F0"},"from":"16505551234","id":"wamid.F","timestamp":"1749416383","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"{\"flow_token\":\"unused\",\"rating\":\"5\",\"comment\":\"S\u00fcper\"}","body":"Sent","name":"flow"}}}"#,
    );
    let MessageContent::Interactive(InteractiveReply::FlowReply { name, body, response_json }) = c else {
        panic!("{c:?}")
    };
    assert_eq!(name.as_deref(), Some("flow"));
    assert_eq!(body.as_deref(), Some("Sent"));
    let response: Value = serde_json::from_str(&response_json).unwrap();
    assert_eq!(response, json!({"flow_token": "unused", "rating": "5", "comment": "Süper"}));
}

#[test]
fn interactive_of_an_unknown_subtype_is_other() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.O","timestamp":"1749416383","type":"interactive","interactive":{"type":"call_permission_reply","call_permission_reply":{"response":"accept"}}}"#,
    );
    assert_eq!(c, MessageContent::Interactive(InteractiveReply::Other { subtype: "call_permission_reply".into() }));
    // A known subtype without its object is no better.
    let c = content(
        r#"{"from":"16505551234","id":"wamid.O2","timestamp":"1749416383","type":"interactive","interactive":{"type":"button_reply"}}"#,
    );
    assert_eq!(c, MessageContent::Interactive(InteractiveReply::Other { subtype: "button_reply".into() }));
}

#[test]
fn template_quick_reply_button() {
    let m = parse_one(
        r#"{"context":{"from":"15550783881","id":"wamid.T0"},"from":"16505551234","id":"wamid.T","timestamp":"1749416383","type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"}}"#,
    );
    assert_eq!(
        m.content,
        MessageContent::Button { payload: Some("STOP_PROMOS".into()), text: "Stop promotions".into() }
    );
    assert_eq!(m.context.unwrap().replied_to().unwrap().as_str(), "wamid.T0");
}

#[test]
fn reaction_and_its_removal() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.R","timestamp":"1749416383","reaction":{"message_id":"wamid.X","emoji":"\u2764\ufe0f"},"type":"reaction"}"#,
    );
    assert_eq!(c, MessageContent::Reaction { message_id: "wamid.X".into(), emoji: Some("❤️".into()) });
    for removal in [r#"{"message_id":"wamid.X","emoji":""}"#, r#"{"message_id":"wamid.X"}"#] {
        let c = content(&format!(
            r#"{{"from":"16505551234","id":"wamid.R2","timestamp":"1749416383","reaction":{removal},"type":"reaction"}}"#
        ));
        assert_eq!(c, MessageContent::Reaction { message_id: "wamid.X".into(), emoji: None });
    }
}

#[test]
fn order_message_takes_prices_as_numbers_or_strings() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.Or","timestamp":"1749416383","type":"order","order":{"catalog_id":"194836987003835","text":"Bitte schnell \ud83d\ude4f","product_items":[{"product_retailer_id":"di9ozbzfi4","quantity":2,"item_price":30.5,"currency":"EUR"},{"product_retailer_id":"nqryix03ez","quantity":"1","item_price":"25","currency":"EUR"},{"quantity":1}]}}"#,
    );
    assert_eq!(
        c,
        MessageContent::Order {
            catalog_id: Some("194836987003835".into()),
            text: Some("Bitte schnell 🙏".into()),
            product_items: vec![
                OrderItem {
                    product_retailer_id: "di9ozbzfi4".into(),
                    quantity: 2,
                    item_price: Some(30.5),
                    currency: Some("EUR".into()),
                },
                OrderItem {
                    product_retailer_id: "nqryix03ez".into(),
                    quantity: 1,
                    item_price: Some(25.0),
                    currency: Some("EUR".into()),
                },
            ],
        }
    );
}

#[test]
fn system_number_change() {
    let c = content(
        r#"{"from":"16505551234","id":"wamid.Sy","system":{"body":"User A changed from 16505551234 to 16505559999","wa_id":"16505559999","type":"user_changed_number"},"timestamp":"1749416383","type":"system"}"#,
    );
    assert_eq!(
        c,
        MessageContent::System {
            kind: "user_changed_number".into(),
            body: Some("User A changed from 16505551234 to 16505559999".into()),
            new_wa_id: Some("16505559999".into()),
            user_id: None,
        }
    );
}

#[test]
fn system_user_id_change_has_no_sender() {
    let m = parse_one(
        r#"{"id":"wamid.Sy2","system":{"body":"User changed","user_id":"US.2","previous_user_id":"US.1","type":"user_changed_user_id"},"timestamp":"1749416383","type":"system"}"#,
    );
    assert_eq!(m.from, None);
    assert_eq!(
        m.content,
        MessageContent::System {
            kind: "user_changed_user_id".into(),
            body: Some("User changed".into()),
            new_wa_id: None,
            user_id: Some("US.2".into()),
        }
    );
}

#[test]
fn request_welcome_message() {
    let c = content(r#"{"from":"16505551234","id":"wamid.W","timestamp":"1749416383","type":"request_welcome"}"#);
    assert_eq!(c, MessageContent::RequestWelcome);
}

#[test]
fn unsupported_message_keeps_its_errors() {
    let m = parse_one(
        r#"{"from":"16505551234","id":"wamid.U","timestamp":"1749416383","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"type":"unsupported"}"#,
    );
    assert_eq!(m.content, MessageContent::Unsupported);
    assert_eq!(
        m.errors,
        vec![StatusError {
            code: 131_051,
            title: "Message type unknown".into(),
            details: Some("Message type is currently not supported.".into()),
            href: None,
        }]
    );
}

#[test]
fn unknown_type_is_kept_as_unknown() {
    let m = parse_one(
        r#"{"from":"16505551234","id":"wamid.H","timestamp":"1749416383","type":"hologram","hologram":{"frames":3}}"#,
    );
    assert_eq!(m.content, MessageContent::Unknown { original_type: "hologram".into() });
    assert_eq!(m.raw["hologram"]["frames"], 3);
}

#[test]
fn forwarded_ad_referral_and_numeric_timestamp() {
    let m = parse_one(
        r#"{"context":{"forwarded":true,"frequently_forwarded":"true"},"referral":{"source_url":"https:\/\/fb.me\/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","headline":"Gro\u00dfe Aktion","body":"Jetzt schreiben","media_type":"image","image_url":"https:\/\/scontent.xx.fbcdn.net\/v\/t45.1600-4\/1.jpg","thumbnail_url":"https:\/\/scontent.xx.fbcdn.net\/t.jpg","ctwa_clid":"Afd2cQ"},"from":16505551234,"id":"wamid.Ad","timestamp":1749416383,"text":{"body":"Hallo"},"type":"text"}"#,
    );
    assert_eq!(m.from.unwrap().as_str(), "16505551234");
    assert_eq!(m.timestamp, DateTime::from_timestamp(1_749_416_383, 0).unwrap());
    let context = m.context.unwrap();
    assert!(context.forwarded && context.frequently_forwarded);
    assert_eq!(context.message_id, None);
    let referral = m.referral.unwrap();
    assert!(referral.is_ad());
    assert_eq!(referral.source_url.as_deref(), Some("https://fb.me/3cr4Wqqkv"));
    assert_eq!(referral.headline.as_deref(), Some("Große Aktion"));
    assert_eq!(referral.image_url.as_deref(), Some("https://scontent.xx.fbcdn.net/v/t45.1600-4/1.jpg"));
    assert_eq!(referral.thumbnail_url.as_deref(), Some("https://scontent.xx.fbcdn.net/t.jpg"));
    assert_eq!(referral.ctwa_clid.as_deref(), Some("Afd2cQ"));
    assert_eq!(referral.video_url, None);
}

#[test]
fn missing_or_bad_timestamp_falls_back_to_the_epoch() {
    let m = parse_one(r#"{"from":"16505551234","id":"wamid.E","type":"text","text":{"body":"x"}}"#);
    assert_eq!(m.timestamp, DateTime::UNIX_EPOCH);
    let m = parse_one(r#"{"from":"16505551234","id":"wamid.E","timestamp":"soon","type":"text","text":{"body":"x"}}"#);
    assert_eq!(m.timestamp, DateTime::UNIX_EPOCH);
}

#[test]
fn batch_with_many_entries_changes_and_messages_keeps_order() {
    let body = r#"{"object":"whatsapp_business_account","entry":[
        {"id":"102290129340398","changes":[
            {"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
              "contacts":[{"profile":{"name":"A"},"wa_id":"16505551234"},{"profile":{"name":"B"},"wa_id":"4915112345678"}],
              "messages":[
                {"from":"16505551234","id":"wamid.1","timestamp":"1749416383","text":{"body":"one"},"type":"text"},
                {"from":"4915112345678","id":"wamid.2","timestamp":"1749416384","text":{"body":"two"},"type":"text"},
                {"from":"16505551234","id":"wamid.3","timestamp":"1749416385","reaction":{"message_id":"wamid.2","emoji":"\ud83d\udc4d"},"type":"reaction"}]},
             "field":"messages"},
            {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783882","phone_number_id":"106540352242923"},
              "statuses":[
                {"id":"wamid.out1","status":"delivered","timestamp":"1749416390","recipient_id":"16505551234"},
                {"id":"wamid.out1","status":"read","timestamp":"1749416391","recipient_id":"16505551234"}]}}]},
        {"id":"102290129340399","time":1749416400,"changes":[
            {"value":{"phone_number":"15550783881","event":"VERIFIED_ACCOUNT"},"field":"account_update"}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    assert_eq!(changes.len(), 3);
    let Change::Messages(first) = &changes[0] else { panic!("{changes:?}") };
    let ids: Vec<&str> = first.messages.iter().map(|m| m.wamid.as_str()).collect();
    assert_eq!(ids, ["wamid.1", "wamid.2", "wamid.3"]);
    assert_eq!(first.contacts.len(), 2);
    assert_eq!(
        first.messages[2].content,
        MessageContent::Reaction { message_id: "wamid.2".into(), emoji: Some("👍".into()) }
    );
    let Change::Messages(second) = &changes[1] else { panic!("{changes:?}") };
    assert_eq!(second.phone_number_id.as_str(), "106540352242923");
    let states: Vec<&str> = second.statuses.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["delivered", "read"]);
    let Change::Other(third) = &changes[2] else { panic!("{changes:?}") };
    assert_eq!(third.waba_id.as_deref(), Some("102290129340399"));
    assert_eq!(third.field, "account_update");
}

#[test]
fn failed_status_carries_its_errors() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI4QzdFNzVGNkMyQ0JBOTg4QkQA","status":"failed","timestamp":"1749416390","recipient_id":"16505551234","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https:\/\/developers.facebook.com\/docs\/whatsapp\/cloud-api\/support\/error-codes\/"}]},{"id":"wamid.P","status":"played","timestamp":"1749416391","recipient_id":"16505551234"},{"id":"wamid.Q","status":"deleted","timestamp":"1749416392","recipient_id":"16505551234"}]},"field":"messages"}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    let change = messages(&changes);
    assert!(change.messages.is_empty() && change.malformed.is_empty());
    let [failed, played, deleted] = change.statuses.as_slice() else { panic!("{:?}", change.statuses) };
    assert_eq!(failed.wamid.as_str(), "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI4QzdFNzVGNkMyQ0JBOTg4QkQA");
    assert_eq!(failed.state, StatusValue::Known(DeliveryState::Failed));
    assert_eq!(failed.timestamp, DateTime::from_timestamp(1_749_416_390, 0).unwrap());
    assert_eq!(failed.recipient_id.as_deref(), Some("16505551234"));
    assert_eq!(
        failed.errors,
        vec![StatusError {
            code: 131_047,
            title: "Re-engagement message".into(),
            details: Some(
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                    .into()
            ),
            href: Some("https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/".into()),
        }]
    );
    assert_eq!(failed.raw["errors"][0]["code"], 131_047);
    assert_eq!(played.state, StatusValue::Known(DeliveryState::Played));
    assert_eq!(deleted.state, StatusValue::Unknown("deleted".into()));
}

#[test]
fn error_title_falls_back_to_message() {
    let errors = errors(Node(Some(&json!([
        {"code": "130429", "message": "Rate limit hit"},
        {"title": "no code"},
        "not an object",
    ]))));
    assert_eq!(errors, vec![StatusError { code: 130_429, title: "Rate limit hit".into(), details: None, href: None }]);
}

#[test]
fn account_update_is_recorded_raw() {
    let body = r#"{"entry":[{"id":"102290129340398","time":1739321024,"changes":[{"value":{"phone_number":"15550783881","event":"ACCOUNT_VIOLATION","violation_info":{"violation_type":"SCAM"}},"field":"account_update"}]}],"object":"whatsapp_business_account"}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    assert_eq!(
        changes,
        vec![Change::Other(OtherChange {
            waba_id: Some("102290129340398".into()),
            field: "account_update".into(),
            value: json!({"phone_number": "15550783881", "event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}),
        })]
    );
}

#[test]
fn template_status_update_is_recorded_raw() {
    let body = r#"{"entry":[{"id":"102290129340398","time":1739321024,"changes":[{"value":{"event":"REJECTED","message_template_id":1689556908129832,"message_template_name":"r\u00fcckruf","message_template_language":"de","reason":"INCORRECT_CATEGORY"},"field":"message_template_status_update"}]}],"object":"whatsapp_business_account"}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    let [Change::Other(other)] = changes.as_slice() else { panic!("{changes:?}") };
    assert_eq!(other.field, "message_template_status_update");
    assert_eq!(other.value["message_template_name"], "rückruf");
    assert_eq!(other.value["message_template_id"], 1_689_556_908_129_832_u64);
}

#[test]
fn interactive_without_its_object_is_tolerated_with_the_change_errors() {
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Kerry"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGCA3RDZGRTUzRjEzQTg1QTg4","timestamp":"1749416383","type":"interactive"}],"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"Unsupported webhook payload"}}]},"field":"messages"}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    let change = messages(&changes);
    let [m] = change.messages.as_slice() else { panic!("{change:?}") };
    assert_eq!(m.content, MessageContent::Interactive(InteractiveReply::Other { subtype: String::new() }));
    assert_eq!(m.raw["type"], "interactive");
    assert_eq!(
        change.errors,
        vec![StatusError {
            code: 131_000,
            title: "Something went wrong".into(),
            details: Some("Unsupported webhook payload".into()),
            href: None,
        }]
    );
}

#[test]
fn messages_change_without_metadata_is_other() {
    for value in [
        r#"{"messaging_product":"whatsapp","messages":[{"from":"16505551234","id":"wamid.N","timestamp":"1","type":"text","text":{"body":"x"}}]}"#,
        r#"{"messaging_product":"whatsapp","metadata":{"phone_number_id":"not-a-number"}}"#,
        r#"[]"#,
    ] {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"value":{value},"field":"messages"}}]}}]}}"#
        );
        let changes = parse_delivery(body.as_bytes()).unwrap();
        let [Change::Other(other)] = changes.as_slice() else { panic!("{changes:?}") };
        assert_eq!(other.field, "messages");
        assert_eq!(other.waba_id.as_deref(), Some("1"));
        assert_eq!(other.value, serde_json::from_str::<Value>(value).unwrap());
    }
}

#[test]
fn numeric_phone_number_id_is_accepted() {
    let body = r#"{"entry":[{"id":102290129340398,"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":106540352242922}}}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    assert_eq!(messages(&changes).phone_number_id.as_str(), "106540352242922");
}

#[test]
fn broken_items_are_kept_as_malformed() {
    let body = r#"{"entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},
        "messages":[{"from":"16505551234","timestamp":"1","type":"text","text":{"body":"no id"}},"just a string",{"id":"","type":"text"},{"id":"wamid.ok","type":"text","text":{"body":"ok"}}],
        "statuses":[{"status":"read"},7,{"id":"wamid.s"}]}}]}]}"#;
    let changes = parse_delivery(body.as_bytes()).unwrap();
    let change = messages(&changes);
    assert_eq!(change.messages.len(), 1);
    assert_eq!(change.messages[0].content, MessageContent::Text { body: "ok".into() });
    let [status] = change.statuses.as_slice() else { panic!("{:?}", change.statuses) };
    assert_eq!(status.state, StatusValue::Unknown(String::new()));
    assert_eq!(status.timestamp, DateTime::UNIX_EPOCH);
    assert_eq!(change.malformed.len(), 5);
    assert_eq!(change.malformed[1], json!("just a string"));
    assert_eq!(change.malformed[4], json!(7));
}

#[test]
fn envelope_errors() {
    assert!(matches!(parse_delivery(b""), Err(ParseError::NotJson(_))));
    assert!(matches!(parse_delivery(b"{\"entry\":["), Err(ParseError::NotJson(_))));
    for body in [&b"[]"[..], b"null", b"{}", b"{\"entry\":{}}", b"{\"entry\":\"x\"}"] {
        assert!(matches!(parse_delivery(body), Err(ParseError::NotAnEnvelope)), "{body:?}");
    }
    assert_eq!(parse_delivery(br#"{"entry":[]}"#).unwrap(), vec![]);
    // Entries and changes that are not objects carry nothing to attribute.
    assert_eq!(parse_delivery(br#"{"entry":[1,{"changes":"x"},{"changes":[null]}]}"#).unwrap(), vec![]);
}

// ---- never panic, whatever arrives -------------------------------------------------------

const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "messages",
    "statuses",
    "contacts",
    "metadata",
    "phone_number_id",
    "display_phone_number",
    "wa_id",
    "profile",
    "name",
    "type",
    "from",
    "timestamp",
    "text",
    "body",
    "image",
    "audio",
    "voice",
    "caption",
    "location",
    "latitude",
    "longitude",
    "interactive",
    "button_reply",
    "list_reply",
    "nfm_reply",
    "response_json",
    "title",
    "button",
    "payload",
    "reaction",
    "message_id",
    "emoji",
    "order",
    "product_items",
    "quantity",
    "item_price",
    "product_retailer_id",
    "system",
    "context",
    "forwarded",
    "referral",
    "errors",
    "code",
    "error_data",
    "details",
    "status",
    "recipient_id",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(KEYS).prop_map(Value::from),
        "[0-9]{0,25}".prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }),
        ]
    })
}

fn fixtures() -> Vec<String> {
    vec![
        delivery(
            r#"{"context":{"from":"1","id":"wamid.0","forwarded":true},"referral":{"source_type":"ad"},"from":"16505551234","id":"wamid.1","timestamp":"1749416383","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"{}","body":"Sent","name":"flow"}}}"#,
        ),
        delivery(
            r#"{"from":"16505551234","id":"wamid.2","timestamp":"1","type":"order","order":{"product_items":[{"product_retailer_id":"a","quantity":"2","item_price":"1.5"}]},"errors":[{"code":1,"title":"t"}]}"#,
        ),
        delivery(r#"{"from":"16505551234","id":"wamid.3","timestamp":"1","location":{"latitude":1,"longitude":2},"type":"location"}"#),
        r#"{"entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"statuses":[{"id":"wamid.s","status":"failed","timestamp":"1","errors":[{"code":131047,"error_data":{"details":"d"}}]}]}}]}]}"#.to_owned(),
    ]
}

/// Replaces the `n`th node (pre-order) of `v` with `new`; `n` counts down as nodes pass.
fn replace_nth(v: &mut Value, n: &mut usize, new: &Value) {
    if *n == 0 {
        *v = new.clone();
        *n = usize::MAX;
        return;
    }
    *n -= 1;
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| replace_nth(i, n, new)),
        Value::Object(map) => map.values_mut().for_each(|i| replace_nth(i, n, new)),
        _ => {}
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_delivery(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = parse_delivery(v.to_string().as_bytes());
    }

    #[test]
    fn every_message_and_status_item_is_typed_or_kept_malformed(
        message in arb_json(), status in arb_json(), contact in arb_json(), error in arb_json(),
    ) {
        let value = json!({
            "metadata": {"phone_number_id": "106540352242922"},
            "messages": [message], "statuses": [status], "contacts": [contact], "errors": [error],
        });
        let body = json!({"entry": [{"changes": [{"field": "messages", "value": value}]}]}).to_string();
        let changes = parse_delivery(body.as_bytes()).unwrap();
        let [Change::Messages(change)] = changes.as_slice() else { panic!("{changes:?}") };
        prop_assert_eq!(change.messages.len() + change.statuses.len() + change.malformed.len(), 2);
        // Compare with the body re-read: serde_json's default float parsing may not round-trip.
        let sent: Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(&change.raw, &sent["entry"][0]["changes"][0]["value"]);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0..4_usize, at in 0..200_usize, new in arb_json()) {
        let mut v: Value = serde_json::from_str(&fixtures()[which]).unwrap();
        let mut n = at;
        replace_nth(&mut v, &mut n, &new);
        let _ = parse_delivery(v.to_string().as_bytes());
    }

    #[test]
    fn byte_flipped_fixtures_never_panic(which in 0..4_usize, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut body = fixtures()[which].clone().into_bytes();
        for (at, byte) in flips {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = parse_delivery(&body);
    }
}

#[test]
fn the_delivery_time_is_the_first_timestamp_in_the_body() {
    let body = delivery(
        r#"{"from":"16505551234","id":"wamid.A","timestamp":"1700000123","type":"text","text":{"body":"hi \"timestamp\":\"5\""}}"#,
    );
    assert_eq!(delivery_time(body.as_bytes()), 1_700_000_123);
    // Statuses carry one too.
    assert_eq!(
        delivery_time(br#"{"statuses":[{"id":"wamid.B","status":"sent","timestamp":"1700000200"}]}"#),
        1_700_000_200
    );
    // None, an empty one, or one that is not digits: 0.
    assert_eq!(delivery_time(br#"{"entry":[]}"#), 0);
    assert_eq!(delivery_time(br#"{"timestamp":""}"#), 0);
    assert_eq!(delivery_time(br#"{"timestamp":"soon","x":{"timestamp":"7"}}"#), 0);
    // Digits up to the first non-digit, at most 18 of them (an i64 holds them all).
    assert_eq!(delivery_time(br#"{"timestamp":"12.5"}"#), 12);
    assert_eq!(delivery_time(br#"{"timestamp":"99999999999999999999999"}"#), 999_999_999_999_999_999);
    // The scan stops at the end of the body.
    assert_eq!(delivery_time(br#"{"timestamp":"42"#), 42);
}

proptest! {
    /// Any bytes at all: a value in range, never a panic.
    #[test]
    fn the_delivery_time_of_any_bytes_is_in_range(body in proptest::collection::vec(any::<u8>(), 0..200), n in 0u64..1_000_000_000_000) {
        let t = delivery_time(&body);
        prop_assert!((0..1_000_000_000_000_000_000).contains(&t));
        let with = [&body[..], format!(r#""timestamp":"{n}""#).as_bytes()].concat();
        // Appended after the body, it is found unless the body already holds a key.
        if memchr::memmem::find(&with, br#""timestamp":""#) == Some(body.len()) {
            prop_assert_eq!(delivery_time(&with), i64::try_from(n).unwrap());
        }
    }
}
