//! Rows → domain values. A value that does not decode is `Corrupt`, never a panic.

use crate::StoreError;
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::Payment;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

pub(crate) const MERCHANT_COLUMNS: &str =
    "m.id, m.name, m.email, m.verified, m.banned, m.subscription, m.created_at";
pub(crate) const SHOP_COLUMNS: &str = "id, merchant_id, name, currency, enabled, commission_bps, \
     result_url, success_url, fail_url, created_at";
pub(crate) const BILL_COLUMNS: &str = "b.id, b.merchant_id, b.shop_id, b.order_id, b.description, \
     b.name, b.custom, b.bill_type, b.currency, b.amount, b.active, b.status, b.payment_method, \
     b.payer_pays_commission, b.ttl_secs, b.expires_at, b.success_url, b.fail_url, b.return_url, \
     b.locale, b.payer_email, b.extra, b.created_at, b.updated_at";
pub(crate) const PAYMENT_COLUMNS: &str = "p.id, p.bill_id, p.merchant_id, p.shop_id, p.method, \
     p.status, p.amount, p.amount_received, p.commission, p.account_amount, p.account_currency, \
     p.refunded_amount, p.currency, p.from_card, p.card_fingerprint, p.error_code, \
     p.error_message, p.created_at, p.updated_at";

fn parsed<T: FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {text:?}")))
}

fn parsed_opt<T: FromStr>(row: &AnyRow, column: &str) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        t.parse()
            .map_err(|_| StoreError::Corrupt(format!("{column} = {t:?}")))
    })
    .transpose()
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn currency(row: &AnyRow, column: &str) -> Result<Currency, StoreError> {
    parsed::<Currency>(row, column)
}

pub(crate) fn merchant(row: &AnyRow) -> Result<Merchant, StoreError> {
    Ok(Merchant {
        id: MerchantId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        verified: flag(row, "verified")?,
        banned: flag(row, "banned")?,
        subscription: parsed(row, "subscription")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn shop(row: &AnyRow) -> Result<Shop, StoreError> {
    let bps: Option<i64> = row.try_get("commission_bps")?;
    Ok(Shop {
        id: ShopId::from_trusted(row.try_get("id")?),
        merchant_id: MerchantId::from_trusted(row.try_get("merchant_id")?),
        name: row.try_get("name")?,
        currency: currency(row, "currency")?,
        enabled: flag(row, "enabled")?,
        commission: bps
            .map(|b| {
                Rate::from_bps(b)
                    .ok_or_else(|| StoreError::Corrupt(format!("commission_bps = {b}")))
            })
            .transpose()?,
        result_url: row.try_get("result_url")?,
        success_url: row.try_get("success_url")?,
        fail_url: row.try_get("fail_url")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn bill(row: &AnyRow) -> Result<Bill, StoreError> {
    let amount: i64 = row.try_get("amount")?;
    Ok(Bill {
        id: BillId::from_trusted(row.try_get("id")?),
        merchant_id: MerchantId::from_trusted(row.try_get("merchant_id")?),
        shop_id: ShopId::from_trusted(row.try_get("shop_id")?),
        order_id: row.try_get("order_id")?,
        description: row.try_get("description")?,
        name: row.try_get("name")?,
        custom: row.try_get("custom")?,
        bill_type: parsed(row, "bill_type")?,
        currency: currency(row, "currency")?,
        amount: Amount::from_minor(amount)
            .ok_or_else(|| StoreError::Corrupt(format!("bill amount = {amount}")))?,
        active: flag(row, "active")?,
        status: parsed(row, "status")?,
        payment_method: parsed_opt(row, "payment_method")?,
        payer_pays_commission: flag(row, "payer_pays_commission")?,
        ttl_secs: row.try_get("ttl_secs")?,
        expires_at: row.try_get("expires_at")?,
        success_url: row.try_get("success_url")?,
        fail_url: row.try_get("fail_url")?,
        return_url: row.try_get("return_url")?,
        locale: parsed_opt(row, "locale")?,
        payer_email: row.try_get("payer_email")?,
        extra: row.try_get("extra")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn payment(row: &AnyRow) -> Result<Payment, StoreError> {
    Ok(Payment {
        id: PaymentId::from_trusted(row.try_get("id")?),
        bill_id: BillId::from_trusted(row.try_get("bill_id")?),
        merchant_id: MerchantId::from_trusted(row.try_get("merchant_id")?),
        shop_id: ShopId::from_trusted(row.try_get("shop_id")?),
        method: parsed(row, "method")?,
        status: parsed(row, "status")?,
        amount: row.try_get("amount")?,
        amount_received: row.try_get("amount_received")?,
        commission: row.try_get("commission")?,
        account_amount: row.try_get("account_amount")?,
        account_currency: currency(row, "account_currency")?,
        refunded_amount: row.try_get("refunded_amount")?,
        currency: currency(row, "currency")?,
        from_card: row.try_get("from_card")?,
        card_fingerprint: row.try_get("card_fingerprint")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
