//! Deciding permanent links: opening one (a bill and its terms), changing its terms, and what a
//! payment of one adds to the payment's plan (its operation and the Procard callback).

use crate::bill::{Bill, BillType, NewBill};
use crate::error::DomainError;
use crate::event::{Dialect, Event, LinkPaymentFinished, Notice};
use crate::guard::Guard;
use crate::id::{BillId, MerchantId, PayoutId, ShopId};
use crate::ledger::{Bucket, Entry, EntryKind, Owner};
use crate::merchant::Shop;
use crate::payment::{Payment, PaymentMethod};
use crate::payout::{periods, Payee, Payout, PayoutKind, PayoutStatus};
use crate::permanent_link::{
    check_callback, check_texts, LinkFlow, LinkTerms, Operation, OperationStatus, PermanentLink,
};
use crate::plan::{Plan, Write};
use crate::time::Millis;

/// What a merchant asks for in `create`, parsed at the edge.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub name: String,
    pub description: String,
    pub flow: LinkFlow,
    pub terms: LinkTerms,
    /// P2Pin: the recipient card, sealed, and its mask.
    pub recipient: Option<(String, String)>,
    pub callback_url: Option<String>,
}

/// Opens link `id` in `shop`: its bill (a card-paid, never-expiring permanent bill) and its
/// terms, in one plan.
pub fn open(
    merchant: &MerchantId,
    shop: &Shop,
    id: BillId,
    new: NewLink,
    now: Millis,
) -> Result<(PermanentLink, Plan), DomainError> {
    check_texts(&new.name, &new.description)?;
    new.terms.check()?;
    check_callback(&new.callback_url)?;
    if new.flow == LinkFlow::P2pIn && new.recipient.is_none() {
        return Err(DomainError::Invalid {
            field: "card_number2",
            kind: crate::error::Rule::Required,
        });
    }
    let mut bill: Bill = NewBill {
        amount: Some(new.terms.headline()),
        name: Some(new.name),
        description: Some(new.description),
        payment_method: Some(PaymentMethod::BankCard),
        locale: Some(new.terms.language.locale()),
        ..NewBill::default()
    }
    .open(merchant, shop, id, now)?;
    bill.bill_type = BillType::Permanent;
    let (recipient_sealed, recipient_mask) = match new.recipient {
        Some((sealed, mask)) => (Some(sealed), Some(mask)),
        None => (None, None),
    };
    let link = PermanentLink {
        id: bill.id.clone(),
        merchant_id: merchant.clone(),
        flow: new.flow,
        terms: new.terms,
        recipient_sealed,
        recipient_mask,
        callback_url: new.callback_url,
        created_at: now,
        updated_at: now,
    };
    let plan = Plan {
        writes: vec![
            Write::InsertBill(bill),
            Write::InsertPermanentLink(link.clone()),
        ],
    };
    Ok((link, plan))
}

/// New terms for `link` (whose flow and recipient stay), with its name and description.
pub fn update(
    link: &PermanentLink,
    name: String,
    description: String,
    terms: LinkTerms,
    callback_url: Option<String>,
    now: Millis,
) -> Result<(PermanentLink, Write), DomainError> {
    check_texts(&name, &description)?;
    terms.check()?;
    check_callback(&callback_url)?;
    let updated = PermanentLink {
        terms,
        callback_url,
        updated_at: now,
        ..link.clone()
    };
    Ok((
        updated.clone(),
        Write::UpdatePermanentLink {
            amount: updated.terms.headline(),
            locale: updated.terms.language.locale(),
            link: updated,
            name,
            description,
        },
    ))
}

/// A payment of `link` waiting for its 3-D Secure answer: an operation in WAITING-AUTH.
pub fn waiting(
    link: &PermanentLink,
    payment_id: crate::id::PaymentId,
    amount: i64,
    quantity: i64,
    currency: crate::money::Currency,
    card_mask: String,
    now: Millis,
) -> Write {
    Write::RecordOperation(Operation {
        id: 0,
        payment_id,
        link_id: link.id.clone(),
        merchant_id: link.merchant_id.clone(),
        amount,
        quantity,
        fee: 0,
        currency,
        status: OperationStatus::WaitingAuth,
        card_mask,
        created_at: now,
        updated_at: now,
    })
}

/// What a finished payment of `link` (bought `quantity` times) adds to its plan: the operation
/// with its outcome and, with a `callback_url`, the Procard callback. A P2Pin link's received
/// money goes on to its recipient card: `recipient` is the payout it becomes (its id and payee),
/// locked in the same plan, so it never reaches the merchant's available balance (the payment
/// must book it straight to available, without a settlement, for the lock to take it).
pub fn finished(
    link: &PermanentLink,
    payment: &Payment,
    quantity: i64,
    callback_url: Option<&str>,
    recipient: Option<(PayoutId, Payee)>,
    now: Millis,
) -> Vec<Write> {
    let status = OperationStatus::of(payment);
    let mut transfer = Vec::new();
    if let (LinkFlow::P2pIn, OperationStatus::Approved, Some((id, payee))) =
        (link.flow, status, recipient)
    {
        if payment.account_amount > 0 {
            transfer = p2p_payout(id, payee, payment, now);
        }
    }
    let mut writes = vec![Write::RecordOperation(Operation {
        id: 0,
        payment_id: payment.id.clone(),
        link_id: link.id.clone(),
        merchant_id: link.merchant_id.clone(),
        amount: payment.amount,
        quantity,
        fee: payment.commission,
        currency: payment.currency,
        status,
        card_mask: payment.from_card.clone(),
        created_at: now,
        updated_at: now,
    })];
    if let Some(url) = callback_url {
        writes.push(Write::EnqueueNotice(Notice::new(
            Dialect::Procard,
            link.merchant_id.clone(),
            Some(payment.shop_id.clone()),
            Some(link.id.clone()),
            url,
            Event::LinkPaymentFinished(LinkPaymentFinished {
                payment_id: payment.id.clone(),
                link_id: link.id.clone(),
                status: status.as_str().to_string(),
                amount: payment.amount,
                fee: payment.commission,
                currency: payment.currency,
                card_mask: payment.from_card.clone(),
                reason: payment.error_message.clone(),
                reason_code: payment.error_code,
                created_at: payment.created_at,
            }),
            now,
        )));
    }
    writes.extend(transfer);
    writes
}

/// A payment of a link whose 3-D Secure challenge was never answered: its operation, still
/// WAITING-AUTH and recorded before `before` (no answer can come any more), becomes DECLINED,
/// and the link's callback (with `callback_url`; signed as the link's shop `shop`) says so, as
/// for any decline. No money was taken: the charge waits for the answer.
pub fn abandoned(
    op: &Operation,
    shop: &ShopId,
    callback_url: Option<&str>,
    before: Millis,
    now: Millis,
) -> Vec<Write> {
    let mut writes = vec![Write::DeclineOperation {
        payment_id: op.payment_id.clone(),
        before,
        now,
    }];
    if let Some(url) = callback_url {
        writes.push(Write::EnqueueNotice(Notice::new(
            Dialect::Procard,
            op.merchant_id.clone(),
            Some(shop.clone()),
            Some(op.link_id.clone()),
            url,
            Event::LinkPaymentFinished(LinkPaymentFinished {
                payment_id: op.payment_id.clone(),
                link_id: op.link_id.clone(),
                status: OperationStatus::Declined.as_str().to_string(),
                amount: op.amount,
                fee: 0,
                currency: op.currency,
                card_mask: op.card_mask.clone(),
                reason: Some(ABANDONED.to_string()),
                reason_code: Some(ABANDONED_CODE),
                created_at: op.created_at,
            }),
            now,
        )));
    }
    writes
}

/// The reason an unanswered challenge's callback gives.
pub const ABANDONED: &str = "3-D Secure authentication was not completed.";
/// Its code: ISO 8583 "do not honor", as for a failed challenge.
pub const ABANDONED_CODE: i64 = 5;

/// The payout of a P2Pin payment's received money to the link's recipient card, its money
/// locked: the payout worker sends it; a failed payout returns it to the merchant's available
/// balance, as any payout's. It counts towards the merchant's payout usage, without a limit, so
/// that a failure gives back exactly what it took.
fn p2p_payout(id: PayoutId, payee: Payee, payment: &Payment, now: Millis) -> Vec<Write> {
    let (day_key, month_key) = periods(now);
    let payout = Payout {
        group_id: id.to_string(),
        id,
        merchant_id: payment.merchant_id.clone(),
        order_id: Some(payment.id.to_string()),
        part: 1,
        kind: PayoutKind::Regular,
        payout_account_id: None,
        payee,
        status: PayoutStatus::New,
        amount: payment.account_amount,
        commission: 0,
        currency: payment.account_currency,
        day_key: day_key.clone(),
        month_key: month_key.clone(),
        error_message: None,
        created_at: now,
        updated_at: now,
    };
    let lock = Entry::new(
        EntryKind::PayoutLock,
        format!("lock_{}", payout.id),
        payout.id.as_str(),
        now,
    )
    .transfer(
        Bucket::Available,
        Bucket::Locked,
        &Owner::merchant(&payout.merchant_id),
        payout.currency,
        payout.total(),
    );
    let mut writes = vec![Write::InsertPayout(payout.clone()), Write::Post(lock)];
    for (period, guard) in [
        (day_key, Guard::DailyPayoutLimitExceeded),
        (month_key, Guard::MonthlyPayoutLimitExceeded),
    ] {
        writes.push(Write::UsePayoutLimit {
            merchant_id: payout.merchant_id.clone(),
            period,
            currency: payout.currency,
            amount: payout.amount,
            limit: i64::MAX,
            guard,
        });
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{PaymentId, ShopId};
    use crate::money::{Amount, Currency};
    use crate::payment::{Booking, Charge, ChargeResult};
    use crate::payout::AccountType;
    use crate::permanent_link::{Language, LinkKind};

    fn shop() -> Shop {
        Shop {
            id: ShopId::from_trusted("SSSSSSSSSS".into()),
            merchant_id: MerchantId::from_trusted("MMMMMMMMMM".into()),
            name: "s".into(),
            currency: Currency::Rub,
            balance_currency: None,
            enabled: true,
            commission: None,
            result_url: None,
            success_url: None,
            fail_url: None,
            created_at: 0,
        }
    }

    fn new_link(flow: LinkFlow) -> NewLink {
        NewLink {
            name: "Збір".into(),
            description: "d".into(),
            flow,
            terms: LinkTerms {
                kind: LinkKind::Fixed,
                amounts: vec![Amount::from_minor(10_000).unwrap()],
                enable_counter: true,
                custom_amount: 0,
                target_amount: 0,
                show_total: false,
                language: Language::Ukr,
            },
            recipient: (flow == LinkFlow::P2pIn)
                .then(|| ("sealed".into(), "411111******1111".into())),
            callback_url: None,
        }
    }

    fn open_link(flow: LinkFlow) -> (Bill, PermanentLink) {
        let (link, plan) = open(
            &MerchantId::from_trusted("MMMMMMMMMM".into()),
            &shop(),
            BillId::from_trusted("LLLLLLLLLL".into()),
            new_link(flow),
            7,
        )
        .unwrap();
        let bill = match &plan.writes[0] {
            Write::InsertBill(b) => b.clone(),
            w => panic!("{w:?}"),
        };
        (bill, link)
    }

    fn paid(bill: &Bill, result: ChargeResult) -> Payment {
        let charge = Charge {
            method: PaymentMethod::BankCard,
            paid: 30_000,
            from_card: "424242******4242".into(),
            card_fingerprint: None,
            result,
            client_addr: None,
        };
        let priced = Bill {
            amount: Amount::from_minor(30_000).unwrap(),
            ..bill.clone()
        };
        crate::decide::payment::settle(
            &priced,
            crate::money::Rate::from_bps(350).unwrap(),
            charge,
            PaymentId::from_trusted("PPPPPPPPPP".into()),
            None,
            Booking::immediate(Currency::Rub),
            8,
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_link_is_a_card_paid_permanent_bill_in_its_language() {
        let (bill, link) = open_link(LinkFlow::Purchase);
        assert_eq!(bill.bill_type, BillType::Permanent);
        assert_eq!(bill.payment_method, Some(PaymentMethod::BankCard));
        assert_eq!(bill.locale, Some(crate::bill::Locale::Uk));
        assert_eq!(bill.id, link.id);
        let mut p2p = new_link(LinkFlow::P2pIn);
        p2p.recipient = None;
        assert!(open(
            &MerchantId::from_trusted("MMMMMMMMMM".into()),
            &shop(),
            BillId::from_trusted("LLLLLLLLLL".into()),
            p2p,
            7,
        )
        .is_err());
    }

    #[test]
    fn a_finished_payment_records_its_operation_and_a_p2p_payment_its_payout() {
        let (bill, link) = open_link(LinkFlow::Purchase);
        let p = paid(&bill, ChargeResult::Approved);
        let writes = finished(&link, &p, 3, Some("https://m.test/cb"), None, 9);
        assert!(matches!(&writes[0], Write::RecordOperation(op)
            if op.status == OperationStatus::Approved && op.quantity == 3 && op.amount == 30_000
                && op.fee == p.commission));
        assert!(
            matches!(&writes[1], Write::EnqueueNotice(n) if n.dialect == Dialect::Procard
            && n.id == "msg_procard_PPPPPPPPPP")
        );
        assert_eq!(writes.len(), 2);

        let (bill, link) = open_link(LinkFlow::P2pIn);
        let payee = Payee {
            account_type: AccountType::Card,
            identifier: "411111******1111".into(),
            fingerprint: "f".into(),
            sealed: Some("s".into()),
            bank_member_id: None,
            holder: None,
        };
        let id = || PayoutId::from_trusted("QQQQQQQQQQ".into());
        let p = paid(&bill, ChargeResult::Approved);
        let writes = finished(&link, &p, 1, None, Some((id(), payee.clone())), 9);
        let payout = writes.iter().find_map(|w| match w {
            Write::InsertPayout(po) => Some(po.clone()),
            _ => None,
        });
        let payout = payout.expect("a payout to the recipient");
        assert_eq!(payout.amount, p.amount - p.commission);
        assert_eq!(payout.status, PayoutStatus::New);
        assert_eq!(payout.order_id.as_deref(), Some("PPPPPPPPPP"));
        // Its money is locked in the same plan.
        assert!(writes
            .iter()
            .any(|w| matches!(w, Write::Post(e) if e.id == "lock_QQQQQQQQQQ")));

        let declined = paid(
            &bill,
            ChargeResult::Declined {
                code: 51,
                message: "Insufficient funds".into(),
            },
        );
        let writes = finished(&link, &declined, 1, None, Some((id(), payee)), 9);
        assert!(
            !writes.iter().any(|w| matches!(w, Write::InsertPayout(_))),
            "a declined payment pays nothing on"
        );
        assert!(matches!(&writes[0], Write::RecordOperation(op)
            if op.status == OperationStatus::Declined && op.fee == 0));
    }
}
