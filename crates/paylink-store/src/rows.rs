//! Rows → domain values. A value that does not decode is `Corrupt`, never a panic.

use crate::sql::Columns;
use crate::StoreError;
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::Payment;
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

fn parsed<T: FromStr>(row: &dyn Columns, column: &str) -> Result<T, StoreError> {
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

fn flag(row: &dyn Columns, column: &str) -> Result<bool, StoreError> {
    Ok(row.i64(column)? != 0)
}

fn currency(row: &dyn Columns, column: &str) -> Result<Currency, StoreError> {
    parsed::<Currency>(row, column)
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
        bill_type: parsed(row, "bill_type")?,
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
        from_card: row.text("from_card")?,
        card_fingerprint: row.opt_text("card_fingerprint")?,
        error_code: row.opt_i64("error_code")?,
        error_message: row.opt_text("error_message")?,
        created_at: row.i64("created_at")?,
        updated_at: row.i64("updated_at")?,
    })
}
