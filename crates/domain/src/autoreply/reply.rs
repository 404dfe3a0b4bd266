//! Ready-to-send reply bodies: variables filled, within Meta's limits.

use serde::{Deserialize, Serialize};

use crate::message::{Choice, Media, MessageContent};

use super::config::{ListSection, MediaAttachment, MediaKind};

/// Meta's limit for a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Meta's limit for a media caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Meta's limit for the body of a reply-buttons message.
pub const MAX_BUTTONS_BODY_CHARS: usize = 1024;
/// Meta's limit for the body of a list message.
pub const MAX_LIST_BODY_CHARS: usize = 4096;
/// At most this many reply buttons.
pub const MAX_BUTTONS: usize = 3;
/// A reply button's title.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// A reply button's id.
pub const MAX_BUTTON_ID_CHARS: usize = 256;
/// A list's button label.
pub const MAX_LIST_BUTTON_CHARS: usize = 20;
/// At most this many sections, and rows across all sections.
pub const MAX_LIST_SECTIONS: usize = 10;
pub const MAX_LIST_ROWS: usize = 10;
/// A list row's id, title and description; a section's title.
pub const MAX_ROW_ID_CHARS: usize = 200;
pub const MAX_ROW_TITLE_CHARS: usize = 24;
pub const MAX_ROW_DESCRIPTION_CHARS: usize = 72;
pub const MAX_SECTION_TITLE_CHARS: usize = 24;

/// One message to send, as the Graph API needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyBody {
    /// A text message.
    Text { body: String },
    /// An image, video, document or audio, with an optional caption (not for audio).
    Media {
        media: MediaAttachment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
    /// Reply buttons under a body, optionally with a media header (image, video, document).
    Buttons {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<MediaAttachment>,
        body: String,
        buttons: Vec<Choice>,
    },
    /// A list: a body, the label of the button that opens it, and its sections.
    List { body: String, button: String, sections: Vec<ListSection> },
}

impl ReplyBody {
    /// The message as stored on the conversation (what agents see in the timeline).
    #[must_use]
    pub fn to_content(&self) -> MessageContent {
        match self {
            Self::Text { body } => MessageContent::Text { body: body.clone() },
            Self::Media { media, caption } => {
                let m = Media {
                    id: media.id.clone(),
                    link: media.link.clone(),
                    caption: caption.clone(),
                    filename: media.filename.clone(),
                    ..Media::default()
                };
                match media.kind {
                    MediaKind::Image => MessageContent::Image(m),
                    MediaKind::Video => MessageContent::Video(m),
                    MediaKind::Document => MessageContent::Document(m),
                    MediaKind::Audio => MessageContent::Audio(m),
                }
            }
            Self::Buttons { body, buttons, .. } => MessageContent::InteractiveMessage {
                style: "button".to_owned(),
                body: body.clone(),
                options: buttons.clone(),
            },
            Self::List { body, sections, .. } => MessageContent::InteractiveMessage {
                style: "list".to_owned(),
                body: body.clone(),
                options: sections
                    .iter()
                    .flat_map(|s| s.rows.iter().map(|r| Choice { id: r.id.clone(), title: r.title.clone() }))
                    .collect(),
            },
        }
    }
}

/// `s` cut to at most `max` characters (rendered variables can make a text longer than
/// its template; Meta would refuse it).
pub(crate) fn clip(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}
