//! A file an agent sends: which kind of WhatsApp message it makes, by its media type, and
//! whether Meta takes it at its size (cloudapi.md §7, "Supported types and sizes").

use std::fmt;

/// The WhatsApp message a file is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl AttachmentKind {
    /// The largest file Meta takes of this kind, in bytes. Stickers: animated ones may
    /// weigh 500 KB; a static one over 100 KB is refused by Meta when it is sent.
    #[must_use]
    pub const fn max_bytes(self) -> u64 {
        match self {
            Self::Image => 5 * MB,
            Self::Video | Self::Audio => 16 * MB,
            Self::Document => 100 * MB,
            Self::Sticker => 500 * KB,
        }
    }

    /// What the limits say of it, for people.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Image => "images (JPEG, PNG) up to 5 MB",
            Self::Video => "videos (MP4, 3GPP) up to 16 MB",
            Self::Audio => "audio (AAC, AMR, MP3, M4A, OGG Opus) up to 16 MB",
            Self::Document => "documents (PDF, TXT, Word, Excel, PowerPoint) up to 100 MB",
            Self::Sticker => "stickers (WebP) up to 500 KB",
        }
    }

    /// The kind a media type makes (parameters such as `; charset=utf-8` ignored), if
    /// WhatsApp takes it.
    #[must_use]
    pub fn of_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        TYPES.iter().find(|(t, _)| *t == essence).map(|(_, kind)| *kind)
    }
}

const KB: u64 = 1024;
const MB: u64 = 1024 * KB;

/// Every media type WhatsApp takes from a business, and what it becomes.
const TYPES: &[(&str, AttachmentKind)] = &[
    ("image/jpeg", AttachmentKind::Image),
    ("image/png", AttachmentKind::Image),
    ("video/mp4", AttachmentKind::Video),
    ("video/3gpp", AttachmentKind::Video),
    ("audio/aac", AttachmentKind::Audio),
    ("audio/amr", AttachmentKind::Audio),
    ("audio/mpeg", AttachmentKind::Audio),
    ("audio/mp4", AttachmentKind::Audio),
    ("audio/ogg", AttachmentKind::Audio),
    ("text/plain", AttachmentKind::Document),
    ("application/pdf", AttachmentKind::Document),
    ("application/msword", AttachmentKind::Document),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", AttachmentKind::Document),
    ("application/vnd.ms-excel", AttachmentKind::Document),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", AttachmentKind::Document),
    ("application/vnd.ms-powerpoint", AttachmentKind::Document),
    ("application/vnd.openxmlformats-officedocument.presentationml.presentation", AttachmentKind::Document),
    ("image/webp", AttachmentKind::Sticker),
];

/// A file WhatsApp takes: its kind, media type (without parameters), size and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    kind: AttachmentKind,
    media_type: String,
    size: u64,
    filename: Option<String>,
}

/// Why WhatsApp would not take a file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("WhatsApp does not take files of type {media_type:?}; it takes {}", supported())]
    UnsupportedType { media_type: String },
    #[error("the file is empty")]
    Empty,
    #[error("the file weighs {size} bytes; WhatsApp takes {}", kind.describe())]
    TooLarge { kind: AttachmentKind, size: u64 },
    #[error("the file name must be 1 to {MAX_FILENAME} characters, without control characters")]
    Filename,
}

/// The longest file name kept.
pub const MAX_FILENAME: usize = 240;

fn supported() -> String {
    [
        AttachmentKind::Image,
        AttachmentKind::Video,
        AttachmentKind::Audio,
        AttachmentKind::Document,
        AttachmentKind::Sticker,
    ]
    .map(AttachmentKind::describe)
    .join("; ")
}

impl Attachment {
    /// A file of `media_type` weighing `size` bytes, named `filename` (documents show it).
    ///
    /// # Errors
    /// A type WhatsApp does not take, an empty file, one over its kind's limit, or a name
    /// that is empty, too long or has control characters.
    pub fn parse(media_type: &str, size: u64, filename: Option<&str>) -> Result<Self, AttachmentError> {
        let kind = AttachmentKind::of_media_type(media_type)
            .ok_or_else(|| AttachmentError::UnsupportedType { media_type: media_type.to_owned() })?;
        let filename = match filename.map(str::trim) {
            None => None,
            Some(name)
                if name.is_empty() || name.chars().count() > MAX_FILENAME || name.chars().any(char::is_control) =>
            {
                return Err(AttachmentError::Filename);
            }
            Some(name) => Some(name.to_owned()),
        };
        Self::check_size(kind, size)?;
        let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        Ok(Self { kind, media_type: essence, size, filename })
    }

    /// Whether `size` bytes of `kind` are within Meta's limit.
    ///
    /// # Errors
    /// An empty file, or one over the limit.
    pub const fn check_size(kind: AttachmentKind, size: u64) -> Result<(), AttachmentError> {
        if size == 0 {
            Err(AttachmentError::Empty)
        } else if size > kind.max_bytes() {
            Err(AttachmentError::TooLarge { kind, size })
        } else {
            Ok(())
        }
    }

    #[must_use]
    pub const fn kind(&self) -> AttachmentKind {
        self.kind
    }

    #[must_use]
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    #[must_use]
    pub const fn size(&self) -> u64 {
        self.size
    }

    #[must_use]
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }
}

impl fmt::Display for AttachmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_media_type_makes_its_kind_with_meta_s_limits() {
        let a = Attachment::parse("Image/JPEG; charset=binary", 5 * MB, Some("photo.jpg")).unwrap();
        assert_eq!((a.kind(), a.media_type(), a.filename()), (AttachmentKind::Image, "image/jpeg", Some("photo.jpg")));
        assert_eq!(Attachment::parse("application/pdf", 100 * MB, None).unwrap().kind(), AttachmentKind::Document);
        assert_eq!(Attachment::parse("audio/ogg", 1, None).unwrap().kind(), AttachmentKind::Audio);
        assert_eq!(Attachment::parse("video/mp4", 16 * MB, None).unwrap().kind(), AttachmentKind::Video);
    }

    #[test]
    fn what_meta_refuses_is_refused_with_the_reason() {
        let e = Attachment::parse("image/png", 5 * MB + 1, None).unwrap_err();
        assert_eq!(e, AttachmentError::TooLarge { kind: AttachmentKind::Image, size: 5 * MB + 1 });
        assert!(e.to_string().contains("images (JPEG, PNG) up to 5 MB"), "{e}");
        let e = Attachment::parse("image/gif", 10, None).unwrap_err();
        assert!(e.to_string().contains("\"image/gif\"") && e.to_string().contains("PDF"), "{e}");
        assert_eq!(Attachment::parse("application/pdf", 0, None).unwrap_err(), AttachmentError::Empty);
        assert_eq!(Attachment::parse("application/pdf", 1, Some(" ")).unwrap_err(), AttachmentError::Filename);
        assert_eq!(Attachment::parse("application/pdf", 1, Some("a\nb")).unwrap_err(), AttachmentError::Filename);
        assert_eq!(
            Attachment::parse("image/webp", 500 * KB + 1, None).unwrap_err().to_string(),
            format!("the file weighs {} bytes; WhatsApp takes stickers (WebP) up to 500 KB", 500 * KB + 1)
        );
    }
}
