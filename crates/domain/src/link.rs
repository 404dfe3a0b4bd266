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
    /// Read in its region the number has an international form (`+<digits>`) that does not
    /// read back as the same number, so it could not be kept.
    #[error(
        "{input:?} reads as +{digits}, which is not the same number in international format: write it as +<country code>…"
    )]
    NoInternationalForm { input: String, digits: String },
    /// A stored number (E.164 digits) that is not in the form [`PhoneNumber::parse`] keeps.
    #[error("{digits:?} is not a phone number in E.164 form")]
    NotE164 { digits: String },
    /// The prefilled text is empty or only whitespace.
    #[error("the prefilled text is empty")]
    EmptyText,
    /// The prefilled text is longer than [`PrefilledText::MAX_CHARS`].
    #[error("the prefilled text has {chars} characters; at most {max} are allowed", max = PrefilledText::MAX_CHARS)]
    TextTooLong { chars: usize },
}

/// A phone number in E.164, held as digits without the leading `+` (e.g. `447700900123`).
///
/// Every value is valid E.164 (at most [`Self::MAX_DIGITS`] digits) and its digits read back
/// as the same number: [`Self::from_e164_digits`] of [`Self::digits`] always succeeds and
/// gives an equal value, so what is stored is what is shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// E.164 allows at most 15 digits, country code included.
    pub const MAX_DIGITS: usize = 15;

    /// Parses a number written in any common way: `+1 (555) 010-0199`, `00 44 20 7946 0958`,
    /// or national format (`07700 900123`) read in `default_region` (ISO 3166 alpha-2,
    /// e.g. `"GB"`). A number must be valid for its region, or at least have a length its
    /// region allows (so fictitious example ranges such as UK `07700 900xxx` are accepted).
    /// A national number whose international form does not read back as itself (some
    /// national prefixes and carrier codes are ambiguous) is refused rather than kept in a
    /// form that would change on the next read.
    pub fn parse(input: &str, default_region: Option<&str>) -> Result<Self, LinkError> {
        let digits = read(input, default_region)?;
        Self::from_e164_digits(&digits)
            .map_err(|_| LinkError::NoInternationalForm { input: input.trim().to_owned(), digits })
    }

    /// The stored form back: E.164 digits without `+`, accepted only if they read as exactly
    /// the same digits (as every [`PhoneNumber::digits`] does).
    pub fn from_e164_digits(digits: &str) -> Result<Self, LinkError> {
        let not_e164 = || LinkError::NotE164 { digits: digits.to_owned() };
        if digits.is_empty() || digits.len() > Self::MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_e164());
        }
        match read(&format!("+{digits}"), None) {
            Ok(again) if again == digits => Ok(Self(again)),
            _ => Err(not_e164()),
        }
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

/// The E.164 digits of a number as written, in `default_region` when national; at most
/// [`PhoneNumber::MAX_DIGITS`] of them.
fn read(input: &str, default_region: Option<&str>) -> Result<String, LinkError> {
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
    if digits.len() > PhoneNumber::MAX_DIGITS {
        return Err(LinkError::TooLong { input: owned() });
    }
    Ok(digits)
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

/// The alphabet of generated slugs and reference codes: digits and letters without the
/// look-alikes `0 O 1 I L` (codes are read off screens and typed by people).
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `len` characters of [`CODE_ALPHABET`] drawn from `random` (the caller's randomness:
/// this crate reads no random source). 16 random bytes give up to 25 characters.
#[must_use]
pub fn code_from_random(random: [u8; 16], len: usize) -> String {
    let mut n = u128::from_le_bytes(random);
    let base = CODE_ALPHABET.len() as u128;
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        let i = usize::try_from(n % base).unwrap_or(0);
        out.push(char::from(CODE_ALPHABET[i]));
        n /= base;
    }
    out
}

/// Why a slug, reference code or reference format is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("must be {min} to {max} characters long")]
    Length { min: usize, max: usize },
    #[error("may contain only letters a-z, digits and '-', and must start and end with a letter or digit")]
    SlugCharacters,
    #[error("may contain only letters A-Z and digits")]
    CodeCharacters,
    #[error("must contain {{code}} exactly once, with some text before it")]
    Format,
}

/// The path segment of a short link, `/l/{slug}`: 2 to 64 characters of `a-z 0-9 -`, not
/// starting or ending with `-`. Parsing lowercases, so `/l/Summer` and `/l/summer` are
/// the same link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MIN: usize = 2;
    pub const MAX: usize = 64;
    /// Length of generated slugs.
    pub const GENERATED_LEN: usize = 7;

    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim().to_ascii_lowercase();
        if !(Self::MIN..=Self::MAX).contains(&s.chars().count()) {
            return Err(CodeError::Length { min: Self::MIN, max: Self::MAX });
        }
        let ok = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(CodeError::SlugCharacters);
        }
        Ok(Self(s))
    }

    /// A new random slug (lowercase, from [`CODE_ALPHABET`]).
    #[must_use]
    pub fn generate(random: [u8; 16]) -> Self {
        Self(code_from_random(random, Self::GENERATED_LEN).to_ascii_lowercase())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The short code a link's prefilled text carries, so the conversation it starts can be
/// attributed to it: 4 to 16 characters of `A-Z 0-9`, uppercase (parsing uppercases).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefCode(String);

impl RefCode {
    pub const MIN: usize = 4;
    pub const MAX: usize = 16;
    /// Length of generated codes: 31^6 ≈ 887 million.
    pub const GENERATED_LEN: usize = 6;

    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let s = input.trim().to_ascii_uppercase();
        if !s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(CodeError::CodeCharacters);
        }
        if !(Self::MIN..=Self::MAX).contains(&s.len()) {
            return Err(CodeError::Length { min: Self::MIN, max: Self::MAX });
        }
        Ok(Self(s))
    }

    /// A new random code from [`CODE_ALPHABET`].
    #[must_use]
    pub fn generate(random: [u8; 16]) -> Self {
        Self(code_from_random(random, Self::GENERATED_LEN))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a reference code is written into a prefilled text, e.g. `(ref {code})`: a
/// template with `{code}` exactly once and some text before it (so a code is found only
/// where the template put it, never in a customer's own words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFormat {
    prefix: String,
    suffix: String,
}

impl Default for RefFormat {
    fn default() -> Self {
        Self { prefix: "(ref ".into(), suffix: ")".into() }
    }
}

impl RefFormat {
    /// The longest template accepted, in characters.
    pub const MAX_CHARS: usize = 40;

    pub fn parse(template: &str) -> Result<Self, CodeError> {
        if template.chars().count() > Self::MAX_CHARS || template.matches("{code}").count() != 1 {
            return Err(CodeError::Format);
        }
        let (prefix, suffix) = template.split_once("{code}").ok_or(CodeError::Format)?;
        if prefix.trim().is_empty() {
            return Err(CodeError::Format);
        }
        // A suffix starting with a code character would run into the code.
        if suffix.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(CodeError::Format);
        }
        Ok(Self { prefix: prefix.trim_start().to_owned(), suffix: suffix.trim_end().to_owned() })
    }

    /// The reference as it appears in a text: `(ref K7QX2M)`.
    #[must_use]
    pub fn render(&self, code: &RefCode) -> String {
        format!("{}{}{}", self.prefix, code.as_str(), self.suffix)
    }

    /// `text` with the reference appended after a space (just the reference when `text`
    /// is empty).
    #[must_use]
    pub fn append(&self, text: &str, code: &RefCode) -> String {
        let text = text.trim_end();
        if text.is_empty() { self.render(code) } else { format!("{text} {}", self.render(code)) }
    }

    /// Finds a reference written in this format (the last one, if several) and returns
    /// its code with the text without it: the whitespace around the reference is folded
    /// into one space, and the result trimmed. The prefix and suffix match exactly, the
    /// code case-insensitively. Works in any script: only the template's own characters
    /// are looked for.
    #[must_use]
    pub fn strip(&self, text: &str) -> Option<(RefCode, String)> {
        for (start, _) in text.rmatch_indices(self.prefix.as_str()) {
            let after = &text[start + self.prefix.len()..];
            let code_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
            if !(RefCode::MIN..=RefCode::MAX).contains(&code_len) {
                continue;
            }
            let Some(rest) = after[code_len..].strip_prefix(self.suffix.as_str()) else { continue };
            let Ok(code) = RefCode::parse(&after[..code_len]) else { continue };
            let before = text[..start].trim_end();
            let rest = rest.trim_start();
            let stripped = match (before.is_empty(), rest.is_empty()) {
                (true, _) => rest.to_owned(),
                (_, true) => before.to_owned(),
                _ => format!("{before} {rest}"),
            };
            return Some((code, stripped.trim().to_owned()));
        }
        None
    }
}

/// The browser family of a click, from its `User-Agent`: all that is kept of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentFamily {
    Chrome,
    Safari,
    Firefox,
    Edge,
    /// WhatsApp's own fetcher (link previews) or in-app browser.
    WhatsApp,
    /// Crawlers, link-preview bots, scripts.
    Bot,
    Other,
}

impl AgentFamily {
    /// Classifies a `User-Agent` header value (`None` or empty: `Other`).
    #[must_use]
    pub fn from_user_agent(ua: Option<&str>) -> Self {
        let Some(ua) = ua.map(str::trim).filter(|u| !u.is_empty()) else { return Self::Other };
        let lower = ua.to_ascii_lowercase();
        let has = |needle: &str| lower.contains(needle);
        if has("whatsapp") {
            Self::WhatsApp
        } else if ["bot", "crawl", "spider", "slurp", "facebookexternalhit", "preview", "curl/", "wget/", "python-"]
            .iter()
            .any(|n| has(n))
        {
            Self::Bot
        } else if has("firefox/") || has("fxios/") {
            Self::Firefox
        } else if has("edg/") || has("edga/") || has("edgios/") {
            Self::Edge
        } else if has("chrome/") || has("crios/") || has("chromium/") {
            Self::Chrome
        } else if has("safari/") && has("version/") {
            Self::Safari
        } else {
            Self::Other
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chrome => "chrome",
            Self::Safari => "safari",
            Self::Firefox => "firefox",
            Self::Edge => "edge",
            Self::WhatsApp => "whatsapp",
            Self::Bot => "bot",
            Self::Other => "other",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Chrome, Self::Safari, Self::Firefox, Self::Edge, Self::WhatsApp, Self::Bot, Self::Other]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// The host of a `Referer` header (`https://www.example.com:8443/path?q` →
/// `www.example.com`), lowercased, without user info, port, path or query: all that is
/// kept of it. `None` for anything that is not an http(s) URL with a plausible host.
#[must_use]
pub fn referrer_host(referer: &str) -> Option<String> {
    let r = referer.trim();
    let lower = r.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &r[8..]
    } else if lower.starts_with("http://") {
        &r[7..]
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        let end = v6.find(']')?;
        &host_port[..end + 2]
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    let plausible = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':'));
    plausible.then_some(host)
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

    /// Issue 22.1 and 22.2: what `parse` accepts is valid E.164 and reads back unchanged.
    #[test]
    fn accepted_numbers_read_back_as_themselves() {
        // National forms whose international form reads differently: refused, not kept.
        for (input, region) in [("01227456", "CN"), ("00 07700", "KR"), ("0000520984732", "DE")] {
            let got = PhoneNumber::parse(input, Some(region));
            assert!(
                matches!(got, Err(LinkError::NoInternationalForm { .. } | LinkError::TooShort { .. })),
                "{input} in {region}: {got:?}"
            );
        }
        assert!(matches!(PhoneNumber::parse("+861227456", None), Err(LinkError::TooShort { .. })));
        // More digits than E.164 allows.
        assert!(matches!(PhoneNumber::parse("+81 7847654322103211", None), Err(LinkError::TooLong { .. })));
        assert!(matches!(PhoneNumber::from_e164_digits("817847654322103211"), Err(LinkError::NotE164 { .. })));
        // The stored form of a number is the number.
        for (input, region) in [("+44 7700 900123", None), ("030 901820", Some("DE")), ("0812 3456 7890", Some("ID"))] {
            let n = PhoneNumber::parse(input, region).unwrap();
            assert_eq!(PhoneNumber::from_e164_digits(n.digits()), Ok(n.clone()));
            assert!(n.digits().len() <= PhoneNumber::MAX_DIGITS);
        }
        assert!(PhoneNumber::from_e164_digits("4900520984732").is_err());
        assert!(PhoneNumber::from_e164_digits("+447700900123").is_err());
        assert!(PhoneNumber::from_e164_digits("").is_err());
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

#[cfg(test)]
mod code_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> RefCode {
        RefCode::parse(s).unwrap()
    }

    #[test]
    fn generated_codes_use_the_unambiguous_alphabet() {
        let c = RefCode::generate([7; 16]);
        assert_eq!(c.as_str().len(), RefCode::GENERATED_LEN);
        assert!(c.as_str().bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(RefCode::parse(c.as_str()), Ok(c));
        let s = Slug::generate([200; 16]);
        assert_eq!(s.as_str().len(), Slug::GENERATED_LEN);
        assert!(!s.as_str().contains(['0', 'o', '1', 'i', 'l']));
        assert_eq!(Slug::parse(s.as_str()), Ok(s));
        assert_ne!(code_from_random([1; 16], 6), code_from_random([2; 16], 6));
    }

    #[test]
    fn slugs_are_validated_and_lowercased() {
        assert_eq!(Slug::parse(" Summer-Sale-2026 ").unwrap().as_str(), "summer-sale-2026");
        for bad in ["a", "-abc", "abc-", "with space", "émoji", "a/b", "a_b", &"x".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Slug::parse("a").unwrap_err(), CodeError::Length { min: 2, max: 64 });
    }

    #[test]
    fn ref_codes_are_validated_and_uppercased() {
        assert_eq!(code("k7qx2m").as_str(), "K7QX2M");
        assert_eq!(RefCode::parse("ab"), Err(CodeError::Length { min: 4, max: 16 }));
        assert_eq!(RefCode::parse("ab-cd"), Err(CodeError::CodeCharacters));
        assert_eq!(RefCode::parse("কোড১২৩৪"), Err(CodeError::CodeCharacters));
    }

    #[test]
    fn formats_need_code_once_with_a_prefix() {
        assert!(RefFormat::parse("(ref {code})").is_ok());
        assert!(RefFormat::parse("#{code}").is_ok());
        assert!(RefFormat::parse("[{code}]").is_ok());
        for bad in
            ["{code}", "ref", "{code} {code}", "(ref {code}x)", "  {code})", &format!("{}{{code}}", "x".repeat(40))]
        {
            assert_eq!(RefFormat::parse(bad), Err(CodeError::Format), "{bad}");
        }
        assert_eq!(RefFormat::default(), RefFormat::parse("(ref {code})").unwrap());
    }

    #[test]
    fn append_then_strip_round_trips_in_any_script() {
        let formats = ["(ref {code})", "#{code}", "[ref: {code}]", "— কোড {code}"];
        let texts = [
            "Hi, I need help with my order",
            "আমার অর্ডার কোথায়?",
            "मुझे अपने ऑर्डर के बारे में मदद चाहिए",
            "Help 🙏🏽👨‍👩‍👧 please",
            "مرحبا، أحتاج إلى مساعدة",
            "",
        ];
        for f in formats {
            let format = RefFormat::parse(f).unwrap();
            for text in texts {
                let c = code("K7QX2M");
                let full = format.append(text, &c);
                assert!(full.ends_with(&format.render(&c)), "{full}");
                let (found, stripped) = format.strip(&full).unwrap_or_else(|| panic!("{f}: {full}"));
                assert_eq!(found, c);
                assert_eq!(stripped, text, "{f}");
                // The customer's composer may survive edits around the reference.
                let edited = format!("{full} 🙂 thanks");
                let (found, stripped) = format.strip(&edited).unwrap();
                assert_eq!(found, c);
                assert_eq!(stripped, format!("{text} 🙂 thanks").trim());
            }
        }
    }

    #[test]
    fn strip_finds_only_well_formed_references() {
        let f = RefFormat::default();
        assert_eq!(f.strip("hello"), None);
        assert_eq!(f.strip("(ref AB)"), None); // too short
        assert_eq!(f.strip("(ref ABCD-12)"), None);
        assert_eq!(f.strip("(ref ABCDEF"), None); // no suffix
        assert_eq!(f.strip("(REF ABCDEF)"), None); // the prefix matches exactly
        let (c, rest) = f.strip("Hi (ref abc123) there").unwrap();
        assert_eq!((c.as_str(), rest.as_str()), ("ABC123", "Hi there"));
        // The last reference wins; an earlier one stays in the text.
        let (c, rest) = f.strip("(ref AAAA1) and (ref BBBB2)").unwrap();
        assert_eq!((c.as_str(), rest.as_str()), ("BBBB2", "(ref AAAA1) and"));
        // A broken last one does not hide a good earlier one.
        let (c, _) = f.strip("(ref GOOD12) then (ref X)").unwrap();
        assert_eq!(c.as_str(), "GOOD12");
    }

    #[test]
    fn user_agents_are_reduced_to_a_family() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                AgentFamily::Chrome,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                AgentFamily::Safari,
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", AgentFamily::Firefox),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                AgentFamily::Edge,
            ),
            ("WhatsApp/2.24.12.78 A", AgentFamily::WhatsApp),
            ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", AgentFamily::Bot),
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", AgentFamily::Bot),
            ("curl/8.5.0", AgentFamily::Bot),
            ("SomethingElse/1.0", AgentFamily::Other),
        ];
        for (ua, want) in cases {
            let got = AgentFamily::from_user_agent(Some(ua));
            assert_eq!(got, want, "{ua}");
            assert_eq!(AgentFamily::parse(got.as_str()), Some(got));
        }
        assert_eq!(AgentFamily::from_user_agent(None), AgentFamily::Other);
        assert_eq!(AgentFamily::from_user_agent(Some("  ")), AgentFamily::Other);
    }

    #[test]
    fn only_the_referrer_host_is_kept() {
        let cases = [
            ("https://www.Example.com/path?q=secret#x", Some("www.example.com")),
            ("http://user:pw@shop.example.org:8443/a", Some("shop.example.org")),
            ("HTTPS://t.co", Some("t.co")),
            ("https://[2001:db8::1]:443/x", Some("[2001:db8::1]")),
            ("android-app://com.google.android.gm/", None),
            ("not a url", None),
            ("https:///nohost", None),
            ("https://bad host/", None),
        ];
        for (referer, want) in cases {
            assert_eq!(referrer_host(referer).as_deref(), want, "{referer}");
        }
    }

    proptest! {
        #[test]
        fn any_text_round_trips_through_append_and_strip(text in "\\PC{0,200}", raw in any::<[u8; 16]>()) {
            let f = RefFormat::default();
            let c = RefCode::generate(raw);
            let (found, stripped) = f.strip(&f.append(&text, &c)).unwrap();
            prop_assert_eq!(found, c);
            // The text comes back trimmed (the composer's whitespace is not meaningful).
            prop_assert_eq!(stripped, text.trim());
        }
    }
}
