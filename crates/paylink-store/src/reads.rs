//! Read queries, on the read pool. Every merchant-facing read is scoped by merchant id, so a
//! foreign object is indistinguishable from a missing one.

use crate::rows::{
    self, SealedToken, TokenOwner, BILL_COLUMNS, MERCHANT_COLUMNS, PAYMENT_COLUMNS, SHOP_COLUMNS,
    TOKEN_OWNER_COLUMNS,
};
use crate::sql::{Decode, Value};
use crate::{Store, StoreError};
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::payment::Payment;
use paylink_core::permanent_link::PermanentLink;
use paylink_core::plan::{RequestKey, StoredAnswer};
use paylink_core::time::Millis;

/// What the payer's pages show and sign: the bill, its shop, the merchant's name and token.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub bill: Bill,
    pub shop: Shop,
    pub merchant_name: String,
    /// Nobody may pay a banned merchant's bills.
    pub merchant_banned: bool,
    pub token: Option<SealedToken>,
    /// The link's terms, when the bill is a permanent link.
    pub link: Option<PermanentLink>,
    /// Where a permanent link's callbacks go: its own URL, else its merchant's default.
    pub link_callback: Option<String>,
}

/// One day of a merchant's payments in one currency (see [`Store::daily_payments`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPayments {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub currency: paylink_core::money::Currency,
    /// Minor units of the payments that brought money.
    pub turnover: i64,
    pub made: i64,
    pub paid: i64,
}

/// A position in a list ordered newest first: (created_at, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub created_at: Millis,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Older items than the keyset.
    Next,
    /// Newer items than the keyset.
    Prev,
}

#[derive(Debug, Clone)]
pub struct PageRequest {
    pub from: Option<(Keyset, Direction)>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Newest first, whatever the direction of travel.
    pub items: Vec<T>,
    /// More items lie beyond this page in the direction of travel.
    pub has_more: bool,
}

#[derive(Debug, Clone, Default)]
pub struct BillFilter {
    pub shop_id: Option<ShopId>,
    pub order_id: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub bill_id: Option<BillId>,
    pub shop_id: Option<ShopId>,
    pub bill_order_id: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

/// A SELECT assembled from optional filters, with `$n` placeholders numbered as they are added.
pub(crate) struct Select {
    sql: String,
    conditions: Vec<String>,
    args: Vec<Value>,
}

impl Select {
    pub(crate) fn new(sql: String) -> Self {
        Select {
            sql,
            conditions: Vec::new(),
            args: Vec::new(),
        }
    }

    fn arg(&mut self, arg: Value) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    pub(crate) fn filter(&mut self, column: &str, op: &str, arg: Option<Value>) {
        if let Some(arg) = arg {
            let p = self.arg(arg);
            self.conditions.push(format!("{column} {op} {p}"));
        }
    }

    /// A condition without an argument (a join's).
    pub(crate) fn condition(&mut self, text: &str) {
        self.conditions.push(text.to_string());
    }

    pub(crate) async fn page<T: Send>(
        mut self,
        store: &Store,
        alias: &str,
        page: &PageRequest,
        decode: Decode<T>,
    ) -> Result<Page<T>, StoreError> {
        let descending = match &page.from {
            Some((k, dir)) => {
                let c = self.arg(Value::Int(k.created_at));
                let i = self.arg(Value::Text(k.id.clone()));
                let (op, desc) = match dir {
                    Direction::Next => ("<", true),
                    Direction::Prev => (">", false),
                };
                self.conditions
                    .push(format!("({alias}.created_at, {alias}.id) {op} ({c}, {i})"));
                desc
            }
            None => true,
        };
        let order = if descending { "DESC" } else { "ASC" };
        let limit = i64::from(page.limit);
        // Bound, not written into the text: the statement caches see one SQL per filter set.
        let fetch = self.arg(Value::Int(limit + 1));
        let order_by =
            format!(" ORDER BY {alias}.created_at {order}, {alias}.id {order} LIMIT {fetch}");
        let mut sql = self.sql;
        if !self.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conditions.join(" AND "));
        }
        sql.push_str(&order_by);
        let mut rows = store.fetch(&sql, &self.args, decode).await?;
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        if !descending {
            rows.reverse();
        }
        Ok(Page {
            items: rows,
            has_more,
        })
    }
}

impl Store {
    pub async fn token_owner(&self, token_id: i64) -> Result<Option<TokenOwner>, StoreError> {
        let sql = sql_once!(
            "SELECT {TOKEN_OWNER_COLUMNS} FROM api_tokens t
             JOIN merchants m ON m.id = t.merchant_id
             WHERE t.id = $1 AND t.revoked_at IS NULL"
        );
        self.fetch_one(sql, &[Value::Int(token_id)], rows::token_owner)
            .await
    }

    /// A live token's owner and, in the same read, that merchant's bill `bill_id` (`None`
    /// when missing or another merchant's). One statement: one round trip per request.
    pub async fn token_owner_with_bill(
        &self,
        token_id: i64,
        bill_id: &BillId,
    ) -> Result<Option<(TokenOwner, Option<Bill>)>, StoreError> {
        let sql = sql_once!(
            "SELECT {TOKEN_OWNER_COLUMNS}, {BILL_COLUMNS} FROM api_tokens t
             JOIN merchants m ON m.id = t.merchant_id
             LEFT JOIN bills b ON b.id = $2 AND b.merchant_id = t.merchant_id
             WHERE t.id = $1 AND t.revoked_at IS NULL"
        );
        self.fetch_one(sql, &[Value::Int(token_id), bill_id.as_str().into()], |r| {
            Ok((rows::token_owner(r)?, rows::joined(r, rows::bill)?))
        })
        .await
    }

    /// A live token's owner and that merchant's payment `payment_id`, in one read.
    pub async fn token_owner_with_payment(
        &self,
        token_id: i64,
        payment_id: &PaymentId,
    ) -> Result<Option<(TokenOwner, Option<Payment>)>, StoreError> {
        let sql = sql_once!(
            "SELECT {TOKEN_OWNER_COLUMNS}, {PAYMENT_COLUMNS} FROM api_tokens t
             JOIN merchants m ON m.id = t.merchant_id
             LEFT JOIN payments p ON p.id = $2 AND p.merchant_id = t.merchant_id
             WHERE t.id = $1 AND t.revoked_at IS NULL"
        );
        self.fetch_one(
            sql,
            &[Value::Int(token_id), payment_id.as_str().into()],
            |r| Ok((rows::token_owner(r)?, rows::joined(r, rows::payment)?)),
        )
        .await
    }

    /// A live token's owner and the shop `shop_id`, whoever owns it (the caller tells another
    /// merchant's shop, `access_denied`, from a missing one), in one read.
    pub async fn token_owner_with_shop(
        &self,
        token_id: i64,
        shop_id: &ShopId,
    ) -> Result<Option<(TokenOwner, Option<Shop>)>, StoreError> {
        let sql = sql_once!(
            "SELECT {TOKEN_OWNER_COLUMNS}, {SHOP_COLUMNS} FROM api_tokens t
             JOIN merchants m ON m.id = t.merchant_id
             LEFT JOIN shops s ON s.id = $2
             WHERE t.id = $1 AND t.revoked_at IS NULL"
        );
        self.fetch_one(sql, &[Value::Int(token_id), shop_id.as_str().into()], |r| {
            Ok((rows::token_owner(r)?, rows::joined(r, rows::shop)?))
        })
        .await
    }

    pub async fn merchant(&self, id: &MerchantId) -> Result<Option<Merchant>, StoreError> {
        let sql = sql_once!("SELECT {MERCHANT_COLUMNS} FROM merchants m WHERE m.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], rows::merchant)
            .await
    }

    pub async fn shop(&self, id: &ShopId) -> Result<Option<Shop>, StoreError> {
        let sql = sql_once!("SELECT {SHOP_COLUMNS} FROM shops s WHERE s.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], rows::shop).await
    }

    /// The merchant's payments since `since`, per UTC day (days since the epoch) and currency:
    /// what came in (payments that brought money), how many were made, how many succeeded.
    pub async fn daily_payments(
        &self,
        merchant: &MerchantId,
        since: Millis,
    ) -> Result<Vec<DailyPayments>, StoreError> {
        // PostgreSQL sums BIGINT as NUMERIC: cast back, as the ledger's sums do.
        self.fetch(
            "SELECT created_at / 86400000 AS day, currency,
                    CAST(SUM(CASE WHEN status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')
                             THEN amount ELSE 0 END) AS BIGINT) AS turnover,
                    COUNT(*) AS made,
                    CAST(SUM(CASE WHEN status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')
                             THEN 1 ELSE 0 END) AS BIGINT) AS paid
             FROM payments WHERE merchant_id = $1 AND created_at >= $2
             GROUP BY created_at / 86400000, currency ORDER BY day, currency",
            &[merchant.as_str().into(), since.into()],
            |r| {
                Ok(DailyPayments {
                    day: r.i64("day")?,
                    currency: crate::rows::currency(r, "currency")?,
                    turnover: r.i64("turnover")?,
                    made: r.i64("made")?,
                    paid: r.i64("paid")?,
                })
            },
        )
        .await
    }

    /// The merchant's shops, oldest first.
    pub async fn shops_of(&self, merchant: &MerchantId) -> Result<Vec<Shop>, StoreError> {
        let sql = sql_once!(
            "SELECT {SHOP_COLUMNS} FROM shops s WHERE s.merchant_id = $1 ORDER BY s.created_at, s.id"
        );
        self.fetch(sql, &[merchant.as_str().into()], rows::shop)
            .await
    }

    /// Any bill by id: for the payer-facing pages, which have no merchant.
    pub async fn bill(&self, id: &BillId) -> Result<Option<Bill>, StoreError> {
        let sql = sql_once!("SELECT {BILL_COLUMNS} FROM bills b WHERE b.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], rows::bill).await
    }

    /// A bill of `merchant`'s; another merchant's bill is `None`, as a missing one.
    pub async fn merchant_bill(
        &self,
        merchant: &MerchantId,
        id: &BillId,
    ) -> Result<Option<Bill>, StoreError> {
        let sql =
            sql_once!("SELECT {BILL_COLUMNS} FROM bills b WHERE b.id = $1 AND b.merchant_id = $2");
        self.fetch_one(
            sql,
            &[id.as_str().into(), merchant.as_str().into()],
            rows::bill,
        )
        .await
    }

    pub async fn merchant_payment(
        &self,
        merchant: &MerchantId,
        id: &PaymentId,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYMENT_COLUMNS} FROM payments p WHERE p.id = $1 AND p.merchant_id = $2"
        );
        self.fetch_one(
            sql,
            &[id.as_str().into(), merchant.as_str().into()],
            rows::payment,
        )
        .await
    }

    pub async fn search_bills(
        &self,
        merchant: &MerchantId,
        filter: &BillFilter,
        page: &PageRequest,
    ) -> Result<Page<Bill>, StoreError> {
        let mut s = Select::new(format!("SELECT {BILL_COLUMNS} FROM bills b"));
        s.filter(
            "b.merchant_id",
            "=",
            Some(Value::Text(merchant.to_string())),
        );
        // With an order id, which finds a handful of rows, the shop is a value checked on those
        // rows (`|| ''` keeps an index from using it): SQLite without statistics weighs
        // `bills_merchant_shop` and `bills_merchant_order` alike and may walk every bill of the
        // shop to find one order. The payments' search does the same with the bill.
        s.filter(
            if filter.order_id.is_some() {
                "(b.shop_id || '')"
            } else {
                "b.shop_id"
            },
            "=",
            filter.shop_id.as_ref().map(|v| Value::Text(v.to_string())),
        );
        s.filter("b.order_id", "=", filter.order_id.clone().map(Value::Text));
        s.filter("b.created_at", ">=", filter.from.map(Value::Int));
        s.filter("b.created_at", "<=", filter.to.map(Value::Int));
        s.page(self, "b", page, rows::bill).await
    }

    pub async fn search_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest,
    ) -> Result<Page<Payment>, StoreError> {
        // By the bill's order id: the merchant's bills with that order id first, then their
        // payments (by `payments_merchant_bill`). CROSS JOIN keeps that order on SQLite, whose
        // planner, without statistics, would rather walk all the merchant's payments newest
        // first and look each one's bill up; PostgreSQL plans it as any inner join.
        let from = if filter.bill_order_id.is_some() {
            "bills b CROSS JOIN payments p"
        } else {
            "payments p"
        };
        let mut s = Select::new(format!("SELECT {PAYMENT_COLUMNS} FROM {from}"));
        s.filter(
            "p.merchant_id",
            "=",
            Some(Value::Text(merchant.to_string())),
        );
        if let Some(order_id) = &filter.bill_order_id {
            s.condition("p.bill_id = b.id");
            s.filter(
                "b.merchant_id",
                "=",
                Some(Value::Text(merchant.to_string())),
            );
            s.filter("b.order_id", "=", Some(Value::Text(order_id.clone())));
        }
        s.filter(
            "p.bill_id",
            "=",
            filter.bill_id.as_ref().map(|v| Value::Text(v.to_string())),
        );
        s.filter(
            if filter.bill_id.is_some() || filter.bill_order_id.is_some() {
                "(p.shop_id || '')"
            } else {
                "p.shop_id"
            },
            "=",
            filter.shop_id.as_ref().map(|v| Value::Text(v.to_string())),
        );
        s.filter("p.created_at", ">=", filter.from.map(Value::Int));
        s.filter("p.created_at", "<=", filter.to.map(Value::Int));
        s.page(self, "p", page, rows::payment).await
    }
}

impl Store {
    pub async fn merchant_count(&self) -> Result<i64, StoreError> {
        let n = self
            .fetch_one("SELECT COUNT(*) AS n FROM merchants", &[], |r| r.i64("n"))
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Any payment by id: for the payer's pages, which have no merchant.
    pub async fn payment(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let sql = sql_once!(
            "SELECT {} FROM payments p WHERE p.id = $1",
            rows::PAYMENT_COLUMNS
        );
        self.fetch_one(sql, &[id.as_str().into()], rows::payment)
            .await
    }

    /// Bill `id` with its shop, merchant name and live token, in one read.
    pub async fn checkout(&self, id: &BillId) -> Result<Option<Checkout>, StoreError> {
        let sql = sql_once!(
            "SELECT {BILL_COLUMNS}, {}, m.name AS m_name, m.banned AS m_banned, t.id AS token_id,
                 t.sealed AS token_sealed, {}, pm.callback_url AS pm_callback_url
             FROM bills b
             JOIN shops s ON s.id = b.shop_id
             JOIN merchants m ON m.id = b.merchant_id
             LEFT JOIN api_tokens t ON t.merchant_id = b.merchant_id AND t.revoked_at IS NULL
             LEFT JOIN permanent_links l ON l.id = b.id
             LEFT JOIN procard_merchants pm ON pm.id = l.merchant_id
             WHERE b.id = $1",
            rows::shop_columns_prefixed(),
            crate::links::LINK_COLUMNS
        );
        self.fetch_one(sql, &[id.as_str().into()], |r| {
            Ok(Checkout {
                bill: rows::bill(r)?,
                shop: rows::prefixed(r, "s_", rows::shop)?,
                merchant_name: r.text("m_name")?,
                merchant_banned: rows::flag(r, "m_banned")?,
                token: rows::sealed_token(r)?,
                link: match r.opt_text("l_id")? {
                    Some(_) => Some(crate::links::link(r)?),
                    None => None,
                },
                link_callback: match r.opt_text("l_callback_url")? {
                    Some(url) => Some(url),
                    None => r.opt_text("pm_callback_url")?,
                },
            })
        })
        .await
    }

    /// A live token's owner and that merchant's bill `bill_id` with its shop, in one read:
    /// what a payment through the API needs.
    pub async fn token_owner_with_bill_and_shop(
        &self,
        token_id: i64,
        bill_id: &BillId,
    ) -> Result<Option<(TokenOwner, Option<(Bill, Shop)>)>, StoreError> {
        let sql = sql_once!(
            "SELECT {TOKEN_OWNER_COLUMNS}, {BILL_COLUMNS}, {} FROM api_tokens t
             JOIN merchants m ON m.id = t.merchant_id
             LEFT JOIN bills b ON b.id = $2 AND b.merchant_id = t.merchant_id
             LEFT JOIN shops s ON s.id = b.shop_id
             WHERE t.id = $1 AND t.revoked_at IS NULL",
            rows::shop_columns_prefixed()
        );
        self.fetch_one(sql, &[Value::Int(token_id), bill_id.as_str().into()], |r| {
            let owner = rows::token_owner(r)?;
            let found = match rows::joined(r, rows::bill)? {
                Some(bill) => Some((bill, rows::prefixed(r, "s_", rows::shop)?)),
                None => None,
            };
            Ok((owner, found))
        })
        .await
    }
}

/// A remembered `Idempotency-Key` (see [`paylink_core::plan::Write::ClaimRequest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedRequest {
    pub fingerprint: String,
    /// The answer once the request is done; `None` while it runs.
    pub answer: Option<StoredAnswer>,
    /// The object made by a request whose answer is not stored yet.
    pub reference: Option<String>,
    pub leased_until: Millis,
    pub created_at: Millis,
}

impl Store {
    pub async fn remembered_request(
        &self,
        key: &RequestKey,
    ) -> Result<Option<RememberedRequest>, StoreError> {
        self.fetch_one(
            "SELECT fingerprint, state, reference, status, body, leased_until, created_at
             FROM requests WHERE merchant_id = $1 AND idempotency_key = $2",
            &[key.merchant_id.as_str().into(), key.key.as_str().into()],
            |r| {
                let answer = match (r.text("state")?.as_str(), r.opt_i64("status")?) {
                    ("done", Some(status)) => Some(StoredAnswer {
                        status: u16::try_from(status)
                            .map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
                        body: r.opt_text("body")?.unwrap_or_default(),
                    }),
                    _ => None,
                };
                Ok(RememberedRequest {
                    fingerprint: r.text("fingerprint")?,
                    answer,
                    reference: r.opt_text("reference")?,
                    leased_until: r.i64("leased_until")?,
                    created_at: r.i64("created_at")?,
                })
            },
        )
        .await
    }
}
