//! Paying a bill: the one operation behind the sandbox API and the hosted payment page.

use crate::acquirer::ChargeRequest;
use crate::bills::OpError;
use crate::state::AppState;
use paylink_core::bill::Bill;
use paylink_core::card::CardNumber;
use paylink_core::id::PaymentId;
use paylink_core::money::Amount;
use paylink_core::payment::{self, Charge, Payment, PaymentMethod};
use paylink_core::DomainError;
use paylink_store::StoreError;

/// How the payer pays.
#[derive(Debug, Clone)]
pub enum Tender {
    Card(CardNumber),
    /// The payer may change the amount in the bank app; `None` pays the quoted amount.
    Sbp {
        amount: Option<Amount>,
    },
}

impl Tender {
    pub fn method(&self) -> PaymentMethod {
        match self {
            Tender::Card(_) => PaymentMethod::BankCard,
            Tender::Sbp { .. } => PaymentMethod::Sbp,
        }
    }
}

pub async fn pay(st: &AppState, bill: &Bill, tender: Tender) -> Result<Payment, OpError> {
    let method = tender.method();
    bill.check_payable(method, st.now())?;
    let shop = st
        .store
        .shop(&bill.shop_id)
        .await?
        .ok_or(DomainError::ShopNotFound)?;
    if !shop.enabled {
        return Err(DomainError::ShopNotEnabled.into());
    }
    let rate = shop.commission.unwrap_or(st.settings.default_commission);
    let (paid, card) = match &tender {
        Tender::Card(card) => (bill.quote(rate), Some(card)),
        Tender::Sbp { amount } => (amount.map_or_else(|| bill.quote(rate), Amount::minor), None),
    };
    let result = st
        .acquirer
        .charge(ChargeRequest {
            method,
            amount: paid,
            currency: bill.currency,
            card,
        })
        .await;
    let charge = Charge {
        method,
        paid,
        from_card: card.map(CardNumber::masked).unwrap_or_default(),
        card_fingerprint: card.map(|c| c.fingerprint(&st.fingerprint_key)),
        result,
    };
    let now = st.now();
    let (payment, plan) = payment::settle(
        bill,
        rate,
        charge,
        PaymentId::random(&mut rand::thread_rng()),
        now,
    )?;
    match st.store.apply(plan).await {
        Ok(()) => Ok(payment),
        Err(StoreError::GuardFailed(_)) => {
            // Another payment, a toggle or the clock won the race: say which.
            let current = st
                .store
                .bill(&bill.id)
                .await?
                .ok_or(DomainError::BillNotFound)?;
            current.check_payable(method, now)?;
            Err(DomainError::BillIsFinished.into())
        }
        Err(e) => Err(e.into()),
    }
}
