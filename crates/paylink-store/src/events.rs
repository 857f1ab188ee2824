//! Events as the outbox keeps them: one JSON object each, `type` naming the event and the
//! other members its facts (amounts in minor units, currencies as ISO codes). The shape is
//! stored, so it only grows: a member is never renamed or given another meaning.

use crate::StoreError;
use paylink_core::event::{
    Email, Event, LinkPaymentFinished, PaymentFinished, PayoutFinished, RefundMade, Sms,
};
use paylink_core::id::{BillId, PaymentId, PayoutId, RefundId};
use paylink_core::money::Currency;
use serde_json::{json, Map, Value};

pub(crate) fn encode(event: &Event) -> String {
    let value = match event {
        Event::PaymentFinished(e) => json!({
            "type": "payment_finished",
            "payment_id": e.payment_id.as_str(),
            "bill_id": e.bill_id.as_str(),
            "order_id": e.order_id,
            "status": e.status,
            "amount": e.amount,
            "commission": e.commission,
            "currency": e.currency.code(),
            "custom": e.custom,
        }),
        Event::PayoutFinished(e) => json!({
            "type": "payout_finished",
            "payout_id": e.payout_id.as_str(),
            "status": e.status,
            "amount": e.amount,
            "commission": e.commission,
            "currency": e.currency.code(),
            "account_type": e.account_type,
            "payee": e.payee,
        }),
        Event::RefundMade(e) => json!({
            "type": "refund_made",
            "refund_id": e.refund_id.as_str(),
            "payment_id": e.payment_id.as_str(),
            "bill_id": e.bill_id.as_str(),
            "status": e.status,
            "amount": e.amount,
            "currency": e.currency.code(),
            "custom": e.custom,
        }),
        Event::LinkPaymentFinished(e) => json!({
            "type": "link_payment_finished",
            "payment_id": e.payment_id.as_str(),
            "link_id": e.link_id.as_str(),
            "status": e.status,
            "amount": e.amount,
            "fee": e.fee,
            "currency": e.currency.code(),
            "card_mask": e.card_mask,
            "reason": e.reason,
            "reason_code": e.reason_code,
            "created_at": e.created_at,
        }),
        Event::Email(e) => json!({
            "type": "email",
            "subject_id": e.subject_id,
            "to": e.to,
            "subject": e.subject,
            "text_sealed": e.text_sealed,
        }),
        Event::Sms(e) => json!({
            "type": "sms",
            "subject": e.subject,
            "phone": e.phone,
            "text_sealed": e.text_sealed,
            "expires_at": e.expires_at,
        }),
    };
    value.to_string()
}

pub(crate) fn decode(text: &str) -> Result<Event, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("outbox event {why}: {text:?}"));
    let value: Value = serde_json::from_str(text).map_err(|_| corrupt("is not JSON"))?;
    let o = value
        .as_object()
        .ok_or_else(|| corrupt("is not an object"))?;
    let f = Facts { o, corrupt };
    Ok(match f.text("type")?.as_str() {
        "payment_finished" => Event::PaymentFinished(PaymentFinished {
            payment_id: PaymentId::from_trusted(f.text("payment_id")?),
            bill_id: BillId::from_trusted(f.text("bill_id")?),
            order_id: f.opt_text("order_id")?,
            status: f.text("status")?,
            amount: f.int("amount")?,
            commission: f.int("commission")?,
            currency: f.currency()?,
            custom: f.opt_text("custom")?,
        }),
        "payout_finished" => Event::PayoutFinished(PayoutFinished {
            payout_id: PayoutId::from_trusted(f.text("payout_id")?),
            status: f.text("status")?,
            amount: f.int("amount")?,
            commission: f.int("commission")?,
            currency: f.currency()?,
            account_type: f.text("account_type")?,
            payee: f.text("payee")?,
        }),
        "refund_made" => Event::RefundMade(RefundMade {
            refund_id: RefundId::from_trusted(f.text("refund_id")?),
            payment_id: PaymentId::from_trusted(f.text("payment_id")?),
            bill_id: BillId::from_trusted(f.text("bill_id")?),
            status: f.text("status")?,
            amount: f.int("amount")?,
            currency: f.currency()?,
            custom: f.opt_text("custom")?,
        }),
        "link_payment_finished" => Event::LinkPaymentFinished(LinkPaymentFinished {
            payment_id: PaymentId::from_trusted(f.text("payment_id")?),
            link_id: BillId::from_trusted(f.text("link_id")?),
            status: f.text("status")?,
            amount: f.int("amount")?,
            fee: f.int("fee")?,
            currency: f.currency()?,
            card_mask: f.text("card_mask")?,
            reason: f.opt_text("reason")?,
            reason_code: f.opt_int("reason_code")?,
            created_at: f.int("created_at")?,
        }),
        "email" => Event::Email(Email {
            subject_id: f.text("subject_id")?,
            to: f.text("to")?,
            subject: f.text("subject")?,
            text_sealed: f.text("text_sealed")?,
        }),
        "sms" => Event::Sms(Sms {
            subject: f.text("subject")?,
            phone: f.text("phone")?,
            text_sealed: f.text("text_sealed")?,
            // Absent in messages written before codes expired their messages.
            expires_at: f.opt_int("expires_at")?,
        }),
        _ => return Err(corrupt("has an unknown type")),
    })
}

/// The members of one stored event.
struct Facts<'a, C: Fn(&str) -> StoreError> {
    o: &'a Map<String, Value>,
    corrupt: C,
}

impl<C: Fn(&str) -> StoreError> Facts<'_, C> {
    fn text(&self, name: &str) -> Result<String, StoreError> {
        self.opt_text(name)?
            .ok_or_else(|| (self.corrupt)(&format!("lacks {name}")))
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err((self.corrupt)(&format!("has a {name} that is not text"))),
        }
    }

    fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| (self.corrupt)(&format!("has a {name} that is not an integer"))),
        }
    }

    fn int(&self, name: &str) -> Result<i64, StoreError> {
        self.o
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| (self.corrupt)(&format!("lacks the integer {name}")))
    }

    fn currency(&self) -> Result<Currency, StoreError> {
        self.text("currency")?
            .parse()
            .map_err(|()| (self.corrupt)("has an unknown currency"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_written() {
        let events = [
            Event::PaymentFinished(PaymentFinished {
                payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
                bill_id: BillId::from_trusted("BBBBBBBBBB".into()),
                order_id: Some("order \"7\" é".into()),
                status: "SUCCESS".into(),
                amount: 12_345,
                commission: 123,
                currency: Currency::Rub,
                custom: None,
            }),
            Event::PayoutFinished(PayoutFinished {
                payout_id: PayoutId::from_trusted("QQQQQQQQQQ".into()),
                status: "FAIL".into(),
                amount: 100_000,
                commission: 7_000,
                currency: Currency::Rub,
                account_type: "sbp".into(),
                payee: "+79990001122".into(),
            }),
            Event::RefundMade(RefundMade {
                refund_id: RefundId::from_trusted("RRRRRRRRRR".into()),
                payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
                bill_id: BillId::from_trusted("BBBBBBBBBB".into()),
                status: "SUCCESS".into(),
                amount: 1,
                currency: Currency::Rub,
                custom: Some(String::new()),
            }),
            Event::LinkPaymentFinished(LinkPaymentFinished {
                payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
                link_id: BillId::from_trusted("BBBBBBBBBB".into()),
                status: "DECLINED".into(),
                amount: 10_034,
                fee: 0,
                currency: Currency::Rub,
                card_mask: "400000******0002".into(),
                reason: Some("Insufficient funds".into()),
                reason_code: Some(51),
                created_at: 1_700_000_000_000,
            }),
        ];
        for e in events {
            assert_eq!(decode(&encode(&e)).unwrap(), e);
        }
        assert!(decode("{\"type\":\"payment_finished\"}").is_err());
        assert!(decode("[]").is_err());
    }
}
