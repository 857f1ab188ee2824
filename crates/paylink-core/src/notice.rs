//! Telling merchants what happened: notices (postbacks) written to the outbox in the same
//! transaction as the state change they report, their wire body and signatures, and the retry
//! schedule of their delivery. Delivery itself is the server's.

use crate::bill::Bill;
use crate::id::{BillId, MerchantId, ShopId};
use crate::money::format_fixed;
use crate::payment::Payment;
use crate::payout::Payout;
use crate::refund::Refund;
use crate::time::Millis;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rand::RngCore;
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A payment reached a final state (compat item 17).
    Payment,
    /// A payout reached a final state (seed "Payout postback notifications", compat item 18).
    Payout,
    /// A refund was made (compat item 19).
    Refund,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Payment => "payment",
            NoticeKind::Payout => "payout",
            NoticeKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<NoticeKind> {
        [NoticeKind::Payment, NoticeKind::Payout, NoticeKind::Refund]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    /// The fields whose values, joined by `:` and followed by the merchant's token, are signed.
    fn signed(self) -> &'static [&'static str] {
        match self {
            NoticeKind::Payment => &["OutSum", "InvId"],
            NoticeKind::Payout => &["Amount", "TrsId"],
            NoticeKind::Refund => &["Amount", "Currency", "BillId", "PaymentId", "Id"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt of the schedule failed; `paylink postback redeliver` starts a new round.
    Failed,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Delivered => "delivered",
            NoticeState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<NoticeState> {
        [
            NoticeState::Pending,
            NoticeState::Delivered,
            NoticeState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One notification to one URL. Its id and fields never change, so every attempt carries the
/// same `webhook-id` and the same signature inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: String,
    pub kind: NoticeKind,
    pub merchant_id: MerchantId,
    /// `None` for payouts, which belong to the merchant, not a shop.
    pub shop_id: Option<ShopId>,
    pub bill_id: Option<BillId>,
    /// The payment (or later refund, payout) it reports.
    pub subject_id: String,
    pub url: String,
    /// The form fields, without `SignatureValue` (that depends on the merchant's current token).
    pub fields: Vec<(String, String)>,
    pub created_at: Millis,
}

impl Notice {
    /// The postback of a payment in a final state, to the shop's result URL.
    pub fn for_payment(bill: &Bill, payment: &Payment, url: &str, now: Millis) -> Notice {
        let mut fields = payer_fields(bill, payment);
        fields.insert(2, ("Commission".into(), format_fixed(payment.commission)));
        fields.insert(3, ("TrsId".into(), payment.id.to_string()));
        fields.insert(4, ("Status".into(), payment.status.as_str().into()));
        Notice {
            id: format!("msg_{}", payment.id),
            kind: NoticeKind::Payment,
            merchant_id: payment.merchant_id.clone(),
            shop_id: Some(payment.shop_id.clone()),
            bill_id: Some(payment.bill_id.clone()),
            subject_id: payment.id.to_string(),
            url: url.to_string(),
            fields,
            created_at: now,
        }
    }

    /// The webhook of a payout in a final state, to the merchant's payout webhook URL.
    pub fn for_payout(payout: &Payout, url: &str, now: Millis) -> Notice {
        let amount = format_fixed(payout.amount);
        let commission = format_fixed(payout.commission);
        let currency = payout.currency.code().to_string();
        let fields = vec![
            ("TrsId".into(), payout.id.to_string()),
            ("Amount".into(), amount.clone()),
            ("IsAuto".into(), "false".into()),
            ("Status".into(), payout.status.as_str().into()),
            ("Currency".into(), currency.clone()),
            ("Commission".into(), commission.clone()),
            (
                "AccountType".into(),
                payout.payee.account_type.wire().into(),
            ),
            ("AccountNumber".into(), payout.payee.identifier.clone()),
            ("BalanceAmount".into(), amount),
            ("BalanceCommission".into(), commission),
            ("BalanceCurrency".into(), currency),
            ("CommissionApplyType".into(), "sender".into()),
        ];
        Notice {
            id: format!("msg_{}", payout.id),
            kind: NoticeKind::Payout,
            merchant_id: payout.merchant_id.clone(),
            shop_id: None,
            bill_id: None,
            subject_id: payout.id.to_string(),
            url: url.to_string(),
            fields,
            created_at: now,
        }
    }

    /// The postback of a refund, to the shop's result URL.
    pub fn for_refund(refund: &Refund, custom: Option<&str>, url: &str, now: Millis) -> Notice {
        let fields = vec![
            ("Id".into(), refund.id.to_string()),
            ("PaymentId".into(), refund.payment_id.to_string()),
            ("BillId".into(), refund.bill_id.to_string()),
            ("Amount".into(), format_fixed(refund.amount)),
            ("Currency".into(), refund.currency.code().into()),
            ("Status".into(), refund.status.as_str().into()),
            ("Type".into(), "REFUND".into()),
            ("custom".into(), custom.unwrap_or_default().into()),
        ];
        Notice {
            id: format!("msg_{}", refund.id),
            kind: NoticeKind::Refund,
            merchant_id: refund.merchant_id.clone(),
            shop_id: Some(refund.shop_id.clone()),
            bill_id: Some(refund.bill_id.clone()),
            subject_id: refund.id.to_string(),
            url: url.to_string(),
            fields,
            created_at: now,
        }
    }

    /// The fields with `SignatureValue` appended, signed with the merchant's `token`.
    pub fn signed_fields(&self, token: &str) -> Vec<(String, String)> {
        let mut fields = self.fields.clone();
        sign(&mut fields, self.kind.signed(), token);
        fields
    }
}

/// `InvId`, `OutSum`, `CurrencyIn`, `custom`: what the payer's browser carries to the success or
/// fail URL (compat item 20), unsigned. The postback adds commission, id and status.
pub fn payer_fields(bill: &Bill, payment: &Payment) -> Vec<(String, String)> {
    vec![
        (
            "InvId".into(),
            bill.order_id.clone().unwrap_or_else(|| bill.id.to_string()),
        ),
        ("OutSum".into(), format_fixed(payment.amount)),
        ("CurrencyIn".into(), payment.currency.code().into()),
        ("custom".into(), bill.custom.clone().unwrap_or_default()),
    ]
}

/// The redirect's fields with their `SignatureValue`.
pub fn signed_redirect(bill: &Bill, payment: &Payment, token: &str) -> Vec<(String, String)> {
    let mut fields = payer_fields(bill, payment);
    sign(&mut fields, NoticeKind::Payment.signed(), token);
    fields
}

fn sign(fields: &mut Vec<(String, String)>, names: &[&str], token: &str) {
    let values: Vec<&str> = names
        .iter()
        .map(|n| {
            fields
                .iter()
                .find(|(k, _)| k == n)
                .map_or("", |(_, v)| v.as_str())
        })
        .collect();
    let signature = md5_signature(&values, token);
    fields.push(("SignatureValue".into(), signature));
}

/// `UPPER(md5(v1:v2:...:token))`, the Cardlink signature.
pub fn md5_signature(values: &[&str], token: &str) -> String {
    let mut h = Md5::new();
    for v in values {
        h.update(v.as_bytes());
        h.update(b":");
    }
    h.update(token.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02X}")).collect()
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

/// When failed deliveries are tried again: `delays[n]` after the (n+1)th failed attempt of a
/// round, each moved by a random jitter of up to `jitter_percent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Millis>,
    pub jitter_percent: u32,
}

impl Default for RetrySchedule {
    /// 12 attempts over about 44 hours (at least 39 with the jitter): more patient than the
    /// real service's 6 attempts over 31 hours.
    fn default() -> Self {
        let s = 1000;
        let m = 60 * s;
        let h = 60 * m;
        RetrySchedule {
            delays: vec![
                10 * s,
                m,
                5 * m,
                15 * m,
                30 * m,
                h,
                2 * h,
                4 * h,
                8 * h,
                12 * h,
                16 * h,
            ],
            jitter_percent: 10,
        }
    }
}

/// What to do with a notice after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(Millis),
    GiveUp,
}

impl RetrySchedule {
    /// Attempts in one round, the first included.
    pub fn attempts(&self) -> usize {
        self.delays.len() + 1
    }

    /// After the `made`th attempt of a round (1-based): `ok` delivers; a failure waits the
    /// scheduled delay, moved by `roll` (uniform in `0..=2000`, 1000 meaning no jitter).
    pub fn after(&self, made: u32, ok: bool, now: Millis, roll: u32) -> AfterAttempt {
        if ok {
            return AfterAttempt::Delivered;
        }
        let Some(&delay) = self.delays.get(made.saturating_sub(1) as usize) else {
            return AfterAttempt::GiveUp;
        };
        let roll = i64::from(roll.min(2000)) - 1000;
        let jitter = delay * i64::from(self.jitter_percent) / 100 * roll / 1000;
        AfterAttempt::RetryAt(now + (delay + jitter).max(0))
    }
}

/// `250ms`, `10s`, `5m`, `2h`, `1d` as milliseconds.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: Millis = n.parse().ok()?;
    let unit_ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::NewBill;
    use crate::id::PaymentId;
    use crate::merchant::Shop;
    use crate::money::Amount;
    use crate::money::Rate;
    use crate::payment::{settle, Charge, ChargeResult, PaymentMethod};

    fn paid(order_id: Option<&str>, custom: Option<&str>) -> (Bill, Payment) {
        let m = MerchantId::from_trusted("MMMMMMMMMM".into());
        let shop = Shop::new(
            ShopId::from_trusted("SSSSSSSSSS".into()),
            m.clone(),
            "s".into(),
            0,
        );
        let bill = NewBill {
            amount: Amount::from_minor(12_345),
            order_id: order_id.map(String::from),
            custom: custom.map(String::from),
            ..NewBill::default()
        }
        .open(&m, &shop, BillId::from_trusted("BBBBBBBBBB".into()), 0)
        .unwrap();
        let charge = Charge {
            method: PaymentMethod::BankCard,
            paid: 12_345,
            from_card: "424242******4242".into(),
            card_fingerprint: None,
            result: ChargeResult::Approved,
            client_addr: None,
        };
        let (p, _) = settle(
            &bill,
            Rate::from_bps(100).unwrap(),
            charge,
            PaymentId::from_trusted("PPPPPPPPPP".into()),
            None,
            crate::payment::Booking::immediate(bill.currency),
            5,
        )
        .unwrap();
        (bill, p)
    }

    #[test]
    fn the_payment_postback_has_every_field_and_the_cardlink_signature() {
        let (bill, p) = paid(Some("order-7"), Some("note"));
        let n = Notice::for_payment(&bill, &p, "https://m.test/cb", 5);
        let token = "17|abcdef";
        let fields = n.signed_fields(token);
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "InvId",
                "OutSum",
                "Commission",
                "TrsId",
                "Status",
                "CurrencyIn",
                "custom",
                "SignatureValue"
            ]
        );
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("InvId"), "order-7");
        assert_eq!(get("OutSum"), "123.45");
        assert_eq!(get("Commission"), "1.23");
        assert_eq!(get("Status"), "SUCCESS");
        // md5("123.45:order-7:17|abcdef"), computed independently.
        let expected = format!("{:X}", Md5::digest(b"123.45:order-7:17|abcdef"));
        assert_eq!(get("SignatureValue"), expected);
        assert_eq!(n.id, "msg_PPPPPPPPPP");
    }

    #[test]
    fn without_an_order_id_the_bill_id_is_the_invoice() {
        let (bill, p) = paid(None, None);
        let f = signed_redirect(&bill, &p, "t");
        assert_eq!(f[0], ("InvId".into(), "BBBBBBBBBB".into()));
        assert_eq!(f[3], ("custom".into(), String::new()));
        assert_eq!(f[4].1, md5_signature(&["123.45", "BBBBBBBBBB"], "t"));
    }

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

    #[test]
    fn the_default_schedule_is_at_least_twelve_attempts_over_a_day_whatever_the_jitter() {
        let s = RetrySchedule::default();
        assert!(s.attempts() >= 12);
        for roll in [0, 1000, 2000] {
            let mut now = 0;
            let mut made = 1;
            while let AfterAttempt::RetryAt(t) = s.after(made, false, now, roll) {
                assert!(t > now);
                now = t;
                made += 1;
            }
            assert_eq!(made as usize, s.attempts());
            assert!(now >= 24 * 3_600_000, "last attempt after {now} ms");
        }
        assert_eq!(s.after(3, true, 7, 0), AfterAttempt::Delivered);
        assert_eq!(s.after(1, false, 0, 1000), AfterAttempt::RetryAt(10_000));
        assert_eq!(s.after(1, false, 0, 0), AfterAttempt::RetryAt(9_000));
        assert_eq!(s.after(1, false, 0, 2000), AfterAttempt::RetryAt(11_000));
    }

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("10s"), Some(10_000));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("3w"), None);
    }
}
