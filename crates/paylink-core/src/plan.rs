//! What a domain operation decided to write. The store applies a plan atomically; guards that
//! depend on concurrent state are part of each write's SQL.

use crate::bill::Bill;
use crate::id::{BillId, MerchantId};
use crate::merchant::{Merchant, Shop, Subscription};
use crate::payment::{BillTransition, Payment};
use crate::time::Millis;

#[derive(Debug, Clone)]
pub enum Write {
    InsertMerchant(Merchant),
    SetMerchantBanned {
        merchant_id: MerchantId,
        banned: bool,
    },
    SetSubscription {
        merchant_id: MerchantId,
        subscription: Subscription,
    },
    InsertShop(Shop),
    UpdateShop(Shop),
    /// Revokes every live token of the merchant, then stores the new one's digest.
    ReplaceToken {
        merchant_id: MerchantId,
        token_id: i64,
        digest: String,
        now: Millis,
    },
    InsertBill(Bill),
    /// Guard: a finished NORMAL bill is not toggled.
    SetBillActive {
        bill_id: BillId,
        active: bool,
        now: Millis,
    },
    /// Guard: see [`BillTransition`].
    RecordPayment {
        payment: Payment,
        transition: BillTransition,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub writes: Vec<Write>,
}

impl Plan {
    pub fn one(write: Write) -> Plan {
        Plan {
            writes: vec![write],
        }
    }
}
