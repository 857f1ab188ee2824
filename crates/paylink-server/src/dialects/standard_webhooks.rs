//! Standard Webhooks (standardwebhooks.com), which every dialect's notices carry besides their
//! own signatures: `webhook-id` (the notice's id, the same on every attempt),
//! `webhook-timestamp` (the attempt's time) and, when the notice's shop has a webhook key,
//! `webhook-signature`.

use crate::keys::{webhook_context, Sealing};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use paylink_core::time::Millis;
use paylink_store::Claimed;
use rand::RngCore;
use sha2::Sha256;

/// The headers of one attempt at `at` to deliver `body` of `content_type`, in the order they
/// are sent.
pub fn headers(
    seal: &Sealing,
    claimed: &Claimed,
    content_type: &str,
    body: &str,
    at: Millis,
) -> Vec<(&'static str, String)> {
    let notice = &claimed.record.notice;
    let timestamp = at.div_euclid(1000);
    let mut headers = vec![
        ("content-type", content_type.to_string()),
        ("webhook-id", notice.id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
    ];
    // Payout webhooks belong to no shop and carry only their dialect's own signature.
    let key = match (&notice.shop_id, claimed.webhook_key_sealed.as_deref()) {
        (Some(shop), Some(sealed)) => seal
            .open(sealed, &webhook_context(shop.as_str()))
            .and_then(|text| WebhookKey::parse(text.expose())),
        _ => None,
    };
    match (key, &notice.shop_id) {
        (Some(key), _) => {
            headers.push(("webhook-signature", key.sign(&notice.id, timestamp, body)))
        }
        (None, Some(shop)) => {
            tracing::warn!(shop = %shop, "shop has no webhook key: notice sent without webhook-signature")
        }
        (None, None) => {}
    }
    headers
}

/// A shop's Standard Webhooks key: `whsec_` and base64 of 24 random bytes.
pub struct WebhookKey(Vec<u8>);

impl WebhookKey {
    pub const PREFIX: &'static str = "whsec_";

    /// A fresh key in its text form, as shown to the merchant.
    pub fn generate(rng: &mut impl RngCore) -> String {
        let mut key = [0u8; 24];
        rng.fill_bytes(&mut key);
        format!("{}{}", WebhookKey::PREFIX, B64.encode(key))
    }

    pub fn parse(text: &str) -> Option<WebhookKey> {
        let key = B64.decode(text.strip_prefix(WebhookKey::PREFIX)?).ok()?;
        (!key.is_empty()).then_some(WebhookKey(key))
    }

    /// `webhook-signature`: `v1,` and base64 of HMAC-SHA256 over `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp_secs: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp_secs}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_webhooks_signature_matches_the_reference_vector() {
        // The example of the Standard Webhooks specification.
        let key = WebhookKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let fresh = WebhookKey::generate(&mut rand::thread_rng());
        assert!(WebhookKey::parse(&fresh).is_some());
        assert!(WebhookKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
    }

    proptest! {
        #[test]
        fn any_text_parses_as_a_webhook_key_or_not_without_panicking(text in "\\PC{0,48}") {
            let _ = WebhookKey::parse(&text);
            let _ = WebhookKey::parse(&format!("{}{text}", WebhookKey::PREFIX));
        }
    }
}
