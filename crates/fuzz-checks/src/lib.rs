//! The properties the fuzz targets in `fuzz/` check, one function per target. Each takes
//! the fuzzer's bytes, must never panic on its own, and panics (an `assert!`) when the
//! code under test breaks a property. The fuzz targets call these; the `corpus` test
//! replays every checked-in corpus file through them on stable, so CI keeps them green.
//!
//! Input formats are text where practical, so seeds can be written by hand:
//! - `phone`: `<region>\n<number>` (empty region: none).
//! - `template`: the template text.
//! - `hours`: `<unix seconds>\n<business hours JSON>`.
//! - `signature`: `<secret>\0<header>\0<body>`.
//! - `webhook`, `delivery_time`: a webhook POST body.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use switchboard_cloudapi::{delivery_time as cloudapi_delivery_time, parse_delivery, sign, verify_signature};
use switchboard_domain::autoreply::template::{Lang, Template, Vars};
use switchboard_domain::hours::BusinessHours;
use switchboard_domain::inbound::{Change, META_EARLIEST};
use switchboard_domain::instant;
use switchboard_domain::link::PhoneNumber;

/// A property check over the fuzzer's bytes.
pub type Check = fn(&[u8]);

/// Every target: its name (the fuzz target's and its corpus directory's) and its check.
pub const TARGETS: [(&str, Check); 6] = [
    ("webhook", webhook),
    ("signature", signature),
    ("delivery_time", delivery_time),
    ("phone", phone),
    ("template", template),
    ("hours", hours),
];

/// How long one business-hours query may take (fuzz builds are unoptimised for speed and
/// instrumented, so this is generous; release builds answer in well under a millisecond).
pub const HOURS_BUDGET: Duration = Duration::from_millis(500);

/// A fixed arrival time for webhook checks.
fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_765_000_000, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// The webhook parser never panics, and once settled every time lies between
/// [`META_EARLIEST`] and the arrival.
pub fn webhook(data: &[u8]) {
    let Ok(mut changes) = parse_delivery(data) else {
        return;
    };
    let received = received_at();
    for c in &mut changes {
        c.settle_times(received);
        if let Change::Messages(m) = c {
            let times = m.messages.iter().map(|x| x.timestamp).chain(m.statuses.iter().map(|s| s.timestamp));
            for t in times {
                assert!((META_EARLIEST..=received).contains(&t), "settled time {t} out of range");
            }
        }
    }
}

/// Signature verification never panics, accepts what [`sign`] makes, and refuses a body
/// that was changed.
pub fn signature(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (secret, header, body) = (parts.next().unwrap_or_default(), parts.next(), parts.next().unwrap_or_default());
    let verdict = verify_signature(secret, header, body);
    let signed = sign(secret, body);
    assert_eq!(verify_signature(secret, Some(signed.as_bytes()), body), Ok(()));
    assert_eq!(
        verify_signature(secret, Some(signed.to_uppercase().replace("SHA256=", "sha256=").as_bytes()), body),
        Ok(())
    );
    if verdict.is_ok() {
        let header = header.unwrap_or_default();
        assert!(header.eq_ignore_ascii_case(signed.as_bytes()), "a header other than the signature verified");
    }
    let mut changed = body.to_vec();
    changed.push(b'x');
    assert!(verify_signature(secret, Some(signed.as_bytes()), &changed).is_err());
}

/// `delivery_time` never panics and stays within its 18 digits.
pub fn delivery_time(data: &[u8]) {
    let t = cloudapi_delivery_time(data);
    assert!((0..=999_999_999_999_999_999).contains(&t), "delivery_time {t}");
}

/// A phone number the parser accepts is valid E.164 and its stored form reads back equal.
pub fn phone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (region, number) = text.split_once('\n').unwrap_or(("", &text));
    let region = Some(region.trim()).filter(|r| !r.is_empty());
    let Ok(n) = PhoneNumber::parse(number, region) else {
        return;
    };
    let digits = n.digits();
    assert!(!digits.is_empty() && digits.len() <= PhoneNumber::MAX_DIGITS, "not E.164: {digits}");
    assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'), "not E.164: {digits}");
    assert_eq!(n.to_string(), format!("+{digits}"));
    // Store form → read back → equal; and the shown form parses to the same number.
    assert_eq!(PhoneNumber::from_e164_digits(digits).as_ref(), Ok(&n));
    assert_eq!(PhoneNumber::parse(&n.to_string(), None).as_ref(), Ok(&n));
}

/// A template that parses never renders a raw `{{` (values and fallbacks are brace-free
/// here, so one could only come from the template's own syntax), with or without values.
pub fn template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(t) = Template::parse(&text) else {
        return;
    };
    let now = received_at();
    let Ok(hours) = serde_json::from_str::<BusinessHours>(
        r#"{"time_zone":"Europe/Berlin","weekly":{"mon":[{"start":"09:00","end":"17:00"}]}}"#,
    ) else {
        return;
    };
    let full = Vars {
        contact_name: Some("Ana María López"),
        agent_name: Some("Carla"),
        business_name: Some("Acme"),
        hours: Some(&hours),
        lang: Lang::De,
        now,
    };
    for vars in [full, Vars::new(now)] {
        let out = t.render(&vars);
        assert!(!out.contains("{{"), "raw braces sent: {out:?}");
    }
}

/// Business hours answer every query quickly at any instant (overrides at extreme dates
/// included) and consistently.
pub fn hours(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Some((secs, json)) = text.split_once('\n') else {
        return;
    };
    let Ok(secs) = secs.trim().parse::<i64>() else {
        return;
    };
    let at = DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    let Ok(h) = serde_json::from_str::<BusinessHours>(json) else {
        return;
    };
    let _ = h.validate();
    let timed = |what: &str, f: &dyn Fn()| {
        let started = Instant::now();
        f();
        assert!(started.elapsed() < HOURS_BUDGET, "{what} took {:?}", started.elapsed());
    };
    let open = h.is_open(at);
    timed("next_open", &|| {
        if let Some(t) = h.next_open(at) {
            assert!(t >= at, "next_open {t} before {at}");
            assert_eq!(t == at, open);
        }
    });
    timed("next_close", &|| {
        if let Some(t) = h.next_close(at) {
            assert!(t >= at, "next_close {t} before {at}");
            assert_eq!(t == at, !open);
        }
    });
    timed("period_at", &|| {
        let p = h.period_at(at);
        assert_eq!(p.open, open);
        assert!(p.since.is_none_or(|s| s <= at) && p.until.is_none_or(|u| u > at), "{p:?} around {at}");
    });
    timed("period_since", &|| {
        let _ = h.period_since(at);
    });
    timed("next_change_within", &|| {
        if let Some(t) = h.next_change_within(at, 8) {
            assert!(t > at && t - at <= TimeDelta::days(10), "next change {t} from {at}");
        }
    });
    if instant::check(at).is_err() {
        assert!(!open, "open outside the supported years");
    }
}
