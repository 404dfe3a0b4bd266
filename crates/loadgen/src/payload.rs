//! Meta-shaped webhook bodies, unique per run, signed the way Meta signs them.
//!
//! Every run draws a random run id. It fixes a wa_id prefix (a reserved country code
//! plus run-specific digits) so the run's contacts can be told apart from anything
//! else in the database, and it goes into every wamid so wamids never repeat across
//! runs. Message `n` of the run (counting across webhooks) comes from contact
//! `n % contacts` and carries wamid `wamid.LG.<run id hex>.<n>`.

use std::fmt::Write as _;

use anyhow::{Result, bail};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Country code 999 is reserved by the ITU, so these numbers never reach a real person.
const COUNTRY_PREFIX: &str = "999";
/// The longest E.164 number, and so the longest wa_id.
const MAX_WA_ID_DIGITS: usize = 15;
/// Fewer run digits than this would make collisions between runs likely.
const MIN_RUN_DIGITS: usize = 4;
const MAX_RUN_DIGITS: usize = 8;

/// Realistic inbound texts, already JSON-escaped the way Meta sends them: ASCII only,
/// non-ASCII as `\u00e4`-style escapes (emoji as surrogate pairs) and `/` as `\/`.
const TEXTS: &[&str] = &[
    "Hi, I ordered a blue jacket last week and it still hasn't arrived. Order #A-10293",
    "Can you tell me your opening hours on Saturday?",
    r"\u0939\u0947\u0932\u094b, \u092e\u0941\u091d\u0947 \u092e\u0926\u0926 \u091a\u093e\u0939\u093f\u090f",
    r"Ol\u00e1! Voc\u00eas entregam em S\u00e3o Paulo?",
    r"Thanks so much \ud83d\ude4f\ud83d\ude0a",
    r"The invoice link https:\/\/example.com\/inv\/4471 doesn't open for me",
    r"\u00bfPuedo cambiar la direcci\u00f3n de env\u00edo?",
    "ok",
    r"How much for 3 units? I need them by Friday \ud83d\udce6",
    r"\u4f60\u597d\uff0c\u6211\u7684\u8ba2\u5355\u5728\u54ea\u91cc\uff1f",
    r"Guten Tag, ich m\u00f6chte meine Bestellung stornieren.",
    r#"Hello! I bought the \"Pro\" plan yesterday but the app still says Free. I already tried logging out and in again, reinstalling, and clearing the cache. My account email is the same as this number. Could someone please check? It's urgent because my team starts using it tomorrow morning \ud83d\ude4f"#,
    "YES",
    r"\u0645\u0631\u062d\u0628\u0627\u060c \u0647\u0644 \u0627\u0644\u0645\u062a\u062c\u0631 \u0645\u0641\u062a\u0648\u062d \u0627\u0644\u064a\u0648\u0645\u061f",
    "Is it possible to pay on delivery?",
    r"Merci beaucoup, tr\u00e8s rapide \ud83d\udc4d",
];

/// The identity of one run: which wa_ids and wamids belong to it.
#[derive(Debug, Clone)]
pub struct RunIdentity {
    contacts: u64,
    /// Country prefix plus run digits; every wa_id of the run starts with it.
    wa_prefix: String,
    /// Contact indexes are zero-padded to this width, so every wa_id has the same length.
    index_width: usize,
    /// `wamid.LG.<run id hex>.`
    wamid_prefix: String,
}

impl RunIdentity {
    pub fn new(run_id: u64, contacts: u64) -> Result<Self> {
        if contacts == 0 {
            bail!("--contacts must be at least 1");
        }
        let index_width = decimal_digits(contacts - 1);
        let room = MAX_WA_ID_DIGITS - COUNTRY_PREFIX.len();
        if index_width + MIN_RUN_DIGITS > room {
            bail!("--contacts {contacts} is too many: wa_ids have at most {MAX_WA_ID_DIGITS} digits");
        }
        let run_digits = (room - index_width).min(MAX_RUN_DIGITS);
        let modulus = 10u64.pow(u32::try_from(run_digits)?);
        let wa_prefix = format!("{COUNTRY_PREFIX}{:0width$}", run_id % modulus, width = run_digits);
        Ok(Self { contacts, wa_prefix, index_width, wamid_prefix: format!("wamid.LG.{run_id:016x}.") })
    }

    pub fn contacts(&self) -> u64 {
        self.contacts
    }

    pub fn wa_prefix(&self) -> &str {
        &self.wa_prefix
    }

    /// The contact that sends message number `message`.
    pub fn contact_of(&self, message: u64) -> u64 {
        message % self.contacts
    }

    pub fn write_wa_id(&self, out: &mut String, contact: u64) {
        out.push_str(&self.wa_prefix);
        let _ = write!(out, "{contact:0width$}", width = self.index_width);
    }

    pub fn wa_id(&self, contact: u64) -> String {
        let mut s = String::with_capacity(MAX_WA_ID_DIGITS);
        self.write_wa_id(&mut s, contact);
        s
    }

    /// Whether `wa_id` is one of this run's contacts.
    pub fn owns_wa_id(&self, wa_id: &str) -> bool {
        self.contact_of_wa_id(wa_id).is_some()
    }

    /// The contact index of one of this run's wa_ids, or `None` for any other wa_id.
    pub fn contact_of_wa_id(&self, wa_id: &str) -> Option<u64> {
        if wa_id.len() != self.wa_prefix.len() + self.index_width {
            return None;
        }
        wa_id
            .strip_prefix(&self.wa_prefix)
            .filter(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|rest| rest.parse::<u64>().ok())
            .filter(|&index| index < self.contacts)
    }

    pub fn write_wamid(&self, out: &mut String, message: u64) {
        out.push_str(&self.wamid_prefix);
        let _ = write!(out, "{message}");
    }

    #[cfg(test)]
    pub fn wamid(&self, message: u64) -> String {
        let mut s = String::with_capacity(self.wamid_prefix.len() + 20);
        self.write_wamid(&mut s, message);
        s
    }

    /// The message number inside one of this run's wamids, or `None` for any other wamid.
    pub fn message_of_wamid(&self, wamid: &str) -> Option<u64> {
        wamid.strip_prefix(&self.wamid_prefix)?.parse().ok()
    }
}

fn decimal_digits(mut n: u64) -> usize {
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// One ready-to-send delivery.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub body: Vec<u8>,
    /// The full `X-Hub-Signature-256` value, `sha256=<64 lowercase hex digits>`.
    pub signature: String,
}

/// Builds and signs webhook bodies. Cheap to share: building takes `&self`.
#[derive(Clone)]
pub struct WebhookBuilder {
    identity: RunIdentity,
    messages_per_webhook: u64,
    mac: HmacSha256,
    /// `{"object":...,"entry":[{"id":"<waba>","changes":[`
    head: String,
    /// `"metadata":{...}` with the phone number id, JSON-escaped once.
    metadata: String,
}

impl WebhookBuilder {
    pub fn new(
        identity: RunIdentity,
        app_secret: &[u8],
        phone_number_id: &str,
        waba_id: &str,
        messages_per_webhook: u64,
    ) -> Result<Self> {
        if messages_per_webhook == 0 {
            bail!("--messages-per-webhook must be at least 1");
        }
        let mac = HmacSha256::new_from_slice(app_secret)
            .map_err(|e| anyhow::anyhow!("app secret unusable as an HMAC key: {e}"))?;
        let head = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":{},"changes":["#,
            serde_json::to_string(waba_id)?
        );
        let metadata = format!(
            r#""metadata":{{"display_phone_number":"15550100","phone_number_id":{}}}"#,
            serde_json::to_string(phone_number_id)?
        );
        Ok(Self { identity, messages_per_webhook, mac, head, metadata })
    }

    pub fn identity(&self) -> &RunIdentity {
        &self.identity
    }

    /// The message numbers carried by webhook number `seq`.
    pub fn messages_of(&self, seq: u64) -> std::ops::Range<u64> {
        let first = seq * self.messages_per_webhook;
        first..first + self.messages_per_webhook
    }

    /// The body of webhook number `seq`: one entry, one `messages` change per message,
    /// each with its contact and one text message.
    pub fn body(&self, seq: u64, unix_secs: u64) -> String {
        let mut out =
            String::with_capacity(self.head.len() + 400 * usize::try_from(self.messages_per_webhook).unwrap_or(1));
        out.push_str(&self.head);
        for (i, message) in self.messages_of(seq).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let contact = self.identity.contact_of(message);
            out.push_str(r#"{"value":{"messaging_product":"whatsapp","#);
            out.push_str(&self.metadata);
            out.push_str(r#","contacts":[{"profile":{"name":"Load "#);
            let _ = write!(out, "{contact}");
            out.push_str(r#""},"wa_id":""#);
            self.identity.write_wa_id(&mut out, contact);
            out.push_str(r#""}],"messages":[{"from":""#);
            self.identity.write_wa_id(&mut out, contact);
            out.push_str(r#"","id":""#);
            self.identity.write_wamid(&mut out, message);
            let _ = write!(out, r#"","timestamp":"{unix_secs}","#);
            out.push_str(r#""type":"text","text":{"body":""#);
            out.push_str(text_for(message));
            out.push_str(r#""}}]},"field":"messages"}"#);
        }
        out.push_str("]}]}");
        out
    }

    /// `sha256=<hex HMAC-SHA256(app secret, body)>`, as in `X-Hub-Signature-256`.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut sig = String::with_capacity(7 + 64);
        sig.push_str("sha256=");
        sig.push_str(&hex::encode(digest));
        sig
    }

    pub fn build(&self, seq: u64, unix_secs: u64) -> SignedWebhook {
        let body = self.body(seq, unix_secs).into_bytes();
        let signature = self.sign(&body);
        SignedWebhook { body, signature }
    }
}

fn text_for(message: u64) -> &'static str {
    // A cheap scramble so consecutive messages of one contact differ.
    let i = message.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    TEXTS[usize::try_from(i % TEXTS.len() as u64).unwrap_or(0)]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn builder(per_webhook: u64) -> WebhookBuilder {
        let identity = RunIdentity::new(0x1234_5678_9abc_def0, 1000).unwrap();
        WebhookBuilder::new(identity, b"test-app-secret", "100000000000001", "100000000000000", per_webhook).unwrap()
    }

    #[test]
    fn signature_matches_meta_sdk_test_vector() {
        let identity = RunIdentity::new(1, 1).unwrap();
        let b = WebhookBuilder::new(identity, b"TEST_APP_SECRET", "1", "1", 1).unwrap();
        assert_eq!(b.sign(b"test"), "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221");
    }

    #[test]
    fn body_is_valid_meta_shaped_json_with_a_matching_signature() {
        let b = builder(1);
        let wh = b.build(42, 1_700_000_000);
        assert!(wh.body.is_ascii(), "Meta sends escaped ASCII");

        let mut mac = HmacSha256::new_from_slice(b"test-app-secret").unwrap();
        mac.update(&wh.body);
        let hex_sig = wh.signature.strip_prefix("sha256=").unwrap();
        assert_eq!(hex_sig.len(), 64);
        assert_eq!(hex_sig, hex_sig.to_ascii_lowercase());
        mac.verify_slice(&hex::decode(hex_sig).unwrap()).unwrap();

        let v: Value = serde_json::from_slice(&wh.body).unwrap();
        assert_eq!(v["object"], "whatsapp_business_account");
        let entry = &v["entry"][0];
        assert_eq!(entry["id"], "100000000000000");
        let change = &entry["changes"][0];
        assert_eq!(change["field"], "messages");
        let value = &change["value"];
        assert_eq!(value["messaging_product"], "whatsapp");
        assert_eq!(value["metadata"]["phone_number_id"], "100000000000001");
        let wa_id = value["contacts"][0]["wa_id"].as_str().unwrap();
        assert_eq!(value["contacts"][0]["profile"]["name"], "Load 42");
        let msg = &value["messages"][0];
        assert_eq!(msg["from"], wa_id);
        assert_eq!(msg["type"], "text");
        assert_eq!(msg["timestamp"], "1700000000");
        assert!(!msg["text"]["body"].as_str().unwrap().is_empty());
        let wamid = msg["id"].as_str().unwrap();
        assert!(wamid.starts_with("wamid."));
        assert_eq!(b.identity().message_of_wamid(wamid), Some(42));
        assert!(b.identity().owns_wa_id(wa_id));
        assert!(wa_id.len() <= 15 && wa_id.bytes().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn batched_body_carries_every_message_once() {
        let b = builder(5);
        let wh = b.build(3, 1);
        let v: Value = serde_json::from_slice(&wh.body).unwrap();
        let changes = v["entry"][0]["changes"].as_array().unwrap();
        let wamids: Vec<u64> = changes
            .iter()
            .map(|c| {
                let id = c["value"]["messages"][0]["id"].as_str().unwrap();
                b.identity().message_of_wamid(id).unwrap()
            })
            .collect();
        assert_eq!(wamids, (15..20).collect::<Vec<_>>());
    }

    #[test]
    fn every_text_is_a_valid_json_string_and_non_ascii_ones_decode() {
        for t in TEXTS {
            let decoded: String = serde_json::from_str(&format!("\"{t}\"")).unwrap();
            assert!(!decoded.is_empty());
            assert!(t.is_ascii());
        }
        let hindi: String = serde_json::from_str(&format!("\"{}\"", TEXTS[2])).unwrap();
        assert!(hindi.starts_with("\u{939}\u{947}\u{932}\u{94b}"));
    }

    #[test]
    fn identities_are_distinct_per_run_and_bounded() {
        let a = RunIdentity::new(1, 1000).unwrap();
        let b = RunIdentity::new(2, 1000).unwrap();
        assert_ne!(a.wa_id(7), b.wa_id(7));
        assert!(!b.owns_wa_id(&a.wa_id(7)));
        assert!(a.owns_wa_id(&a.wa_id(999)));
        assert_eq!(a.contact_of_wa_id(&a.wa_id(42)), Some(42));
        assert_eq!(b.contact_of_wa_id(&a.wa_id(42)), None);
        assert!(!a.owns_wa_id(&format!("{}1000", a.wa_prefix())));
        assert_eq!(a.message_of_wamid(&b.wamid(5)), None);
        assert_eq!(a.wa_id(0).len(), 14);

        let big = RunIdentity::new(u64::MAX, 10_000_000).unwrap();
        assert_eq!(big.wa_id(9_999_999).len(), 15);
        assert!(RunIdentity::new(1, 1_000_000_000).is_err());
        assert!(RunIdentity::new(1, 0).is_err());
    }
}
