//! Events: what happened that someone must be told, as facts (ids, amounts in minor units with
//! their currency, statuses), and the outbox notices that carry them. An event is written to the
//! outbox in the same plan as the change it reports; the dialect named on the notice renders
//! it (field names, encoding, signatures) when it is delivered. Nothing here knows a wire
//! format. This module imports only plain value types, so every domain module may build events.

use crate::id::{BillId, MerchantId, PartnerId, PaymentId, PayoutId, RefundId, ShopId};
use crate::money::Currency;
use crate::time::Millis;

/// Something that happened, as told to a merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PaymentFinished(PaymentFinished),
    PayoutFinished(PayoutFinished),
    RefundMade(RefundMade),
    LinkPaymentFinished(LinkPaymentFinished),
    /// A text message to a phone (a gift card's OTP).
    Sms(Sms),
    /// An email (a password reset link, an invitation, a dispute's reply).
    Email(Email),
}

/// An email, sent through the configured mail gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// What it is about (unique: one message per subject).
    pub subject_id: String,
    pub to: String,
    pub subject: String,
    /// The text sealed under the instance key, bound to the message (it may hold a one-time
    /// link).
    pub text_sealed: String,
}

/// A text message to a phone, sent through the configured SMS gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// What it is about (a gift card's id and the code's issue time): one message per code.
    pub subject: String,
    /// Digits with the country code.
    pub phone: String,
    /// The text sealed under the instance key, bound to the message (it holds a one-time
    /// code): a database reader learns nothing from it.
    pub text_sealed: String,
    /// When what it carries stops being good (a one-time code's expiry): from then on it is
    /// not sent, and its retries are given up. `None`: good for ever.
    pub expires_at: Option<Millis>,
}

/// A payment of a permanent link reached a final state (the Procard callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPaymentFinished {
    pub payment_id: PaymentId,
    pub link_id: BillId,
    /// `APPROVED` or `DECLINED`.
    pub status: String,
    pub amount: i64,
    pub fee: i64,
    pub currency: Currency,
    /// `first6******last4`.
    pub card_mask: String,
    /// Why it was declined (the acquirer's words and code), if it was.
    pub reason: Option<String>,
    pub reason_code: Option<i64>,
    pub created_at: Millis,
}

/// A payment reached a final state (compat item 17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFinished {
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    /// The merchant's order id of the bill, if it has one.
    pub order_id: Option<String>,
    /// The payment's status, as `PaymentStatus::as_str`.
    pub status: String,
    /// What the payer paid (or tried to pay).
    pub amount: i64,
    /// 0 for a failed payment.
    pub commission: i64,
    pub currency: Currency,
    /// The bill's `custom`, if it has one.
    pub custom: Option<String>,
}

/// A payout reached a final state (seed "Payout postback notifications", compat item 18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutFinished {
    pub payout_id: PayoutId,
    /// The payout's status, as `PayoutStatus::as_str`.
    pub status: String,
    /// What the recipient gets.
    pub amount: i64,
    /// Charged on top of `amount` to the merchant.
    pub commission: i64,
    pub currency: Currency,
    /// Where it went, as `AccountType::as_str` (`card`, `sbp`).
    pub account_type: String,
    /// The payee as it may be shown: `first6******last4` or `+7XXXXXXXXXX`.
    pub payee: String,
}

/// A refund was made (compat item 19).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundMade {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    /// The refund's status, as `RefundStatus::as_str`.
    pub status: String,
    /// In the payment's currency.
    pub amount: i64,
    pub currency: Currency,
    /// The bill's `custom`, if it has one.
    pub custom: Option<String>,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::PaymentFinished(_) => EventKind::Payment,
            Event::PayoutFinished(_) => EventKind::Payout,
            Event::RefundMade(_) => EventKind::Refund,
            Event::LinkPaymentFinished(_) => EventKind::Payment,
            Event::Sms(_) => EventKind::Sms,
            Event::Email(_) => EventKind::Email,
        }
    }

    /// The id of the payment, payout or refund it is about.
    pub fn subject_id(&self) -> &str {
        match self {
            Event::PaymentFinished(e) => e.payment_id.as_str(),
            Event::PayoutFinished(e) => e.payout_id.as_str(),
            Event::RefundMade(e) => e.refund_id.as_str(),
            Event::LinkPaymentFinished(e) => e.payment_id.as_str(),
            Event::Sms(e) => &e.subject,
            Event::Email(e) => &e.subject_id,
        }
    }
}

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Payment,
    Payout,
    Refund,
    Sms,
    Email,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Payment => "payment",
            EventKind::Payout => "payout",
            EventKind::Refund => "refund",
            EventKind::Sms => "sms",
            EventKind::Email => "email",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        [
            EventKind::Payment,
            EventKind::Payout,
            EventKind::Refund,
            EventKind::Sms,
            EventKind::Email,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The wire dialect that renders a notice for its recipient: the one the recipient speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Postbacks to a shop's result URL and payout webhooks.
    Cardlink,
    /// Callbacks of permanent links.
    Procard,
    /// The Card API's messages (gift-card OTPs by SMS).
    CardApi,
    /// Emails of the web pages (to the mail gateway).
    Mail,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Cardlink => "cardlink",
            Dialect::Procard => "procard",
            Dialect::CardApi => "cardapi",
            Dialect::Mail => "mail",
        }
    }

    pub fn parse(text: &str) -> Option<Dialect> {
        [
            Dialect::Cardlink,
            Dialect::Procard,
            Dialect::CardApi,
            Dialect::Mail,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt of the schedule failed; `paylink postback redeliver` starts a new round.
    Failed,
    /// Kept, never sent: a message with nowhere to go (an SMS while no gateway is configured),
    /// read with `paylink sms list`.
    Kept,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Delivered => "delivered",
            NoticeState::Failed => "failed",
            NoticeState::Kept => "kept",
        }
    }

    pub fn parse(text: &str) -> Option<NoticeState> {
        [
            NoticeState::Pending,
            NoticeState::Delivered,
            NoticeState::Failed,
            NoticeState::Kept,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One event to tell one URL, in one dialect. Its id and event never change, so every attempt
/// renders the same body and carries the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: String,
    pub dialect: Dialect,
    /// Whose notice it is: a merchant's, or (Card API messages) a partner's.
    pub merchant_id: Option<MerchantId>,
    pub partner_id: Option<PartnerId>,
    /// `None` for payouts, which belong to the merchant, not a shop.
    pub shop_id: Option<ShopId>,
    pub bill_id: Option<BillId>,
    pub url: String,
    pub event: Event,
    pub created_at: Millis,
}

impl Notice {
    /// The notice of `event` to `url`; its id derives from the event's subject, so one subject
    /// is told once.
    pub fn new(
        dialect: Dialect,
        merchant_id: MerchantId,
        shop_id: Option<ShopId>,
        bill_id: Option<BillId>,
        url: &str,
        event: Event,
        now: Millis,
    ) -> Notice {
        // One subject is told once per dialect (a link's payment may also be a shop's postback).
        let id = match dialect {
            Dialect::Cardlink => format!("msg_{}", event.subject_id()),
            other => format!("msg_{}_{}", other.as_str(), event.subject_id()),
        };
        Notice {
            id,
            dialect,
            merchant_id: Some(merchant_id),
            partner_id: None,
            shop_id,
            bill_id,
            url: url.to_string(),
            event,
            created_at: now,
        }
    }
}

impl Notice {
    /// A partner's text message to `url` (the SMS gateway).
    pub fn sms(partner_id: PartnerId, url: &str, sms: Sms, now: Millis) -> Notice {
        Notice {
            id: format!("msg_sms_{}", sms.subject),
            dialect: Dialect::CardApi,
            merchant_id: None,
            partner_id: Some(partner_id),
            shop_id: None,
            bill_id: None,
            url: url.to_string(),
            event: Event::Sms(sms),
            created_at: now,
        }
    }
}

impl Notice {
    /// An email to `url` (the mail gateway; empty: kept for `paylink mail list`).
    pub fn email(url: &str, email: Email, now: Millis) -> Notice {
        Notice {
            id: format!("msg_mail_{}", email.subject_id),
            dialect: Dialect::Mail,
            merchant_id: None,
            partner_id: None,
            shop_id: None,
            bill_id: None,
            url: url.to_string(),
            event: Event::Email(email),
            created_at: now,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_is_named_after_its_subject_and_its_names_read_back() {
        let event = Event::PayoutFinished(PayoutFinished {
            payout_id: PayoutId::from_trusted("QQQQQQQQQQ".into()),
            status: "SUCCESS".into(),
            amount: 100,
            commission: 1,
            currency: Currency::Rub,
            account_type: "sbp".into(),
            payee: "+79990001122".into(),
        });
        let n = Notice::new(
            Dialect::Cardlink,
            MerchantId::from_trusted("MMMMMMMMMM".into()),
            None,
            None,
            "https://m.test/payouts",
            event,
            7,
        );
        assert_eq!(n.id, "msg_QQQQQQQQQQ");
        assert_eq!(n.event.kind(), EventKind::Payout);
        for k in [
            EventKind::Payment,
            EventKind::Payout,
            EventKind::Refund,
            EventKind::Sms,
        ] {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Dialect::parse("cardlink"), Some(Dialect::Cardlink));
        assert_eq!(Dialect::parse("procard"), Some(Dialect::Procard));
        assert_eq!(Dialect::parse("cardapi"), Some(Dialect::CardApi));
        assert_eq!(Dialect::parse("sms"), None);
    }
}
