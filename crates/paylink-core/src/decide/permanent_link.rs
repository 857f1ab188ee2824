//! Deciding permanent links: opening one (a bill and its terms), changing its terms, and what a
//! payment of one adds to the payment's plan (its operation and the Procard callback).

use crate::bill::{Bill, BillType, NewBill};
use crate::error::DomainError;
use crate::event::{Dialect, Event, LinkPaymentFinished, Notice};
use crate::guard::Guard;
use crate::id::{BillId, MerchantId, PayoutId};
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
