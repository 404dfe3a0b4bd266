//! Click-to-chat links: `https://wa.me/<digits>?text=<prefilled text>`.
//!
//! Pure builders. A link carries an E.164 number as digits only (country code + national
//! number, no `+`, spaces, brackets, dashes, leading `00` or trunk `0`) and an optional
//! prefilled draft that the customer still has to send themselves.

use std::fmt;

use phonenumber::Mode;
use phonenumber::country::Id;

/// Why a phone number or prefilled text cannot go into a click-to-chat link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The input does not contain a phone number at all.
    #[error("{input:?} is not a phone number")]
    NotANumber { input: String },
    /// The default region is not an ISO 3166 alpha-2 code the phone metadata knows.
    #[error("unknown region {0:?} (expected an ISO 3166 alpha-2 code such as US, GB or IN)")]
    UnknownRegion(String),
    /// A national-format number was given without a default region to read it in.
    #[error("{input:?} has no country code: write it as +<country code>… or give a default region")]
    MissingRegion { input: String },
    /// The country calling code is not assigned.
    #[error("{input:?} has an unknown country calling code")]
    UnknownCountryCode { input: String },
    /// Too few digits for a number of its country.
    #[error("{input:?} is too short to be a phone number of its country")]
    TooShort { input: String },
    /// Too many digits for a number of its country.
    #[error("{input:?} is too long to be a phone number of its country")]
    TooLong { input: String },
    /// The right length, but not a number range in use in its region.
    #[error("{input:?} is not a valid number for its region")]
    InvalidForRegion { input: String },
    /// The prefilled text is empty or only whitespace.
    #[error("the prefilled text is empty")]
    EmptyText,
    /// The prefilled text is longer than [`PrefilledText::MAX_CHARS`].
    #[error("the prefilled text has {chars} characters; at most {max} are allowed", max = PrefilledText::MAX_CHARS)]
    TextTooLong { chars: usize },
}

/// A phone number in E.164, held as digits without the leading `+` (e.g. `447700900123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number written in any common way: `+1 (555) 010-0199`, `00 44 20 7946 0958`,
    /// or national format (`07700 900123`) read in `default_region` (ISO 3166 alpha-2,
    /// e.g. `"GB"`). A number must be valid for its region, or at least have a length its
    /// region allows (so fictitious example ranges such as UK `07700 900xxx` are accepted).
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, LinkError> {
        let owned = || input.trim().to_owned();
        let region = match default_region.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => Some(r.to_ascii_uppercase().parse::<Id>().map_err(|_| LinkError::UnknownRegion(r.to_owned()))?),
        };
        let trimmed = input.trim();
        if !trimmed.chars().any(|c| c.is_ascii_digit()) {
            return Err(LinkError::NotANumber { input: owned() });
        }
        // A leading international prefix `00` means the same as `+` in most of the world;
        // without a region the parser would not know that.
        let text = match trimmed.strip_prefix("00") {
            Some(rest) if region.is_none() => format!("+{rest}"),
            _ => trimmed.to_owned(),
        };
        if region.is_none() && !text.starts_with('+') {
            return Err(LinkError::MissingRegion { input: owned() });
        }
        let number = phonenumber::parse(region, &text).map_err(|e| match e {
            phonenumber::ParseError::NoNumber => LinkError::NotANumber { input: owned() },
            phonenumber::ParseError::InvalidCountryCode => LinkError::UnknownCountryCode { input: owned() },
            phonenumber::ParseError::TooLong => LinkError::TooLong { input: owned() },
            phonenumber::ParseError::TooShortAfterIdd | phonenumber::ParseError::TooShortNsn => {
                LinkError::TooShort { input: owned() }
            }
            _ => LinkError::NotANumber { input: owned() },
        })?;
        let code = number.code().value();
        let Some(meta) = phonenumber::metadata::DATABASE.by_code(&code).and_then(|m| m.into_iter().next()) else {
            return Err(LinkError::UnknownCountryCode { input: owned() });
        };
        // Accept a number the metadata knows as valid, or one whose length is possible for its
        // region: fictitious ranges used in examples and tests (UK 07700 900xxx, NANP 555-01xx)
        // and ranges opened after the metadata was cut are not "valid", but still link fine.
        let national_len = u16::try_from(number.national().to_string().len()).unwrap_or(u16::MAX);
        let d = meta.descriptors();
        let lengths: Vec<u16> = [d.fixed_line(), d.mobile(), d.toll_free(), d.premium_rate(), d.shared_cost()]
            .into_iter()
            .chain([d.personal_number(), d.voip(), d.pager(), d.uan(), d.voicemail()])
            .flatten()
            .chain(std::iter::once(d.general()))
            .flat_map(|desc| desc.possible_length().iter().copied())
            .collect();
        if !number.is_valid() && !lengths.contains(&national_len) {
            let (min, max) = (lengths.iter().min().copied(), lengths.iter().max().copied());
            return Err(match (min, max) {
                (Some(min), _) if national_len < min => LinkError::TooShort { input: owned() },
                (_, Some(max)) if national_len > max => LinkError::TooLong { input: owned() },
                _ => LinkError::InvalidForRegion { input: owned() },
            });
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        Ok(Self(digits))
    }

    /// The digits, without `+`.
    #[must_use]
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

/// The draft placed in the customer's composer when they open the link.
///
/// WhatsApp documents no limit on its length; 1,000 characters keeps links (and the QR codes
/// made from them) practical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefilledText(String);

impl PrefilledText {
    /// The longest text accepted, in characters (Unicode scalar values).
    pub const MAX_CHARS: usize = 1_000;

    /// Trims the text and checks it is non-empty and at most [`Self::MAX_CHARS`] characters.
    pub fn parse(input: &str) -> Result<Self, LinkError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(LinkError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(LinkError::TextTooLong { chars });
        }
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A click-to-chat link. With no phone the customer picks the recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClickToChat {
    pub phone: Option<PhoneNumber>,
    pub text: Option<PrefilledText>,
}

impl ClickToChat {
    /// `https://wa.me/<digits>?text=<text>`, or `https://wa.me/?text=<text>` with no phone.
    #[must_use]
    pub fn wa_me_url(&self) -> String {
        let mut url = format!("https://wa.me/{}", self.phone.as_ref().map_or("", PhoneNumber::digits));
        if let Some(text) = &self.text {
            url.push_str("?text=");
            url.push_str(&percent_encode(text.as_str()));
        }
        url
    }

    /// The older equivalent form: `https://api.whatsapp.com/send?phone=<digits>&text=<text>`.
    #[must_use]
    pub fn api_whatsapp_url(&self) -> String {
        let mut params = Vec::new();
        if let Some(phone) = &self.phone {
            params.push(format!("phone={}", phone.digits()));
        }
        if let Some(text) = &self.text {
            params.push(format!("text={}", percent_encode(text.as_str())));
        }
        let mut url = "https://api.whatsapp.com/send".to_owned();
        if !params.is_empty() {
            url.push('?');
            url.push_str(&params.join("&"));
        }
        url
    }
}

/// Percent-encodes UTF-8 text for a query value: every byte outside the unreserved set
/// `A-Z a-z 0-9 - . _ ~` becomes `%XX` (so a space is `%20`, never `+`).
#[must_use]
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`percent_encode`]; `None` for a malformed escape or bytes that are not UTF-8.
#[must_use]
pub fn percent_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_numbers_across_countries() {
        let ok: &[(&str, Option<&str>, &str)] = &[
            ("+1 (555) 010-0199", None, "15550100199"),
            ("+1 (201) 555-0123", None, "12015550123"),
            ("(201) 555-0123", Some("US"), "12015550123"),
            ("+44 7700 900123", None, "447700900123"),
            ("07700 900123", Some("GB"), "447700900123"),
            ("00 44 20 7946 0958", None, "442079460958"),
            ("020 7946 0958", Some("gb"), "442079460958"),
            ("030 901820", Some("DE"), "4930901820"),
            ("+49 1512 3456789", None, "4915123456789"),
            ("+91 98765 43210", None, "919876543210"),
            ("098765 43210", Some("IN"), "919876543210"),
            ("+55 11 91234-5678", None, "5511912345678"),
            ("(11) 91234-5678", Some("BR"), "5511912345678"),
            ("+234 803 123 4567", None, "2348031234567"),
            ("0803 123 4567", Some("NG"), "2348031234567"),
            ("+62 812-3456-7890", None, "6281234567890"),
            ("0812 3456 7890", Some("ID"), "6281234567890"),
            ("+33 6 12 34 56 78", None, "33612345678"),
            ("06 12 34 56 78", Some("FR"), "33612345678"),
            ("+57 300 123 4567", None, "573001234567"),
        ];
        for (input, region, want) in ok {
            let got = PhoneNumber::parse(input, *region);
            assert_eq!(got.as_ref().map(PhoneNumber::digits), Ok(*want), "{input} in {region:?}");
        }
    }

    #[test]
    fn rejects_bad_numbers_with_a_reason() {
        type Case<'a> = (&'a str, Option<&'a str>, fn(&LinkError) -> bool);
        let cases: &[Case<'_>] = &[
            ("hello", None, |e| matches!(e, LinkError::NotANumber { .. })),
            ("", Some("US"), |e| matches!(e, LinkError::NotANumber { .. })),
            ("07700 900123", Some("XX"), |e| matches!(e, LinkError::UnknownRegion(_))),
            ("07700 900123", None, |e| matches!(e, LinkError::MissingRegion { .. })),
            ("+999 1234 5678", None, |e| matches!(e, LinkError::UnknownCountryCode { .. })),
            ("+44 7700 90", None, |e| matches!(e, LinkError::TooShort { .. })),
            ("+44 7700 9001", None, |e| matches!(e, LinkError::InvalidForRegion { .. })),
            ("+33 6 12", None, |e| matches!(e, LinkError::TooShort { .. })),
            ("+91 98765 432101234", None, |e| matches!(e, LinkError::TooLong { .. })),
            ("+1 555 0100", None, |e| matches!(e, LinkError::TooShort { .. })),
        ];
        for (input, region, check) in cases {
            let err = PhoneNumber::parse(input, *region).unwrap_err();
            assert!(check(&err), "{input} in {region:?}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn builds_urls() {
        let phone = Some(PhoneNumber::parse("+44 7700 900123", None).unwrap());
        let text = Some(PrefilledText::parse("  Hi, I need help with my order  ").unwrap());
        let both = ClickToChat { phone: phone.clone(), text: text.clone() };
        assert_eq!(both.wa_me_url(), "https://wa.me/447700900123?text=Hi%2C%20I%20need%20help%20with%20my%20order");
        assert_eq!(
            both.api_whatsapp_url(),
            "https://api.whatsapp.com/send?phone=447700900123&text=Hi%2C%20I%20need%20help%20with%20my%20order"
        );
        let phone_only = ClickToChat { phone, text: None };
        assert_eq!(phone_only.wa_me_url(), "https://wa.me/447700900123");
        assert_eq!(phone_only.api_whatsapp_url(), "https://api.whatsapp.com/send?phone=447700900123");
        let text_only = ClickToChat { phone: None, text };
        assert!(text_only.wa_me_url().starts_with("https://wa.me/?text=Hi%2C"));
        assert!(text_only.api_whatsapp_url().starts_with("https://api.whatsapp.com/send?text=Hi%2C"));
    }

    #[test]
    fn prefilled_text_rules() {
        assert_eq!(PrefilledText::parse(" \n\t "), Err(LinkError::EmptyText));
        assert!(PrefilledText::parse(&"é".repeat(1_000)).is_ok());
        assert_eq!(PrefilledText::parse(&"a".repeat(1_001)), Err(LinkError::TextTooLong { chars: 1_001 }));
    }

    #[test]
    fn encoding_round_trips_for_scripts_and_reserved_characters() {
        for text in ["আমার অর্ডার কোথায়?", "मुझे मदद चाहिए", "أحتاج إلى مساعدة", "Help 🙏🏽👨‍👩‍👧", "a&b?c#d+e=f%g h/i:j@k", "-._~"]
        {
            let enc = percent_encode(text);
            assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{enc}");
            assert_eq!(percent_decode(&enc).as_deref(), Some(text));
        }
        assert_eq!(percent_encode("a b+c"), "a%20b%2Bc");
        assert_eq!(percent_encode("&?#+=%"), "%26%3F%23%2B%3D%25");
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in any::<String>()) {
            let enc = percent_encode(&text);
            prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            prop_assert_eq!(percent_decode(&enc), Some(text));
        }
    }
}
