//! Cardlink's outgoing messages: the postback of a payment or refund to a shop's result URL,
//! the payout webhook, and the signed fields the payer's browser carries to the shop's success
//! or fail URL. A form body with Cardlink's field names, an MD5 `SignatureValue` with the
//! merchant's API token, and Standard Webhooks headers signed with the shop's webhook key.

use crate::dialects::{standard_webhooks, Rendered};
use crate::keys::{token_context, Sealing};
use md5::{Digest, Md5};
use paylink_core::bill::Bill;
use paylink_core::event::{Event, EventKind, PaymentFinished, PayoutFinished, RefundMade};
use paylink_core::money::format_fixed;
use paylink_core::payment::{self, Payment};
use paylink_core::payout::AccountType;
use paylink_core::time::Millis;
use paylink_store::{Claimed, NoticeContent, StoredNotice};

/// The notice as the form fields it is posted with, without `SignatureValue` (that depends on
/// the merchant's current token).
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match &notice.content {
        NoticeContent::Event(Event::PaymentFinished(e)) => payment_fields(e),
        NoticeContent::Event(Event::PayoutFinished(e)) => payout_fields(e),
        NoticeContent::Event(Event::RefundMade(e)) => refund_fields(e),
        // Other dialects' events: never on a Cardlink notice.
        NoticeContent::Event(Event::LinkPaymentFinished(_) | Event::Sms(_) | Event::Email(_)) => {
            Vec::new()
        }
        NoticeContent::Fields(fields) => fields.clone(),
    }
}

/// The postback: the signed form body, `webhook-id` (the notice's id, the same on every
/// attempt), `webhook-timestamp` (the attempt's time) and, for a shop with a webhook key,
/// `webhook-signature`.
pub fn render(seal: &Sealing, claimed: &Claimed, at: Millis) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let token = claimed
        .token
        .as_ref()
        .and_then(|t| seal.open(t.sealed.as_deref()?, &token_context(t.id)))
        .ok_or("the merchant has no signing token: run `paylink token refresh`")?;
    let body = body(notice, token.expose());
    let headers = standard_webhooks::headers(
        seal,
        claimed,
        "application/x-www-form-urlencoded",
        &body,
        at,
    );
    Ok(Rendered { headers, body })
}

/// The form body: the fields and their `SignatureValue` with the merchant's `token`.
fn body(notice: &StoredNotice, token: &str) -> String {
    let mut fields = fields(notice);
    sign(&mut fields, signed(notice.kind), token);
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The fields whose values, joined by `:` and followed by the merchant's token, are signed.
fn signed(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::Payment => &["OutSum", "InvId"],
        EventKind::Payout => &["Amount", "TrsId"],
        EventKind::Refund => &["Amount", "Currency", "BillId", "PaymentId", "Id"],
        EventKind::Sms | EventKind::Email => &[],
    }
}

fn payment_fields(e: &PaymentFinished) -> Vec<(String, String)> {
    let mut fields = payer_fields(e);
    fields.insert(2, ("Commission".into(), format_fixed(e.commission)));
    fields.insert(3, ("TrsId".into(), e.payment_id.to_string()));
    fields.insert(4, ("Status".into(), e.status.clone()));
    fields
}

fn payout_fields(e: &PayoutFinished) -> Vec<(String, String)> {
    let amount = format_fixed(e.amount);
    let commission = format_fixed(e.commission);
    let currency = e.currency.code().to_string();
    vec![
        ("TrsId".into(), e.payout_id.to_string()),
        ("Amount".into(), amount.clone()),
        ("IsAuto".into(), "false".into()),
        // The webhook's statuses are DECLINED, SUCCESS and FAIL: a provider's error (`ERROR`
        // in `payout/status`) ended the payout as a failure, its money back on the balance.
        (
            "Status".into(),
            match e.status.as_str() {
                "ERROR" => "FAIL".into(),
                other => other.into(),
            },
        ),
        ("Currency".into(), currency.clone()),
        ("Commission".into(), commission.clone()),
        ("AccountType".into(), account_type(&e.account_type).into()),
        ("AccountNumber".into(), e.payee.clone()),
        ("BalanceAmount".into(), amount),
        ("BalanceCommission".into(), commission),
        ("BalanceCurrency".into(), currency),
        ("CommissionApplyType".into(), "sender".into()),
    ]
}

/// The payout webhook's `AccountType`.
fn account_type(text: &str) -> &str {
    match text.parse::<AccountType>() {
        Ok(AccountType::Card) => "BANK_CARD",
        Ok(AccountType::Sbp) => "SBP",
        Err(()) => text,
    }
}

fn refund_fields(e: &RefundMade) -> Vec<(String, String)> {
    vec![
        ("Id".into(), e.refund_id.to_string()),
        ("PaymentId".into(), e.payment_id.to_string()),
        ("BillId".into(), e.bill_id.to_string()),
        ("Amount".into(), format_fixed(e.amount)),
        ("Currency".into(), e.currency.code().into()),
        ("Status".into(), e.status.clone()),
        ("Type".into(), "REFUND".into()),
        ("custom".into(), e.custom.clone().unwrap_or_default()),
    ]
}

/// `InvId`, `OutSum`, `CurrencyIn`, `custom`: what the payer's browser carries to the success or
/// fail URL (compat item 20), unsigned. The postback adds commission, id and status.
fn payer_fields(e: &PaymentFinished) -> Vec<(String, String)> {
    vec![
        (
            "InvId".into(),
            e.order_id.clone().unwrap_or_else(|| e.bill_id.to_string()),
        ),
        ("OutSum".into(), format_fixed(e.amount)),
        ("CurrencyIn".into(), e.currency.code().into()),
        ("custom".into(), e.custom.clone().unwrap_or_default()),
    ]
}

/// The success or fail redirect's fields with their `SignatureValue`.
pub fn signed_redirect(bill: &Bill, payment: &Payment, token: &str) -> Vec<(String, String)> {
    let mut fields = payer_fields(&payment::finished(bill, payment));
    sign(&mut fields, signed(EventKind::Payment), token);
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

#[cfg(test)]
mod tests {
    use super::*;
    use paylink_core::event::Dialect;
    use paylink_core::id::{BillId, MerchantId, PaymentId, PayoutId, RefundId, ShopId};
    use paylink_core::money::Currency;

    fn stored(kind: EventKind, content: NoticeContent) -> StoredNotice {
        StoredNotice {
            id: "msg_PPPPPPPPPP".into(),
            kind,
            dialect: Dialect::Cardlink,
            merchant_id: Some(MerchantId::from_trusted("MMMMMMMMMM".into())),
            partner_id: None,
            shop_id: Some(ShopId::from_trusted("SSSSSSSSSS".into())),
            bill_id: Some(BillId::from_trusted("BBBBBBBBBB".into())),
            subject_id: "PPPPPPPPPP".into(),
            url: "https://m.test/cb".into(),
            content,
            created_at: 5,
        }
    }

    fn paid(order_id: Option<&str>, custom: Option<&str>) -> PaymentFinished {
        PaymentFinished {
            payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
            bill_id: BillId::from_trusted("BBBBBBBBBB".into()),
            order_id: order_id.map(String::from),
            status: "SUCCESS".into(),
            amount: 12_345,
            commission: 123,
            currency: Currency::Rub,
            custom: custom.map(String::from),
        }
    }

    fn md5_hex(text: &str) -> String {
        format!("{:X}", Md5::digest(text.as_bytes()))
    }

    /// Every event renders the bytes postbacks carried before events replaced stored fields.
    #[test]
    fn each_event_renders_the_cardlink_body_byte_for_byte() {
        let token = "17|abcdef";
        let payment = stored(
            EventKind::Payment,
            NoticeContent::Event(Event::PaymentFinished(paid(Some("order 7/ü"), Some("a&b")))),
        );
        assert_eq!(
            body(&payment, token),
            format!(
                "InvId=order+7%2F%C3%BC&OutSum=123.45&Commission=1.23&TrsId=PPPPPPPPPP\
                 &Status=SUCCESS&CurrencyIn=RUB&custom=a%26b&SignatureValue={}",
                md5_hex("123.45:order 7/ü:17|abcdef")
            )
        );
        let payout = stored(
            EventKind::Payout,
            NoticeContent::Event(Event::PayoutFinished(PayoutFinished {
                payout_id: PayoutId::from_trusted("QQQQQQQQQQ".into()),
                status: "SUCCESS".into(),
                amount: 100_000,
                commission: 2_500,
                currency: Currency::Rub,
                account_type: AccountType::Card.as_str().into(),
                payee: "400000******0010".into(),
            })),
        );
        assert_eq!(
            body(&payout, token),
            format!(
                "TrsId=QQQQQQQQQQ&Amount=1000.00&IsAuto=false&Status=SUCCESS&Currency=RUB\
                 &Commission=25.00&AccountType=BANK_CARD&AccountNumber=400000******0010\
                 &BalanceAmount=1000.00&BalanceCommission=25.00&BalanceCurrency=RUB\
                 &CommissionApplyType=sender&SignatureValue={}",
                md5_hex("1000.00:QQQQQQQQQQ:17|abcdef")
            )
        );
        assert_eq!(account_type(AccountType::Sbp.as_str()), "SBP");
        let refund = stored(
            EventKind::Refund,
            NoticeContent::Event(Event::RefundMade(RefundMade {
                refund_id: RefundId::from_trusted("RRRRRRRRRR".into()),
                payment_id: PaymentId::from_trusted("PPPPPPPPPP".into()),
                bill_id: BillId::from_trusted("BBBBBBBBBB".into()),
                status: "SUCCESS".into(),
                amount: 5_000,
                currency: Currency::Usd,
                custom: None,
            })),
        );
        assert_eq!(
            body(&refund, token),
            format!(
                "Id=RRRRRRRRRR&PaymentId=PPPPPPPPPP&BillId=BBBBBBBBBB&Amount=50.00\
                 &Currency=USD&Status=SUCCESS&Type=REFUND&custom=&SignatureValue={}",
                md5_hex("50.00:USD:BBBBBBBBBB:PPPPPPPPPP:RRRRRRRRRR:17|abcdef")
            )
        );
        // A row from before events keeps its stored fields and is signed as its kind says.
        for notice in [payment, payout, refund] {
            let legacy = stored(notice.kind, NoticeContent::Fields(fields(&notice)));
            assert_eq!(body(&legacy, token), body(&notice, token));
        }
    }

    #[test]
    fn without_an_order_id_the_bill_id_is_the_invoice() {
        let f = payer_fields(&paid(None, None));
        assert_eq!(f[0], ("InvId".into(), "BBBBBBBBBB".into()));
        assert_eq!(f[3], ("custom".into(), String::new()));
        let mut signed_fields = f.clone();
        sign(&mut signed_fields, signed(EventKind::Payment), "t");
        assert_eq!(
            signed_fields[4].1,
            md5_signature(&["123.45", "BBBBBBBBBB"], "t")
        );
    }
}
