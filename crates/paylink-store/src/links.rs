//! Reads of the Procard dialect: a merchant's Procard access, permanent links and their
//! operations. Every read of links is scoped by merchant, so a foreign link reads as missing.

use crate::rows::{self, BILL_COLUMNS, SHOP_COLUMNS};
use crate::sql::Columns;
use crate::{Store, StoreError};
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::Shop;
use paylink_core::money::Amount;
use paylink_core::permanent_link::{
    Language, LinkFlow, LinkKind, LinkTerms, Operation, OperationStatus, PermanentLink,
};
use paylink_core::time::Millis;

/// A merchant's Procard access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcardAccess {
    pub merchant_id: MerchantId,
    /// The `merchant_id` Procard clients send.
    pub login: String,
    /// The HMAC key, sealed (bound to the merchant id).
    pub key_sealed: String,
    /// Where the merchant's links are opened.
    pub shop_id: ShopId,
    /// The default callback URL of its links.
    pub callback_url: Option<String>,
    pub merchant_banned: bool,
}

/// A link with its bill (name, description, status).
#[derive(Debug, Clone)]
pub struct LinkWithBill {
    pub link: PermanentLink,
    pub bill: Bill,
}

/// Amounts as stored: minor units joined by ';'.
pub(crate) fn amounts_text(amounts: &[Amount]) -> String {
    amounts
        .iter()
        .map(|a| a.minor().to_string())
        .collect::<Vec<_>>()
        .join(";")
}

fn amounts(text: &str) -> Result<Vec<Amount>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(';')
        .map(|m| {
            m.parse::<i64>()
                .ok()
                .and_then(Amount::from_minor)
                .ok_or_else(|| StoreError::Corrupt(format!("permanent link amounts = {text:?}")))
        })
        .collect()
}

pub(crate) const LINK_COLUMNS: &str =
    "l.id AS l_id, l.merchant_id AS l_merchant_id, l.flow, l.kind, \
     l.amounts, l.enable_counter, l.custom_amount, l.target_amount, l.show_total, l.language, \
     l.recipient_sealed, l.recipient_mask, l.callback_url AS l_callback_url, \
     l.created_at AS l_created_at, l.updated_at AS l_updated_at";

pub(crate) fn link(r: &dyn Columns) -> Result<PermanentLink, StoreError> {
    let corrupt = |c: &str, v: String| StoreError::Corrupt(format!("permanent_links.{c} = {v:?}"));
    let flow = r.text("flow")?;
    let language = r.text("language")?;
    let kind = r.i64("kind")?;
    Ok(PermanentLink {
        id: BillId::from_trusted(r.text("l_id")?),
        merchant_id: MerchantId::from_trusted(r.text("l_merchant_id")?),
        flow: LinkFlow::parse(&flow).ok_or_else(|| corrupt("flow", flow.clone()))?,
        terms: LinkTerms {
            kind: LinkKind::from_code(kind).ok_or_else(|| corrupt("kind", kind.to_string()))?,
            amounts: amounts(&r.text("amounts")?)?,
            enable_counter: rows::flag(r, "enable_counter")?,
            custom_amount: r.i64("custom_amount")?,
            target_amount: r.i64("target_amount")?,
            show_total: rows::flag(r, "show_total")?,
            language: Language::parse(&language)
                .ok_or_else(|| corrupt("language", language.clone()))?,
        },
        recipient_sealed: r.opt_text("recipient_sealed")?,
        recipient_mask: r.opt_text("recipient_mask")?,
        callback_url: r.opt_text("l_callback_url")?,
        created_at: r.i64("l_created_at")?,
        updated_at: r.i64("l_updated_at")?,
    })
}

const OPERATION_COLUMNS: &str = "o.id, o.payment_id, o.link_id, o.merchant_id, o.amount, \
     o.quantity, o.fee, o.currency, o.status, o.card_mask, o.created_at, o.updated_at";

fn operation(r: &dyn Columns) -> Result<Operation, StoreError> {
    let status = r.text("status")?;
    Ok(Operation {
        id: r.i64("id")?,
        payment_id: PaymentId::from_trusted(r.text("payment_id")?),
        link_id: BillId::from_trusted(r.text("link_id")?),
        merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
        amount: r.i64("amount")?,
        quantity: r.i64("quantity")?,
        fee: r.i64("fee")?,
        currency: rows::currency(r, "currency")?,
        status: OperationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("link_operations.status = {status:?}")))?,
        card_mask: r.text("card_mask")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

fn access(r: &dyn Columns) -> Result<ProcardAccess, StoreError> {
    Ok(ProcardAccess {
        merchant_id: MerchantId::from_trusted(r.text("id")?),
        login: r.text("login")?,
        key_sealed: r.text("key_sealed")?,
        shop_id: ShopId::from_trusted(r.text("shop_id")?),
        callback_url: r.opt_text("callback_url")?,
        merchant_banned: rows::flag(r, "banned")?,
    })
}

fn with_bill(r: &dyn Columns) -> Result<LinkWithBill, StoreError> {
    Ok(LinkWithBill {
        link: link(r)?,
        bill: rows::bill(r)?,
    })
}

/// Which operations a list shows: APPROVED ones, and WAITING-AUTH ones whose challenge may
/// still be answered (an abandoned challenge drops out of the list when it expires).
const LISTED: &str =
    "o.link_id = $1 AND (o.status = 'APPROVED' OR (o.status = 'WAITING-AUTH' AND o.created_at > $2))";

impl Store {
    /// The merchant's oldest shop: where its links are opened unless it names another.
    pub async fn first_shop(&self, merchant: &MerchantId) -> Result<Option<Shop>, StoreError> {
        let sql = sql_once!(
            "SELECT {SHOP_COLUMNS} FROM shops s WHERE s.merchant_id = $1
             ORDER BY s.created_at, s.id LIMIT 1"
        );
        self.fetch_one(sql, &[merchant.as_str().into()], rows::shop)
            .await
    }

    /// Procard access by the login clients send.
    pub async fn procard_by_login(&self, login: &str) -> Result<Option<ProcardAccess>, StoreError> {
        self.fetch_one(
            "SELECT p.id, p.login, p.key_sealed, p.shop_id, p.callback_url, m.banned
             FROM procard_merchants p JOIN merchants m ON m.id = p.id WHERE p.login = $1",
            &[login.into()],
            access,
        )
        .await
    }

    /// A merchant's Procard access, if it has one.
    pub async fn procard_of(
        &self,
        merchant: &MerchantId,
    ) -> Result<Option<ProcardAccess>, StoreError> {
        self.fetch_one(
            "SELECT p.id, p.login, p.key_sealed, p.shop_id, p.callback_url, m.banned
             FROM procard_merchants p JOIN merchants m ON m.id = p.id WHERE p.id = $1",
            &[merchant.as_str().into()],
            access,
        )
        .await
    }

    /// The merchant's link `id`, with its bill.
    pub async fn link_of(
        &self,
        merchant: &MerchantId,
        id: &BillId,
    ) -> Result<Option<LinkWithBill>, StoreError> {
        let sql = sql_once!(
            "SELECT {LINK_COLUMNS}, {BILL_COLUMNS} FROM permanent_links l
             JOIN bills b ON b.id = l.id WHERE l.id = $1 AND l.merchant_id = $2"
        );
        self.fetch_one(
            sql,
            &[id.as_str().into(), merchant.as_str().into()],
            with_bill,
        )
        .await
    }

    /// Link `id` (whoever's), for the payer's side.
    pub async fn link(&self, id: &BillId) -> Result<Option<PermanentLink>, StoreError> {
        let sql = sql_once!("SELECT {LINK_COLUMNS} FROM permanent_links l WHERE l.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], link).await
    }

    /// Every link of the merchant, oldest first, with their bills; at most `limit`.
    pub async fn links_of(
        &self,
        merchant: &MerchantId,
        limit: i64,
    ) -> Result<Vec<LinkWithBill>, StoreError> {
        let sql = sql_once!(
            "SELECT {LINK_COLUMNS}, {BILL_COLUMNS} FROM permanent_links l
             JOIN bills b ON b.id = l.id WHERE l.merchant_id = $1
             ORDER BY l.created_at, l.id LIMIT $2"
        );
        self.fetch(sql, &[merchant.as_str().into(), limit.into()], with_bill)
            .await
    }

    /// One page of the link's listed operations, newest first, and how many there are; a
    /// WAITING-AUTH operation is listed while it was made after `waiting_since`.
    pub async fn operations(
        &self,
        link: &BillId,
        waiting_since: Millis,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Operation>, i64), StoreError> {
        let sql = sql_once!(
            "SELECT {OPERATION_COLUMNS} FROM link_operations o WHERE {LISTED}
             ORDER BY o.id DESC LIMIT $3 OFFSET $4"
        );
        let offset = (page - 1).saturating_mul(per_page);
        let ops = self
            .fetch(
                sql,
                &[
                    link.as_str().into(),
                    waiting_since.into(),
                    per_page.into(),
                    offset.into(),
                ],
                operation,
            )
            .await?;
        let count = sql_once!("SELECT COUNT(*) AS n FROM link_operations o WHERE {LISTED}");
        let total = self
            .fetch_one(count, &[link.as_str().into(), waiting_since.into()], |r| {
                r.i64("n")
            })
            .await?
            .unwrap_or(0);
        Ok((ops, total))
    }

    /// The operation of payment `id`.
    pub async fn operation(&self, id: &PaymentId) -> Result<Option<Operation>, StoreError> {
        let sql =
            sql_once!("SELECT {OPERATION_COLUMNS} FROM link_operations o WHERE o.payment_id = $1");
        self.fetch_one(sql, &[id.as_str().into()], operation).await
    }

    /// Operations still waiting for a 3-D Secure answer that were recorded before `before`,
    /// oldest first; at most `limit`.
    pub async fn abandoned_operations(
        &self,
        before: Millis,
        limit: i64,
    ) -> Result<Vec<Operation>, StoreError> {
        let sql = sql_once!(
            "SELECT {OPERATION_COLUMNS} FROM link_operations o
             WHERE o.status = 'WAITING-AUTH' AND o.created_at < $1
             ORDER BY o.created_at LIMIT $2"
        );
        self.fetch(sql, &[before.into(), limit.into()], operation)
            .await
    }

    /// What payers paid through the link and was not refunded (APPROVED operations, less
    /// their payments' partial refunds; before fee).
    pub async fn link_approved_total(&self, link: &BillId) -> Result<i64, StoreError> {
        Ok(self
            .fetch_one(
                // PostgreSQL sums BIGINT as NUMERIC: cast back, as the ledger's sums do.
                "SELECT CAST(COALESCE(SUM(o.amount - CASE WHEN p.refunded_amount < o.amount
                     THEN p.refunded_amount ELSE o.amount END), 0) AS BIGINT) AS total
                 FROM link_operations o JOIN payments p ON p.id = o.payment_id
                 WHERE o.link_id = $1 AND o.status = 'APPROVED'",
                &[link.as_str().into()],
                |r| r.i64("total"),
            )
            .await?
            .unwrap_or(0))
    }
}
