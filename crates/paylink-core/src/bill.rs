//! Bills (payment links): one-time (NORMAL) or multi-use (MULTI), and the rules for opening,
//! toggling and paying them.

use crate::error::{DomainError, Rule};
use crate::id::{BillId, MerchantId};
use crate::merchant::Shop;
use crate::money::{Amount, Currency, Rate};
use crate::status::{PaymentMethod, PaymentStatus};
use crate::text::{check_len, check_url, MAX_NAME};
use crate::time::Millis;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillType {
    /// Accepts one payment that brings money in, then is finished.
    Normal,
    /// Accepts any number of payments.
    Multi,
    /// A permanent link ([`crate::permanent_link`]): any number of payments, each priced by the
    /// payer within the link's terms. Made by the Procard dialect only.
    Permanent,
}

impl BillType {
    pub fn as_str(self) -> &'static str {
        match self {
            BillType::Normal => "NORMAL",
            BillType::Multi => "MULTI",
            BillType::Permanent => "PERMANENT",
        }
    }

    /// As stored: every type, permanent links included.
    pub fn from_stored(s: &str) -> Option<BillType> {
        [BillType::Normal, BillType::Multi, BillType::Permanent]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// The types a merchant may ask for when opening a bill (a permanent link is opened as one).
impl FromStr for BillType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NORMAL" => Ok(BillType::Normal),
            "MULTI" => Ok(BillType::Multi),
            _ => Err(()),
        }
    }
}

/// A bill's status is the status of the payments it has had (see [`Bill::status_after`]).
pub type BillStatus = PaymentStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Ru,
    En,
    /// Ukrainian: the permanent links' `ukr`.
    Uk,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Ru => "ru",
            Locale::En => "en",
            Locale::Uk => "uk",
        }
    }
}

impl FromStr for Locale {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ru" => Ok(Locale::Ru),
            "en" => Ok(Locale::En),
            "uk" => Ok(Locale::Uk),
            _ => Err(()),
        }
    }
}

/// Longest accepted texts, in characters.
pub const MAX_ORDER_ID: usize = 255;
pub const MAX_DESCRIPTION: usize = 1024;
pub const MAX_CUSTOM: usize = 2048;
/// A bill may live at most a year.
pub const MAX_TTL_SECS: i64 = 366 * 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub id: BillId,
    pub merchant_id: MerchantId,
    pub shop_id: crate::id::ShopId,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub name: Option<String>,
    pub custom: Option<String>,
    pub bill_type: BillType,
    pub currency: Currency,
    pub amount: Amount,
    pub active: bool,
    pub status: BillStatus,
    pub payment_method: Option<PaymentMethod>,
    pub payer_pays_commission: bool,
    pub ttl_secs: Option<i64>,
    pub expires_at: Option<Millis>,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub return_url: Option<String>,
    pub locale: Option<Locale>,
    pub payer_email: Option<String>,
    /// Payer-facing extras (payer_data, request_fields, items, show_converted_amount) as JSON
    /// text; kept verbatim for the payment page.
    pub extra: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a merchant asks for in `bill/create`, parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct NewBill {
    pub amount: Option<Amount>,
    pub currency: Option<Currency>,
    pub bill_type: Option<BillType>,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub name: Option<String>,
    pub custom: Option<String>,
    pub payment_method: Option<PaymentMethod>,
    pub payer_pays_commission: bool,
    pub ttl_secs: Option<i64>,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    pub return_url: Option<String>,
    pub locale: Option<Locale>,
    pub payer_email: Option<String>,
    pub extra: Option<String>,
}

impl NewBill {
    /// Opens a bill in `shop` for `merchant`; the shop must be the merchant's and enabled.
    pub fn open(
        self,
        merchant: &MerchantId,
        shop: &Shop,
        id: BillId,
        now: Millis,
    ) -> Result<Bill, DomainError> {
        let amount = self.amount.ok_or(DomainError::InvalidAmount)?;
        shop.check_usable_by(merchant)?;
        check_len("order_id", &self.order_id, MAX_ORDER_ID)?;
        check_len("name", &self.name, MAX_NAME)?;
        check_len("description", &self.description, MAX_DESCRIPTION)?;
        check_len("custom", &self.custom, MAX_CUSTOM)?;
        check_len("payer_email", &self.payer_email, MAX_NAME)?;
        check_url("success_url", &self.success_url)?;
        check_url("fail_url", &self.fail_url)?;
        check_url("return_url", &self.return_url)?;
        if let Some(email) = &self.payer_email {
            if !email.contains('@') || email.contains(char::is_whitespace) {
                return Err(DomainError::Invalid {
                    field: "payer_email",
                    kind: Rule::Email,
                });
            }
        }
        if let Some(ttl) = self.ttl_secs {
            if !(1..=MAX_TTL_SECS).contains(&ttl) {
                return Err(DomainError::Invalid {
                    field: "ttl",
                    kind: Rule::SecondsRange {
                        min: 1,
                        max: MAX_TTL_SECS,
                    },
                });
            }
        }
        Ok(Bill {
            id,
            merchant_id: merchant.clone(),
            shop_id: shop.id.clone(),
            order_id: self.order_id,
            description: self.description,
            name: self.name,
            custom: self.custom,
            bill_type: self.bill_type.unwrap_or(BillType::Normal),
            currency: self.currency.unwrap_or(shop.currency),
            amount,
            active: true,
            status: PaymentStatus::New,
            payment_method: self.payment_method,
            payer_pays_commission: self.payer_pays_commission,
            ttl_secs: self.ttl_secs,
            expires_at: self.ttl_secs.map(|t| now + t * 1000),
            success_url: self.success_url,
            fail_url: self.fail_url,
            return_url: self.return_url,
            locale: self.locale,
            payer_email: self.payer_email,
            extra: self.extra,
            created_at: now,
            updated_at: now,
        })
    }
}

impl Bill {
    /// A NORMAL bill that has taken money accepts nothing more.
    pub fn is_finished(&self) -> bool {
        self.bill_type == BillType::Normal && self.status.brings_money()
    }

    pub fn is_expired(&self, now: Millis) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whether a payer may pay this bill now with `method`, as far as the bill itself says
    /// (its shop and merchant: [`crate::payment::check_payable`]).
    pub fn check_payable(&self, method: PaymentMethod, now: Millis) -> Result<(), DomainError> {
        self.check_open(now)?;
        self.check_method(method)
    }

    /// Not finished, active and not expired.
    pub fn check_open(&self, now: Millis) -> Result<(), DomainError> {
        if self.is_finished() {
            return Err(DomainError::BillIsFinished);
        }
        if !self.active {
            return Err(DomainError::BillInactive);
        }
        if self.is_expired(now) {
            return Err(DomainError::BillExpired);
        }
        Ok(())
    }

    /// The bill takes `method` (it names none, or this one).
    pub fn check_method(&self, method: PaymentMethod) -> Result<(), DomainError> {
        match self.payment_method {
            Some(only) if only != method => Err(DomainError::Invalid {
                field: "method",
                kind: Rule::OnlyMethod {
                    method: only.as_str(),
                },
            }),
            _ => Ok(()),
        }
    }

    /// What the payer is asked to pay: the bill's amount, plus the fee when the payer bears it.
    pub fn quote(&self, rate: Rate) -> i64 {
        let amount = self.amount.minor();
        if self.payer_pays_commission {
            amount + rate.fee_on(amount)
        } else {
            amount
        }
    }

    /// The status the bill takes after a payment that ended in `payment`: a payment that brings
    /// money sets it; a failure shows only while nothing has been received.
    pub fn status_after(&self, payment: PaymentStatus) -> BillStatus {
        if payment.brings_money() || !self.status.brings_money() {
            payment
        } else {
            self.status
        }
    }
}
