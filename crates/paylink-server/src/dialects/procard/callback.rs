//! The Procard callback of a link payment (compat note, last section): a JSON POST with
//! `merchantSignature` = HMAC-SHA512 hex of `merchant_id;orderReference;amount;currency` under
//! the merchant's Procard key as it is when the callback is sent, and Standard Webhooks headers
//! signed with the shop's webhook key, like every paylink notice.

use super::sign::sign;
use crate::dialects::{standard_webhooks, Rendered};
use crate::keys::{procard_context, Sealing};
use paylink_api::procard::Callback;
use paylink_core::event::{Event, LinkPaymentFinished};
use paylink_core::money::{format_fixed, format_short};
use paylink_core::time::{format_datetime, Millis};
use paylink_store::{Claimed, NoticeContent, StoredNotice};

fn event(notice: &StoredNotice) -> Result<&LinkPaymentFinished, String> {
    match &notice.content {
        NoticeContent::Event(Event::LinkPaymentFinished(e)) => Ok(e),
        _ => Err("a Procard notice holds no link payment".into()),
    }
}

/// The callback's fields, signed with `key`.
pub fn callback(login: &str, key: &str, operation_id: i64, e: &LinkPaymentFinished) -> Callback {
    let amount = format_short(e.amount);
    let currency = e.currency.code().to_string();
    let order = e.payment_id.to_string();
    Callback {
        operation: "CallBack".into(),
        merchant_id: login.to_string(),
        merchant_account: login.to_string(),
        merchant_signature: sign(key, &[login, &order, &amount, &currency]),
        order_reference: order,
        amount,
        currency,
        created_date: format_datetime(e.created_at),
        card_pan: e.card_mask.clone(),
        card_type: card_type(&e.card_mask).into(),
        fee: format_fixed(e.fee),
        transaction_id: operation_id,
        transaction_status: e.status.clone(),
        reason: e.reason.clone().unwrap_or_else(|| "Ok".into()),
        reason_code: e.reason_code.unwrap_or(1100),
        link_id: e.link_id.to_string(),
    }
}

/// The card scheme by the first digit of the masked number.
fn card_type(mask: &str) -> &'static str {
    match mask.as_bytes().first() {
        Some(b'4') => "Visa",
        Some(b'5') | Some(b'2') => "MasterCard",
        Some(b'6') => "Maestro",
        _ => "Card",
    }
}

pub fn render(seal: &Sealing, claimed: &Claimed, at: Millis) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let e = event(notice)?;
    let (login, sealed) = claimed
        .procard
        .as_ref()
        .ok_or("the merchant has no Procard access: run `paylink procard enable`")?;
    let key = seal
        .open(
            sealed,
            &procard_context(notice.merchant_id.as_ref().map_or("", |m| m.as_str())),
        )
        .ok_or("the Procard key does not open with the instance keys")?;
    let body = serde_json::to_string(&callback(
        login,
        key.expose(),
        claimed.operation_id.unwrap_or(0),
        e,
    ))
    .map_err(|e| e.to_string())?;
    let headers = standard_webhooks::headers(seal, claimed, "application/json", &body, at);
    Ok(Rendered { headers, body })
}

/// The callback's fields for operators, unsigned.
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match event(notice) {
        Ok(e) => vec![
            ("orderReference".into(), e.payment_id.to_string()),
            ("link".into(), e.link_id.to_string()),
            ("amount".into(), format_short(e.amount)),
            ("currency".into(), e.currency.code().into()),
            ("transactionStatus".into(), e.status.clone()),
            ("cardPan".into(), e.card_mask.clone()),
            ("fee".into(), format_fixed(e.fee)),
        ],
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paylink_core::id::{BillId, PaymentId};
    use paylink_core::money::Currency;

    #[test]
    fn the_callback_is_signed_over_login_order_amount_and_currency() {
        let e = LinkPaymentFinished {
            payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
            link_id: BillId::from_trusted("LLLLLLLLLL".into()),
            status: "APPROVED".into(),
            amount: 20_050,
            fee: 602,
            currency: Currency::Rub,
            card_mask: "424242******4242".into(),
            reason: None,
            reason_code: None,
            created_at: 0,
        };
        let c = callback("TEST_TRADER_2", "secret", 78, &e);
        assert_eq!(c.amount, "200.5");
        assert_eq!(c.fee, "6.02");
        assert_eq!(c.created_date, "1970-01-01 00:00:00");
        assert_eq!(c.card_type, "Visa");
        assert_eq!(
            c.merchant_signature,
            sign("secret", &["TEST_TRADER_2", "PPPPPPPPPP", "200.5", "RUB"])
        );
        let json = serde_json::to_value(&c).unwrap();
        for key in [
            "merchant_id",
            "merchantAccount",
            "orderReference",
            "transactionStatus",
            "merchantSignature",
            "createdDate",
            "cardPan",
            "transactionId",
        ] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
    }
}
