//! Merchants and their shops, and the access rules every merchant request passes.

use crate::error::{DomainError, Rule};
use crate::id::{MerchantId, ShopId};
use crate::money::{Currency, Rate};
use crate::text::{check_len, check_url, MAX_NAME};
use crate::time::Millis;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    Active,
    Inactive,
    None,
}

impl Subscription {
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::Active => "active",
            Subscription::Inactive => "inactive",
            Subscription::None => "none",
        }
    }
}

impl FromStr for Subscription {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(Subscription::Active),
            "inactive" => Ok(Subscription::Inactive),
            "none" => Ok(Subscription::None),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub email: Option<String>,
    pub verified: bool,
    pub banned: bool,
    pub subscription: Subscription,
    pub created_at: Millis,
}

impl Merchant {
    /// The gate in front of every merchant API call.
    pub fn check_access(&self) -> Result<(), DomainError> {
        if self.banned {
            return Err(DomainError::MerchantBanned);
        }
        match self.subscription {
            Subscription::Active => Ok(()),
            Subscription::Inactive => Err(DomainError::SubscriptionInactive),
            Subscription::None => Err(DomainError::SubscriptionNotFound),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: ShopId,
    pub merchant_id: MerchantId,
    pub name: String,
    /// The currency of bills that name none.
    pub currency: Currency,
    /// The merchant balance its payments are booked to, bills in another currency converted
    /// at the operator's rate; `None`: each bill's own currency, no conversion.
    pub balance_currency: Option<Currency>,
    pub enabled: bool,
    /// `None`: the server's configured default commission applies.
    pub commission: Option<Rate>,
    pub result_url: Option<String>,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub created_at: Millis,
}

impl Shop {
    /// A new enabled RUB shop with the server's default commission and no URLs.
    pub fn new(id: ShopId, merchant_id: MerchantId, name: String, now: Millis) -> Shop {
        Shop {
            id,
            merchant_id,
            name,
            currency: Currency::Rub,
            balance_currency: None,
            enabled: true,
            commission: None,
            result_url: None,
            success_url: None,
            fail_url: None,
            created_at: now,
        }
    }

    /// A name, and http(s) URLs where URLs are set.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.name.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "name",
                kind: Rule::Required,
            });
        }
        check_len("name", &Some(self.name.clone()), MAX_NAME)?;
        check_url("result_url", &self.result_url)?;
        check_url("success_url", &self.success_url)?;
        check_url("fail_url", &self.fail_url)
    }

    /// A shop the merchant may bill through: its own, and enabled.
    pub fn check_usable_by(&self, merchant: &MerchantId) -> Result<(), DomainError> {
        if &self.merchant_id != merchant {
            return Err(DomainError::AccessDenied);
        }
        if !self.enabled {
            return Err(DomainError::ShopNotEnabled);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merchant(banned: bool, subscription: Subscription) -> Merchant {
        Merchant {
            id: MerchantId::from_trusted("M000000001".into()),
            name: "m".into(),
            email: None,
            verified: false,
            banned,
            subscription,
            created_at: 0,
        }
    }

    #[test]
    fn every_merchant_state_has_its_error() {
        assert_eq!(merchant(false, Subscription::Active).check_access(), Ok(()));
        assert_eq!(
            merchant(true, Subscription::Active).check_access(),
            Err(DomainError::MerchantBanned)
        );
        assert_eq!(
            merchant(false, Subscription::Inactive).check_access(),
            Err(DomainError::SubscriptionInactive)
        );
        assert_eq!(
            merchant(false, Subscription::None).check_access(),
            Err(DomainError::SubscriptionNotFound)
        );
    }
}
