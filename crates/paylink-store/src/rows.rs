//! Rows → domain values. A value that does not decode is `Corrupt`, never a panic.

use crate::sql::Columns;
use crate::StoreError;
use paylink_core::bill::{Bill, BillType};
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::ledger::FxRate;
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::Payment;
use std::str::FromStr;

/// A live API token's stored digest and its merchant.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub secret_sha256: String,
    pub merchant: Merchant,
}

/// A merchant's live API token as sealed at rest (`None` for tokens issued before sealing).
#[derive(Debug, Clone)]
pub struct SealedToken {
    pub id: i64,
    pub sealed: Option<String>,
}

pub(crate) const MERCHANT_COLUMNS: &str =
    "m.id, m.name, m.email, m.verified, m.banned, m.subscription, m.created_at";
pub(crate) const SHOP_COLUMNS: &str = "s.id, s.merchant_id, s.name, s.currency, s.enabled, \
     s.commission_bps, s.result_url, s.success_url, s.fail_url, s.created_at, s.balance_currency";
/// A token's digest and its merchant, the merchant's columns prefixed `m_` so that they can
/// share a row with the object a request names.
pub(crate) const TOKEN_OWNER_COLUMNS: &str = "t.secret_sha256, m.id AS m_id, m.name AS m_name, \
     m.email AS m_email, m.verified AS m_verified, m.banned AS m_banned, \
     m.subscription AS m_subscription, m.created_at AS m_created_at";
pub(crate) const BILL_COLUMNS: &str = "b.id, b.merchant_id, b.shop_id, b.order_id, b.description, \
     b.name, b.custom, b.bill_type, b.currency, b.amount, b.active, b.status, b.payment_method, \
     b.payer_pays_commission, b.ttl_secs, b.expires_at, b.success_url, b.fail_url, b.return_url, \
     b.locale, b.payer_email, b.extra, b.created_at, b.updated_at";
pub(crate) const PAYMENT_COLUMNS: &str = "p.id, p.bill_id, p.merchant_id, p.shop_id, p.method, \
     p.status, p.amount, p.amount_received, p.commission, p.account_amount, p.account_currency, \
     p.refunded_amount, p.currency, p.from_card, p.card_fingerprint, p.error_code, \
     p.error_message, p.created_at, p.updated_at, p.fx_rate_e8, p.client_addr";

pub(crate) fn parsed<T: FromStr>(row: &dyn Columns, column: &str) -> Result<T, StoreError> {
    let text = row.text(column)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {text:?}")))
}

fn parsed_opt<T: FromStr>(row: &dyn Columns, column: &str) -> Result<Option<T>, StoreError> {
    let text = row.opt_text(column)?;
    text.map(|t| {
        t.parse()
            .map_err(|_| StoreError::Corrupt(format!("{column} = {t:?}")))
    })
    .transpose()
}

pub(crate) fn flag(row: &dyn Columns, column: &str) -> Result<bool, StoreError> {
    Ok(row.i64(column)? != 0)
}

pub(crate) fn currency(row: &dyn Columns, column: &str) -> Result<Currency, StoreError> {
    parsed::<Currency>(row, column)
}

/// Columns selected as `<prefix><name>`, read by their plain names.
struct Prefixed<'a> {
    inner: &'a dyn Columns,
    prefix: &'static str,
}

impl Prefixed<'_> {
    fn named<R>(&self, column: &str, read: impl FnOnce(&str) -> R) -> R {
        let mut buf = [0u8; 64];
        let (p, c) = (self.prefix.as_bytes(), column.as_bytes());
        match buf.get_mut(..p.len() + c.len()) {
            Some(name) => {
                name[..p.len()].copy_from_slice(p);
                name[p.len()..].copy_from_slice(c);
                read(std::str::from_utf8(name).unwrap_or_default())
            }
            None => read(&format!("{}{column}", self.prefix)),
        }
    }
}

impl Columns for Prefixed<'_> {
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.named(column, |c| self.inner.opt_i64(c))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.named(column, |c| self.inner.opt_text(c))
    }
}

/// `decode` of columns selected as `<prefix><name>`.
pub(crate) fn prefixed<T>(
    row: &dyn Columns,
    prefix: &'static str,
    decode: fn(&dyn Columns) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    decode(&Prefixed { inner: row, prefix })
}

pub(crate) fn token_owner(row: &dyn Columns) -> Result<TokenOwner, StoreError> {
    Ok(TokenOwner {
        secret_sha256: row.text("secret_sha256")?,
        merchant: merchant(&Prefixed {
            inner: row,
            prefix: "m_",
        })?,
    })
}

/// `decode` of a LEFT JOINed object: `None` where the join found no row.
pub(crate) fn joined<T>(
    row: &dyn Columns,
    decode: fn(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    match row.opt_text("id")? {
        None => Ok(None),
        Some(_) => decode(row).map(Some),
    }
}

pub(crate) fn merchant(row: &dyn Columns) -> Result<Merchant, StoreError> {
    Ok(Merchant {
        id: MerchantId::from_trusted(row.text("id")?),
        name: row.text("name")?,
        email: row.opt_text("email")?,
        verified: flag(row, "verified")?,
        banned: flag(row, "banned")?,
        subscription: parsed(row, "subscription")?,
        created_at: row.i64("created_at")?,
    })
}

pub(crate) fn shop(row: &dyn Columns) -> Result<Shop, StoreError> {
    let bps = row.opt_i64("commission_bps")?;
    Ok(Shop {
        id: ShopId::from_trusted(row.text("id")?),
        merchant_id: MerchantId::from_trusted(row.text("merchant_id")?),
        name: row.text("name")?,
        currency: currency(row, "currency")?,
        balance_currency: match row.opt_text("balance_currency")? {
            Some(_) => Some(currency(row, "balance_currency")?),
            None => None,
        },
        enabled: flag(row, "enabled")?,
        commission: bps
            .map(|b| {
                Rate::from_bps(b)
                    .ok_or_else(|| StoreError::Corrupt(format!("commission_bps = {b}")))
            })
            .transpose()?,
        result_url: row.opt_text("result_url")?,
        success_url: row.opt_text("success_url")?,
        fail_url: row.opt_text("fail_url")?,
        created_at: row.i64("created_at")?,
    })
}

pub(crate) fn bill(row: &dyn Columns) -> Result<Bill, StoreError> {
    let amount = row.i64("amount")?;
    Ok(Bill {
        id: BillId::from_trusted(row.text("id")?),
        merchant_id: MerchantId::from_trusted(row.text("merchant_id")?),
        shop_id: ShopId::from_trusted(row.text("shop_id")?),
        order_id: row.opt_text("order_id")?,
        description: row.opt_text("description")?,
        name: row.opt_text("name")?,
        custom: row.opt_text("custom")?,
        bill_type: {
            let text = row.text("bill_type")?;
            BillType::from_stored(&text)
                .ok_or_else(|| StoreError::Corrupt(format!("bill_type = {text:?}")))?
        },
        currency: currency(row, "currency")?,
        amount: Amount::from_minor(amount)
            .ok_or_else(|| StoreError::Corrupt(format!("bill amount = {amount}")))?,
        active: flag(row, "active")?,
        status: parsed(row, "status")?,
        payment_method: parsed_opt(row, "payment_method")?,
        payer_pays_commission: flag(row, "payer_pays_commission")?,
        ttl_secs: row.opt_i64("ttl_secs")?,
        expires_at: row.opt_i64("expires_at")?,
        success_url: row.opt_text("success_url")?,
        fail_url: row.opt_text("fail_url")?,
        return_url: row.opt_text("return_url")?,
        locale: parsed_opt(row, "locale")?,
        payer_email: row.opt_text("payer_email")?,
        extra: row.opt_text("extra")?,
        created_at: row.i64("created_at")?,
        updated_at: row.i64("updated_at")?,
    })
}

pub(crate) fn payment(row: &dyn Columns) -> Result<Payment, StoreError> {
    Ok(Payment {
        id: PaymentId::from_trusted(row.text("id")?),
        bill_id: BillId::from_trusted(row.text("bill_id")?),
        merchant_id: MerchantId::from_trusted(row.text("merchant_id")?),
        shop_id: ShopId::from_trusted(row.text("shop_id")?),
        method: parsed(row, "method")?,
        status: parsed(row, "status")?,
        amount: row.i64("amount")?,
        amount_received: row.i64("amount_received")?,
        commission: row.i64("commission")?,
        account_amount: row.i64("account_amount")?,
        account_currency: currency(row, "account_currency")?,
        refunded_amount: row.i64("refunded_amount")?,
        currency: currency(row, "currency")?,
        fx_rate: row
            .opt_i64("fx_rate_e8")?
            .map(|r| {
                FxRate::from_e8(r).ok_or_else(|| StoreError::Corrupt(format!("fx_rate_e8 = {r}")))
            })
            .transpose()?,
        from_card: row.text("from_card")?,
        card_fingerprint: row.opt_text("card_fingerprint")?,
        error_code: row.opt_i64("error_code")?,
        error_message: row.opt_text("error_message")?,
        created_at: row.i64("created_at")?,
        updated_at: row.i64("updated_at")?,
        client_addr: row.opt_text("client_addr")?,
    })
}

/// The shop columns of `SHOP_COLUMNS`, each selected as `s_<name>`.
pub(crate) fn shop_columns_prefixed() -> String {
    SHOP_COLUMNS
        .split(',')
        .map(|c| {
            let c = c.trim();
            format!("{c} AS s_{}", c.trim_start_matches("s."))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The live token joined as `token_id` and `token_sealed`; `None` when there is none.
pub(crate) fn sealed_token(r: &dyn Columns) -> Result<Option<SealedToken>, StoreError> {
    Ok(match r.opt_i64("token_id")? {
        Some(id) => Some(SealedToken {
            id,
            sealed: r.opt_text("token_sealed")?,
        }),
        None => None,
    })
}
