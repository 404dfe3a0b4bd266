//! Canned replies (quick replies, auto-replies) as Graph API message bodies.

use switchboard_domain::autoreply::{self, MediaAttachment, ReplyBody};

use crate::send::{InteractiveHeader, ListRow, ListSection, MediaKind, MediaSource, OutboundBody, ReplyButton};

impl From<&ReplyBody> for OutboundBody {
    fn from(reply: &ReplyBody) -> Self {
        match reply {
            ReplyBody::Text { body } => Self::Text { body: body.clone(), preview_url: false },
            ReplyBody::Media { media, caption } => Self::Media {
                kind: kind(media.kind),
                source: source(media),
                caption: caption.clone(),
                filename: media.filename.clone(),
            },
            ReplyBody::Buttons { header, body, buttons } => Self::Buttons {
                header: header.as_ref().and_then(media_header),
                body: body.clone(),
                footer: None,
                buttons: buttons.iter().map(|b| ReplyButton { id: b.id.clone(), title: b.title.clone() }).collect(),
            },
            ReplyBody::List { body, button, sections } => Self::List {
                header: None,
                body: body.clone(),
                footer: None,
                button: button.clone(),
                sections: sections
                    .iter()
                    .map(|s| ListSection {
                        title: (!s.title.is_empty()).then(|| s.title.clone()),
                        rows: s
                            .rows
                            .iter()
                            .map(|r| ListRow {
                                id: r.id.clone(),
                                title: r.title.clone(),
                                description: r.description.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            },
        }
    }
}

const fn kind(k: autoreply::MediaKind) -> MediaKind {
    match k {
        autoreply::MediaKind::Image => MediaKind::Image,
        autoreply::MediaKind::Video => MediaKind::Video,
        autoreply::MediaKind::Document => MediaKind::Document,
        autoreply::MediaKind::Audio => MediaKind::Audio,
    }
}

/// An uploaded id wins over a link (the configuration holds exactly one).
fn source(m: &MediaAttachment) -> MediaSource {
    match (&m.id, &m.link) {
        (Some(id), _) => MediaSource::Id(id.clone()),
        (None, Some(link)) => MediaSource::Link(link.clone()),
        (None, None) => MediaSource::Link(String::new()),
    }
}

/// Buttons take an image, video or document header; an audio one is left out.
fn media_header(m: &MediaAttachment) -> Option<InteractiveHeader> {
    match m.kind {
        autoreply::MediaKind::Image => Some(InteractiveHeader::Image(source(m))),
        autoreply::MediaKind::Video => Some(InteractiveHeader::Video(source(m))),
        autoreply::MediaKind::Document => {
            Some(InteractiveHeader::Document { source: source(m), filename: m.filename.clone() })
        }
        autoreply::MediaKind::Audio => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::send::OutboundMessage;
    use switchboard_domain::WaId;
    use switchboard_domain::message::Choice;

    fn json(reply: &ReplyBody) -> serde_json::Value {
        let msg = OutboundMessage {
            to: WaId::parse("15551234567").unwrap(),
            reply_to: None,
            body: OutboundBody::from(reply),
            biz_opaque_callback_data: None,
        };
        msg.validate().unwrap();
        msg.to_json()
    }

    #[test]
    fn text_reply_is_a_text_message() {
        let v = json(&ReplyBody::Text { body: "We open at 9".into() });
        assert_eq!(v["type"], "text");
        assert_eq!(v["text"]["body"], "We open at 9");
    }

    #[test]
    fn buttons_with_an_image_header() {
        let v = json(&ReplyBody::Buttons {
            header: Some(MediaAttachment {
                kind: autoreply::MediaKind::Image,
                id: None,
                link: Some("https://example.com/a.png".into()),
                filename: None,
            }),
            body: "Pick one".into(),
            buttons: vec![Choice { id: "a".into(), title: "A".into() }, Choice { id: "b".into(), title: "B".into() }],
        });
        assert_eq!(v["type"], "interactive");
        assert_eq!(v["interactive"]["type"], "button");
        assert_eq!(v["interactive"]["header"]["type"], "image");
        assert_eq!(v["interactive"]["action"]["buttons"][1]["reply"]["id"], "b");
    }

    #[test]
    fn media_by_id_with_caption() {
        let v = json(&ReplyBody::Media {
            media: MediaAttachment {
                kind: autoreply::MediaKind::Document,
                id: Some("42".into()),
                link: None,
                filename: Some("menu.pdf".into()),
            },
            caption: Some("Our menu".into()),
        });
        assert_eq!(v["type"], "document");
        assert_eq!(v["document"]["id"], "42");
        assert_eq!(v["document"]["filename"], "menu.pdf");
        assert_eq!(v["document"]["caption"], "Our menu");
    }
}
