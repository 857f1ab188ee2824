//! Reads of the outbox: the notices a dispatcher has leased (with what it needs to sign them),
//! and the delivery history that operators look at.

use crate::reads::TokenOwner;
use crate::rows::{self, BILL_COLUMNS, SHOP_COLUMNS, TOKEN_OWNER_COLUMNS};
use crate::sql::{Columns, Value};
use crate::{Store, StoreError};
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::Shop;
use paylink_core::notice::{Notice, NoticeKind, NoticeState};
use paylink_core::payment::Payment;
use paylink_core::plan::DeliveryAttempt;
use paylink_core::time::Millis;
use std::sync::LazyLock;

/// A merchant's live API token as sealed at rest (`None` for tokens issued before sealing).
#[derive(Debug, Clone)]
pub struct SealedToken {
    pub id: i64,
    pub sealed: Option<String>,
}

/// A notice with its delivery state.
#[derive(Debug, Clone)]
pub struct NoticeRecord {
    pub notice: Notice,
    pub state: NoticeState,
    /// Attempts in the current round of the schedule.
    pub attempts: i64,
    pub total_attempts: i64,
    pub next_at: Millis,
    pub last_status: Option<i64>,
    pub delivered_at: Option<Millis>,
}

/// A leased notice and the sealed secrets it is signed with.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub record: NoticeRecord,
    pub token: Option<SealedToken>,
    pub webhook_key_sealed: Option<String>,
}

/// What the payer's pages show and sign: the bill, its shop, the merchant's name and token.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub bill: Bill,
    pub shop: Shop,
    pub merchant_name: String,
    pub token: Option<SealedToken>,
}

const NOTICE_COLUMNS: &str = "o.id, o.kind, o.merchant_id, o.shop_id, o.bill_id, o.subject_id, \
     o.url, o.fields, o.state, o.attempts, o.total_attempts, o.next_at, o.last_status, \
     o.delivered_at, o.created_at";

fn record(r: &dyn Columns) -> Result<NoticeRecord, StoreError> {
    let corrupt = |c: &str, v: &str| StoreError::Corrupt(format!("outbox {c} = {v:?}"));
    let kind = r.text("kind")?;
    let state = r.text("state")?;
    let fields = r.text("fields")?;
    Ok(NoticeRecord {
        notice: Notice {
            id: r.text("id")?,
            kind: NoticeKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
            shop_id: ShopId::from_trusted(r.text("shop_id")?),
            bill_id: r.opt_text("bill_id")?.map(BillId::from_trusted),
            subject_id: r.text("subject_id")?,
            url: r.text("url")?,
            fields: form_urlencoded::parse(fields.as_bytes())
                .into_owned()
                .collect(),
            created_at: r.i64("created_at")?,
        },
        state: NoticeState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: r.i64("attempts")?,
        total_attempts: r.i64("total_attempts")?,
        next_at: r.i64("next_at")?,
        last_status: r.opt_i64("last_status")?,
        delivered_at: r.opt_i64("delivered_at")?,
    })
}

fn sealed_token(r: &dyn Columns) -> Result<Option<SealedToken>, StoreError> {
    Ok(match r.opt_i64("token_id")? {
        Some(id) => Some(SealedToken {
            id,
            sealed: r.opt_text("token_sealed")?,
        }),
        None => None,
    })
}

macro_rules! sql_once {
    ($($arg:tt)*) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| format!($($arg)*));
        SQL.as_str()
    }};
}

impl Store {
    /// The notices leased to `owner` and still pending, with the merchant's live token and the
    /// shop's webhook key, in one read.
    pub async fn claimed_notices(&self, owner: &str) -> Result<Vec<Claimed>, StoreError> {
        let sql = sql_once!(
            "SELECT {NOTICE_COLUMNS}, t.id AS token_id, t.sealed AS token_sealed,
                    s.webhook_key_sealed
             FROM outbox o
             JOIN shops s ON s.id = o.shop_id
             LEFT JOIN api_tokens t ON t.merchant_id = o.merchant_id AND t.revoked_at IS NULL
             WHERE o.lease_owner = $1 AND o.state = 'pending'"
        );
        self.fetch(sql, &[owner.into()], |r| {
            Ok(Claimed {
                record: record(r)?,
                token: sealed_token(r)?,
                webhook_key_sealed: r.opt_text("webhook_key_sealed")?,
            })
        })
        .await
    }

    /// Up to `limit` notices due at `now` and not leased, the longest waiting first.
    pub async fn due_notices(&self, now: Millis, limit: i64) -> Result<Vec<String>, StoreError> {
        self.fetch(
            "SELECT id FROM outbox
             WHERE state = 'pending' AND next_at <= $1
               AND (leased_until IS NULL OR leased_until <= $1)
             ORDER BY next_at LIMIT $2",
            &[Value::Int(now), Value::Int(limit)],
            |r| r.text("id"),
        )
        .await
    }

    /// The notices about bill `bill_id`, oldest first.
    pub async fn notices_for_bill(
        &self,
        bill_id: &BillId,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let sql = sql_once!(
            "SELECT {NOTICE_COLUMNS} FROM outbox o WHERE o.bill_id = $1 ORDER BY o.created_at, o.id"
        );
        self.fetch(sql, &[bill_id.as_str().into()], record).await
    }

    pub async fn notice(&self, id: &str) -> Result<Option<NoticeRecord>, StoreError> {
        let sql = sql_once!("SELECT {NOTICE_COLUMNS} FROM outbox o WHERE o.id = $1");
        self.fetch_one(sql, &[id.into()], record).await
    }

    /// Every attempt at delivering notice `id`, in order.
    pub async fn notice_attempts(&self, id: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.fetch(
            "SELECT outbox_id, number, attempted_at, http_status, latency_ms, error, response_excerpt
             FROM outbox_attempts WHERE outbox_id = $1 ORDER BY number",
            &[id.into()],
            |r| {
                Ok(DeliveryAttempt {
                    notice_id: r.text("outbox_id")?,
                    number: r.i64("number")?,
                    at: r.i64("attempted_at")?,
                    http_status: r.opt_i64("http_status")?,
                    latency_ms: r.i64("latency_ms")?,
                    error: r.opt_text("error")?,
                    excerpt: r.text("response_excerpt")?,
                })
            },
        )
        .await
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
            "SELECT {BILL_COLUMNS}, {}, m.name AS m_name, t.id AS token_id, t.sealed AS token_sealed
             FROM bills b
             JOIN shops s ON s.id = b.shop_id
             JOIN merchants m ON m.id = b.merchant_id
             LEFT JOIN api_tokens t ON t.merchant_id = b.merchant_id AND t.revoked_at IS NULL
             WHERE b.id = $1",
            shop_columns_prefixed()
        );
        self.fetch_one(sql, &[id.as_str().into()], |r| {
            Ok(Checkout {
                bill: rows::bill(r)?,
                shop: rows::prefixed(r, "s_", rows::shop)?,
                merchant_name: r.text("m_name")?,
                token: sealed_token(r)?,
            })
        })
        .await
    }
}

impl Store {
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
            shop_columns_prefixed()
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
