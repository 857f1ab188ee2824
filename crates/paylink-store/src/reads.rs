//! Read queries, on the read pool. Every merchant-facing read is scoped by merchant id, so a
//! foreign object is indistinguishable from a missing one.

use crate::rows::{
    self, SealedToken, TokenOwner, BILL_COLUMNS, MERCHANT_COLUMNS, PAYMENT_COLUMNS, SHOP_COLUMNS,
    TOKEN_OWNER_COLUMNS,
};
use crate::sql::{Decode, Value};
use crate::{Backend, Store, StoreError};
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

/// A position in a list ordered by (created_at, id), newest or oldest first. Links and the CLI
/// carry it as `<created_at>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub created_at: Millis,
    pub id: String,
}

impl Keyset {
    pub fn of(created_at: Millis, id: &str) -> Keyset {
        Keyset {
            created_at,
            id: id.to_string(),
        }
    }

    /// A position a client sent: `None` unless `id` is 1 to 64 ASCII letters, digits and `_`
    /// (every id's alphabet).
    pub fn checked(created_at: Millis, id: &str) -> Option<Keyset> {
        let id_ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        id_ok.then(|| Keyset::of(created_at, id))
    }

    /// From `<created_at>.<id>` (see [`Keyset::checked`]); `None` for anything else.
    pub fn parse(text: &str) -> Option<Keyset> {
        let (at, id) = text.split_once('.')?;
        Keyset::checked(at.parse().ok()?, id)
    }

    /// As the store's reads take a position.
    pub fn key(&self) -> (Millis, &str) {
        (self.created_at, self.id.as_str())
    }
}

impl std::fmt::Display for Keyset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at, self.id)
    }
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
    /// In the list's order (newest first for the searches, whatever the direction of travel).
    pub items: Vec<T>,
    /// More items lie beyond this page in the direction of travel.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// The first `limit` of `read`, a read of one row more than a page: whether that row came
    /// tells whether another page follows, without a count (a full last page has none).
    pub fn of(mut read: Vec<T>, limit: usize) -> Page<T> {
        let has_more = read.len() > limit;
        read.truncate(limit);
        Page {
            items: read,
            has_more,
        }
    }

    /// `at` of the last item, where the next page starts, when there is one. For pages read
    /// forward (a [`Direction::Prev`] read's items come reversed into the list's order).
    pub fn next<K>(&self, at: impl FnOnce(&T) -> K) -> Option<K> {
        self.items.last().filter(|_| self.has_more).map(at)
    }
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
        self,
        store: &Store,
        alias: &str,
        page: &PageRequest,
        decode: Decode<T>,
    ) -> Result<Page<T>, StoreError> {
        let (sql, args, descending) = self.statement(alias, page);
        let rows = store.fetch(&sql, &args, decode).await?;
        let mut found = Page::of(rows, page.limit as usize);
        if !descending {
            found.items.reverse();
        }
        Ok(found)
    }

    /// The statement for one page (one row more than the page, to tell whether more lie
    /// beyond), its arguments, and whether it reads newest first.
    fn statement(mut self, alias: &str, page: &PageRequest) -> (String, Vec<Value>, bool) {
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
        (sql, self.args, descending)
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
        bill_search(self.backend(), merchant, filter)
            .page(self, "b", page, rows::bill)
            .await
    }

    pub async fn search_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest,
    ) -> Result<Page<Payment>, StoreError> {
        payment_search(self.backend(), merchant, filter)
            .page(self, "p", page, rows::payment)
            .await
    }
}

/// `table` (named with its alias) read through `index` on SQLite. Its planner has no
/// statistics (paylink never runs ANALYZE) and weighs indexes by how many of their columns a
/// query constrains: it preferred a two-sided range on `created_at` to a shop's or a status's
/// index, or one equality column to another, and then walked the merchant's rows to fill a
/// page (docs/benchmarks.md, "Flat with size"). Each search names the index that answers it in
/// the page's order; PostgreSQL plans by its statistics.
pub(crate) fn indexed(backend: Backend, table: &str, index: &str) -> String {
    match backend {
        Backend::Sqlite => format!("{table} INDEXED BY {index}"),
        Backend::Postgres => table.to_string(),
    }
}

fn bill_search(backend: Backend, merchant: &MerchantId, filter: &BillFilter) -> Select {
    let index = if filter.order_id.is_some() {
        "bills_merchant_order"
    } else if filter.shop_id.is_some() {
        "bills_merchant_shop"
    } else {
        "bills_merchant_created"
    };
    let mut s = Select::new(format!(
        "SELECT {BILL_COLUMNS} FROM {}",
        indexed(backend, "bills b", index)
    ));
    s.filter(
        "b.merchant_id",
        "=",
        Some(Value::Text(merchant.to_string())),
    );
    s.filter(
        "b.shop_id",
        "=",
        filter.shop_id.as_ref().map(|v| Value::Text(v.to_string())),
    );
    s.filter("b.order_id", "=", filter.order_id.clone().map(Value::Text));
    s.filter("b.created_at", ">=", filter.from.map(Value::Int));
    s.filter("b.created_at", "<=", filter.to.map(Value::Int));
    s
}

fn payment_search(backend: Backend, merchant: &MerchantId, filter: &PaymentFilter) -> Select {
    // By the bill's order id: the merchant's bills with that order id first, then their
    // payments, then a sort of those few. CROSS JOIN keeps that order on SQLite; PostgreSQL
    // plans it as any inner join.
    let from = if filter.bill_order_id.is_some() {
        format!(
            "{} CROSS JOIN {}",
            indexed(backend, "bills b", "bills_merchant_order"),
            indexed(backend, "payments p", "payments_merchant_bill")
        )
    } else {
        let index = if filter.bill_id.is_some() {
            "payments_merchant_bill"
        } else if filter.shop_id.is_some() {
            "payments_merchant_shop"
        } else {
            "payments_merchant_created"
        };
        indexed(backend, "payments p", index)
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
        "p.shop_id",
        "=",
        filter.shop_id.as_ref().map(|v| Value::Text(v.to_string())),
    );
    s.filter("p.created_at", ">=", filter.from.map(Value::Int));
    s.filter("p.created_at", "<=", filter.to.map(Value::Int));
    s
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

/// Every search is one index range read in the page's order on SQLite, whatever a filter
/// leaves out: no walk of all of a merchant's rows to find a few, and a sort only of the
/// handful of rows one id finds. SQLite plans without statistics (paylink never runs ANALYZE),
/// so an empty database plans as a grown one does (docs/benchmarks.md, "Flat with size").
#[cfg(test)]
mod plans {
    use super::*;
    use crate::money::{payout_search, refund_search, MoneyFilter};
    use crate::StoreOptions;

    /// `select`'s plan, first page and a later one: it reads with `index` and sorts only if
    /// `sorts`.
    async fn check(
        store: &Store,
        what: &str,
        select: impl Fn() -> Select,
        alias: &str,
        index: &str,
        sorts: bool,
    ) {
        let pages = [
            PageRequest {
                from: None,
                limit: 100,
            },
            PageRequest {
                from: Some((
                    Keyset {
                        created_at: 1_700_000_000_000,
                        id: "k".into(),
                    },
                    Direction::Next,
                )),
                limit: 100,
            },
            PageRequest {
                from: Some((
                    Keyset {
                        created_at: 1_700_000_000_000,
                        id: "k".into(),
                    },
                    Direction::Prev,
                )),
                limit: 100,
            },
        ];
        for page in &pages {
            let what = format!("{what} (from {:?})", page.from.as_ref().map(|f| f.1));
            let (sql, args, _) = select().statement(alias, page);
            let plan = store
                .fetch(&format!("EXPLAIN QUERY PLAN {sql}"), &args, |r| {
                    r.text("detail")
                })
                .await
                .unwrap()
                .join("\n");
            let plan = format!("{sql}\n{plan}");
            let read = plan
                .lines()
                .find(|l| l.contains(&format!("INDEX {index} (")))
                .unwrap_or_else(|| panic!("{what}: expected {index}, got:\n{plan}"));
            assert!(
                read.starts_with("SEARCH "),
                "{what}: {index} is walked, not searched:\n{plan}"
            );
            // Dates and cursors bound the index range itself, not the rows read after it.
            let bounded = sql.contains(&format!("{alias}.created_at >"))
                || sql.contains(&format!("{alias}.created_at <"))
                || page.from.is_some();
            assert!(
                sorts || !bounded || read.contains("created_at"),
                "{what}: the range of the index is not bounded by created_at:\n{plan}"
            );
            assert_eq!(
                plan.contains("TEMP B-TREE"),
                sorts,
                "{what}: {}\n{plan}",
                if sorts {
                    "expected a sort of one id's rows"
                } else {
                    "sorts instead of reading in order"
                }
            );
        }
    }

    #[tokio::test]
    async fn every_search_reads_one_index_range_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plans.db").display());
        let store = Store::open(&url, StoreOptions::default()).await.unwrap();
        let m = &MerchantId::from_trusted("m".into());
        let shop = || Some(ShopId::from_trusted("s".into()));
        let text = || Some("x".to_string());
        let day = Some(1_700_000_000_000);

        let bills = |f: BillFilter| move || bill_search(Backend::Sqlite, m, &f);
        for (what, f, index) in [
            ("bills", BillFilter::default(), "bills_merchant_created"),
            (
                "bills by shop",
                BillFilter {
                    shop_id: shop(),
                    ..Default::default()
                },
                "bills_merchant_shop",
            ),
            (
                "bills by order id",
                BillFilter {
                    order_id: text(),
                    ..Default::default()
                },
                "bills_merchant_order",
            ),
            (
                "bills by order id and shop",
                BillFilter {
                    order_id: text(),
                    shop_id: shop(),
                    ..Default::default()
                },
                "bills_merchant_order",
            ),
            (
                "bills by date",
                BillFilter {
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "bills_merchant_created",
            ),
            (
                "bills by shop and date",
                BillFilter {
                    shop_id: shop(),
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "bills_merchant_shop",
            ),
        ] {
            check(&store, what, bills(f), "b", index, false).await;
        }

        let payments = |f: PaymentFilter| move || payment_search(Backend::Sqlite, m, &f);
        let bill = || Some(BillId::from_trusted("b".into()));
        for (what, f, index, sorts) in [
            (
                "payments",
                PaymentFilter::default(),
                "payments_merchant_created",
                false,
            ),
            (
                "payments by shop",
                PaymentFilter {
                    shop_id: shop(),
                    ..Default::default()
                },
                "payments_merchant_shop",
                false,
            ),
            (
                "payments by bill",
                PaymentFilter {
                    bill_id: bill(),
                    ..Default::default()
                },
                "payments_merchant_bill",
                false,
            ),
            (
                "payments by bill and shop",
                PaymentFilter {
                    bill_id: bill(),
                    shop_id: shop(),
                    ..Default::default()
                },
                "payments_merchant_bill",
                false,
            ),
            // The bills with that order id first, then their payments, sorted.
            (
                "payments by bill order id",
                PaymentFilter {
                    bill_order_id: text(),
                    shop_id: shop(),
                    ..Default::default()
                },
                "payments_merchant_bill",
                true,
            ),
            (
                "payments by date",
                PaymentFilter {
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "payments_merchant_created",
                false,
            ),
            (
                "payments by shop and date",
                PaymentFilter {
                    shop_id: shop(),
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "payments_merchant_shop",
                false,
            ),
        ] {
            check(&store, what, payments(f.clone()), "p", index, sorts).await;
            if f.bill_order_id.is_some() {
                check(&store, what, payments(f), "p", "bills_merchant_order", true).await;
            }
        }

        let payouts = |f: MoneyFilter| move || payout_search(Backend::Sqlite, m, &f);
        let status = || Some("FAIL".to_string());
        for (what, f, index, sorts) in [
            (
                "payouts",
                MoneyFilter::default(),
                "payouts_merchant_created",
                false,
            ),
            (
                "payouts by status",
                MoneyFilter {
                    status: status(),
                    ..Default::default()
                },
                "payouts_merchant_status",
                false,
            ),
            (
                "payouts by status and date",
                MoneyFilter {
                    status: status(),
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "payouts_merchant_status",
                false,
            ),
            // The parts of one order, sorted.
            (
                "payouts by order id",
                MoneyFilter {
                    order_id: text(),
                    ..Default::default()
                },
                "payouts_order",
                true,
            ),
            (
                "payouts by order id and status",
                MoneyFilter {
                    order_id: text(),
                    status: status(),
                    ..Default::default()
                },
                "payouts_order",
                true,
            ),
            (
                "payouts by date",
                MoneyFilter {
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "payouts_merchant_created",
                false,
            ),
        ] {
            check(&store, what, payouts(f), "o", index, sorts).await;
        }

        let refunds = |f: MoneyFilter| move || refund_search(Backend::Sqlite, m, &f);
        for (what, f, index) in [
            (
                "refunds",
                MoneyFilter::default(),
                "refunds_merchant_created",
            ),
            (
                "refunds by status",
                MoneyFilter {
                    status: status(),
                    ..Default::default()
                },
                "refunds_merchant_status",
            ),
            (
                "refunds by payment",
                MoneyFilter {
                    payment_id: text(),
                    ..Default::default()
                },
                "refunds_merchant_payment",
            ),
            (
                "refunds by payment and status",
                MoneyFilter {
                    payment_id: text(),
                    status: status(),
                    ..Default::default()
                },
                "refunds_merchant_payment",
            ),
            (
                "refunds by date",
                MoneyFilter {
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "refunds_merchant_created",
            ),
            (
                "refunds by status and date",
                MoneyFilter {
                    status: status(),
                    from: day,
                    to: day,
                    ..Default::default()
                },
                "refunds_merchant_status",
            ),
        ] {
            check(&store, what, refunds(f), "r", index, false).await;
        }
    }
}

#[cfg(test)]
mod cursors {
    use super::{Keyset, Page};

    #[test]
    fn a_cursor_reads_back_as_written_and_nothing_else() {
        let k = Keyset::parse("1700000000123.msg_Ab9").unwrap();
        assert_eq!(k.key(), (1700000000123, "msg_Ab9"));
        assert_eq!(Keyset::parse(&k.to_string()), Some(k));
        let long = format!("1.{}", "a".repeat(65));
        for bad in [
            "",
            "17",
            "x.abc",
            ".abc",
            "1.",
            "1.a.c",
            "1.a\u{0}b",
            "1.a b",
            &long,
        ] {
            assert_eq!(Keyset::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_next_page_only_when_a_row_is_left_over() {
        let at = |n: &i64| Keyset::of(*n, &format!("r{n}"));
        let page = Page::of(vec![0, 1, 2], 2);
        assert_eq!(page.items, [0, 1]);
        assert_eq!(
            page.next(at).map(|k| k.to_string()).as_deref(),
            Some("1.r1")
        );
        assert!(
            Page::of(vec![0, 1], 2).next(at).is_none(),
            "a full last page"
        );
        assert!(Page::of(Vec::new(), 2).next(at).is_none());
    }
}
