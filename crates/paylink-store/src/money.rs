//! Merchant money in SQL: balances, rates, payouts and their accounts, refunds, settlements
//! and the SBP banks dictionary — their inserts and their reads.

use crate::reads::{indexed, Page, PageRequest, Select};
use crate::rows::{currency, flag, parsed};
use crate::sql::{values_sql, Columns, Statement, Value};
use crate::{Backend, Store, StoreError};
use paylink_core::id::{
    BillId, MerchantId, PaymentId, PayoutAccountId, PayoutId, RefundId, ShopId,
};
use paylink_core::ledger::{Balance, FxRate, Owner};
use paylink_core::money::Currency;
use paylink_core::payout::{
    AccountType, Payee, Payout, PayoutAccount, PayoutKind, PayoutProfile, PayoutStatus, Usage,
};
use paylink_core::refund::{Refund, RefundStatus};
use paylink_core::settlement::Settlement;
use paylink_core::time::Millis;
use std::sync::LazyLock;

/// One SBP participant of the dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbpBank {
    pub member_id: i64,
    pub name: String,
    pub name_en: String,
    pub bic: i64,
    pub enabled: bool,
}

/// Everything a payout decision reads, in one query: the merchant's payout profile, its
/// balance and limit usage in the payout currency, whether the payee is banned, and whether
/// the SBP bank (if any) is in the dictionary and enabled.
#[derive(Debug, Clone)]
pub struct PayoutState {
    pub profile: PayoutProfile,
    pub balance: Balance,
    pub usage: Usage,
    pub payee_banned: bool,
    /// `None`: no such bank (or no bank asked about).
    pub bank_enabled: Option<bool>,
}

/// Filters of `payout/search` and `refund/search`.
#[derive(Debug, Clone, Default)]
pub struct MoneyFilter {
    pub order_id: Option<String>,
    pub payment_id: Option<String>,
    pub status: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

const PAYOUT_COLUMNS: &str = "o.id, o.merchant_id, o.order_id, o.group_id, o.part, o.kind, \
     o.payout_account_id, o.account_type, o.account_identifier, o.fingerprint, o.sealed, \
     o.bank_member_id, o.holder, o.status, o.amount, o.commission, o.currency, o.day_key, \
     o.month_key, o.error_message, o.created_at, o.updated_at";
const PAYOUT_INSERT: &str = "INSERT INTO payouts (id, merchant_id, order_id, group_id, part, \
     kind, payout_account_id, account_type, account_identifier, fingerprint, sealed, \
     bank_member_id, holder, status, amount, commission, currency, day_key, month_key, \
     error_message, created_at, updated_at)";
static PAYOUT_INSERT_ROW: LazyLock<String> = LazyLock::new(|| values_sql(PAYOUT_INSERT, 22, 1));

const REFUND_COLUMNS: &str = "r.id, r.payment_id, r.bill_id, r.merchant_id, r.shop_id, \
     r.status, r.amount, r.currency, r.account_amount, r.account_currency, r.full_refund, \
     r.error_message, r.created_at, r.updated_at, r.from_hold";
const ACCOUNT_COLUMNS: &str = "a.id, a.merchant_id, a.account_type, a.identifier, \
     a.fingerprint, a.sealed, a.bank_member_id, a.holder, a.banned, a.created_at";

pub(crate) fn insert_payout(p: &Payout) -> Statement {
    Statement::insert(
        PAYOUT_INSERT,
        PAYOUT_INSERT_ROW.as_str(),
        vec![
            p.id.as_str().into(),
            p.merchant_id.as_str().into(),
            (&p.order_id).into(),
            p.group_id.as_str().into(),
            p.part.into(),
            p.kind.as_str().into(),
            p.payout_account_id.as_ref().map(|a| a.as_str()).into(),
            p.payee.account_type.as_str().into(),
            p.payee.identifier.as_str().into(),
            p.payee.fingerprint.as_str().into(),
            (&p.payee.sealed).into(),
            p.payee.bank_member_id.into(),
            (&p.payee.holder).into(),
            p.status.as_str().into(),
            p.amount.into(),
            p.commission.into(),
            p.currency.code().into(),
            p.day_key.as_str().into(),
            p.month_key.as_str().into(),
            (&p.error_message).into(),
            p.created_at.into(),
            p.updated_at.into(),
        ],
    )
}

const REFUND_INSERT: &str = "INSERT INTO refunds (id, payment_id, bill_id, merchant_id, \
     shop_id, status, amount, currency, account_amount, account_currency, full_refund, \
     created_at, updated_at, error_message, process_at, from_hold)";
static REFUND_INSERT_ROW: LazyLock<String> = LazyLock::new(|| values_sql(REFUND_INSERT, 16, 1));

/// Not a deferred insert (see `writer`): the refund's plan then reads the refunds of its
/// payment (`Write::RefreshOperation`), which must see this one.
pub(crate) fn insert_refund(r: &Refund, process_at: Millis) -> Statement {
    Statement::new(
        REFUND_INSERT_ROW.as_str(),
        vec![
            r.id.as_str().into(),
            r.payment_id.as_str().into(),
            r.bill_id.as_str().into(),
            r.merchant_id.as_str().into(),
            r.shop_id.as_str().into(),
            r.status.as_str().into(),
            r.amount.into(),
            r.currency.code().into(),
            r.account_amount.into(),
            r.account_currency.code().into(),
            r.full.into(),
            r.created_at.into(),
            r.updated_at.into(),
            (&r.error_message).into(),
            process_at.into(),
            r.from_hold.into(),
        ],
    )
}

pub(crate) fn insert_payout_account(a: &PayoutAccount) -> Statement {
    Statement::new(
        "INSERT INTO payout_accounts (id, merchant_id, account_type, identifier, fingerprint,
             sealed, bank_member_id, holder, banned, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            a.id.as_str().into(),
            a.merchant_id.as_str().into(),
            a.payee.account_type.as_str().into(),
            a.payee.identifier.as_str().into(),
            a.payee.fingerprint.as_str().into(),
            (&a.payee.sealed).into(),
            a.payee.bank_member_id.into(),
            (&a.payee.holder).into(),
            a.banned.into(),
            a.created_at.into(),
        ],
    )
}

fn payee(r: &dyn Columns, type_column: &str, identifier_column: &str) -> Result<Payee, StoreError> {
    Ok(Payee {
        account_type: parsed::<AccountType>(r, type_column)?,
        identifier: r.text(identifier_column)?,
        fingerprint: r.text("fingerprint")?,
        sealed: r.opt_text("sealed")?,
        bank_member_id: r.opt_i64("bank_member_id")?,
        holder: r.opt_text("holder")?,
    })
}

fn payout(r: &dyn Columns) -> Result<Payout, StoreError> {
    let kind = r.text("kind")?;
    Ok(Payout {
        id: PayoutId::from_trusted(r.text("id")?),
        merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
        order_id: r.opt_text("order_id")?,
        group_id: r.text("group_id")?,
        part: r.i64("part")?,
        kind: PayoutKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("payout kind {kind:?}")))?,
        payout_account_id: r
            .opt_text("payout_account_id")?
            .map(PayoutAccountId::from_trusted),
        payee: payee(r, "account_type", "account_identifier")?,
        status: parsed::<PayoutStatus>(r, "status")?,
        amount: r.i64("amount")?,
        commission: r.i64("commission")?,
        currency: currency(r, "currency")?,
        day_key: r.text("day_key")?,
        month_key: r.text("month_key")?,
        error_message: r.opt_text("error_message")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

fn refund(r: &dyn Columns) -> Result<Refund, StoreError> {
    let status = r.text("status")?;
    Ok(Refund {
        id: RefundId::from_trusted(r.text("id")?),
        payment_id: PaymentId::from_trusted(r.text("payment_id")?),
        bill_id: BillId::from_trusted(r.text("bill_id")?),
        merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
        shop_id: ShopId::from_trusted(r.text("shop_id")?),
        status: RefundStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("refund status {status:?}")))?,
        amount: r.i64("amount")?,
        currency: currency(r, "currency")?,
        account_amount: r.i64("account_amount")?,
        account_currency: currency(r, "account_currency")?,
        from_hold: r.i64("from_hold")?,
        full: flag(r, "full_refund")?,
        error_message: r.opt_text("error_message")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

fn account(r: &dyn Columns) -> Result<PayoutAccount, StoreError> {
    Ok(PayoutAccount {
        id: PayoutAccountId::from_trusted(r.text("id")?),
        merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
        payee: payee(r, "account_type", "identifier")?,
        banned: flag(r, "banned")?,
        created_at: r.i64("created_at")?,
    })
}

/// The payout columns of a merchant row.
fn profile(r: &dyn Columns) -> Result<PayoutProfile, StoreError> {
    Ok(PayoutProfile {
        webhook_url: r.opt_text("payout_webhook_url")?,
        moderation: flag(r, "payout_moderation")?,
        regular_payouts: flag(r, "regular_payouts")?,
        daily_limit: r.opt_i64("daily_payout_limit")?,
        monthly_limit: r.opt_i64("monthly_payout_limit")?,
    })
}

fn balance(r: &dyn Columns) -> Result<Balance, StoreError> {
    Ok(Balance {
        currency: currency(r, "currency")?,
        available: r.i64("available")?,
        locked: r.i64("locked")?,
        hold: r.i64("hold")?,
    })
}

fn sbp_bank(r: &dyn Columns) -> Result<SbpBank, StoreError> {
    Ok(SbpBank {
        member_id: r.i64("member_id")?,
        name: r.text("name")?,
        name_en: r.text("name_en")?,
        bic: r.i64("bic")?,
        enabled: flag(r, "enabled")?,
    })
}

impl Store {
    /// The merchant's balances, one per currency it has ever held.
    pub async fn balances(&self, merchant: &MerchantId) -> Result<Vec<Balance>, StoreError> {
        self.owner_balances(&Owner::merchant(merchant)).await
    }

    /// The merchant's balance in `currency` (zero when it has none).
    pub async fn balance(
        &self,
        merchant: &MerchantId,
        currency: Currency,
    ) -> Result<Balance, StoreError> {
        self.owner_balance(&Owner::merchant(merchant), currency)
            .await
    }

    /// An owner's balances (a merchant's, a partner's, a card's), one per currency it has ever
    /// held.
    pub async fn owner_balances(&self, owner: &Owner) -> Result<Vec<Balance>, StoreError> {
        self.fetch(
            "SELECT currency, available, locked, hold FROM balances
             WHERE owner_kind = $1 AND owner_id = $2 ORDER BY currency",
            &[owner.kind().as_str().into(), owner.id().into()],
            balance,
        )
        .await
    }

    /// An owner's balance in `currency` (zero when it has none).
    pub async fn owner_balance(
        &self,
        owner: &Owner,
        currency: Currency,
    ) -> Result<Balance, StoreError> {
        Ok(self
            .fetch_one(
                "SELECT currency, available, locked, hold FROM balances
                 WHERE owner_kind = $1 AND owner_id = $2 AND currency = $3",
                &[
                    owner.kind().as_str().into(),
                    owner.id().into(),
                    currency.code().into(),
                ],
                balance,
            )
            .await?
            .unwrap_or(Balance::zero(currency)))
    }

    pub async fn fx_rate(
        &self,
        base: Currency,
        quote: Currency,
    ) -> Result<Option<FxRate>, StoreError> {
        let e8 = self
            .fetch_one(
                "SELECT rate_e8 FROM fx_rates WHERE base = $1 AND quote = $2",
                &[base.code().into(), quote.code().into()],
                |r| r.i64("rate_e8"),
            )
            .await?;
        Ok(e8.and_then(FxRate::from_e8))
    }

    pub async fn fx_rates(&self) -> Result<Vec<(Currency, Currency, FxRate)>, StoreError> {
        let rows = self
            .fetch(
                "SELECT base, quote, rate_e8 FROM fx_rates ORDER BY base, quote",
                &[],
                |r| {
                    Ok((
                        currency(r, "base")?,
                        currency(r, "quote")?,
                        r.i64("rate_e8")?,
                    ))
                },
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(b, q, e8)| FxRate::from_e8(e8).map(|r| (b, q, r)))
            .collect())
    }

    pub async fn payout_profile(
        &self,
        merchant: &MerchantId,
    ) -> Result<Option<PayoutProfile>, StoreError> {
        self.fetch_one(
            "SELECT payout_webhook_url, payout_moderation, regular_payouts, daily_payout_limit,
                 monthly_payout_limit FROM merchants WHERE id = $1",
            &[merchant.as_str().into()],
            profile,
        )
        .await
    }

    /// The [`PayoutState`] of `merchant` for a payout in `currency` to `fingerprint` (at SBP
    /// bank `bank`) in the limit periods `day` and `month`; `None` for an unknown merchant.
    pub async fn payout_state(
        &self,
        merchant: &MerchantId,
        currency: Currency,
        day: &str,
        month: &str,
        fingerprint: &str,
        bank: Option<i64>,
    ) -> Result<Option<PayoutState>, StoreError> {
        let args = [
            Value::from(merchant.as_str()),
            Value::from(currency.code()),
            Value::from(day),
            Value::from(month),
            Value::from(fingerprint),
            Value::from(bank),
        ];
        self.fetch_one(
            "SELECT m.payout_webhook_url, m.payout_moderation, m.regular_payouts,
                 m.daily_payout_limit, m.monthly_payout_limit,
                 COALESCE(b.available, 0) AS available, COALESCE(b.locked, 0) AS locked,
                 COALESCE(b.hold, 0) AS hold,
                 COALESCE((SELECT u.used FROM payout_usage u WHERE u.merchant_id = m.id
                     AND u.currency = $2 AND u.period = $3), 0) AS day_used,
                 COALESCE((SELECT u.used FROM payout_usage u WHERE u.merchant_id = m.id
                     AND u.currency = $2 AND u.period = $4), 0) AS month_used,
                 (SELECT COUNT(*) FROM payout_accounts a WHERE a.fingerprint = $5
                     AND a.banned = 1) AS banned,
                 (SELECT s.enabled FROM sbp_banks s WHERE s.member_id = $6) AS bank_enabled
             FROM merchants m
             LEFT JOIN balances b
               ON b.owner_kind = 'merchant' AND b.owner_id = m.id AND b.currency = $2
             WHERE m.id = $1",
            &args,
            |r| {
                Ok(PayoutState {
                    profile: profile(r)?,
                    balance: Balance {
                        currency: Currency::Rub,
                        available: r.i64("available")?,
                        locked: r.i64("locked")?,
                        hold: r.i64("hold")?,
                    },
                    usage: Usage {
                        day: r.i64("day_used")?,
                        month: r.i64("month_used")?,
                    },
                    payee_banned: r.i64("banned")? > 0,
                    bank_enabled: r.opt_i64("bank_enabled")?.map(|e| e != 0),
                })
            },
        )
        .await
        .map(|found| {
            found.map(|mut s| {
                s.balance.currency = currency;
                s
            })
        })
    }

    pub async fn payout_usage(
        &self,
        merchant: &MerchantId,
        currency: Currency,
        day: &str,
        month: &str,
    ) -> Result<Usage, StoreError> {
        let rows = self
            .fetch(
                "SELECT period, used FROM payout_usage
                 WHERE merchant_id = $1 AND currency = $2 AND period IN ($3, $4)",
                &[
                    merchant.as_str().into(),
                    currency.code().into(),
                    day.into(),
                    month.into(),
                ],
                |r| Ok((r.text("period")?, r.i64("used")?)),
            )
            .await?;
        let mut usage = Usage::default();
        for (period, used) in rows {
            if period == day {
                usage.day = used;
            } else {
                usage.month = used;
            }
        }
        Ok(usage)
    }

    pub async fn payout_account(
        &self,
        id: &PayoutAccountId,
    ) -> Result<Option<PayoutAccount>, StoreError> {
        let sql = sql_once!("SELECT {ACCOUNT_COLUMNS} FROM payout_accounts a WHERE a.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], account).await
    }

    pub async fn payout_accounts(
        &self,
        merchant: &MerchantId,
    ) -> Result<Vec<PayoutAccount>, StoreError> {
        let sql = sql_once!(
            "SELECT {ACCOUNT_COLUMNS} FROM payout_accounts a WHERE a.merchant_id = $1
             ORDER BY a.created_at, a.id"
        );
        self.fetch(sql, &[merchant.as_str().into()], account).await
    }

    pub async fn sbp_bank(&self, member_id: i64) -> Result<Option<SbpBank>, StoreError> {
        self.fetch_one(
            "SELECT member_id, name, name_en, bic, enabled FROM sbp_banks WHERE member_id = $1",
            &[member_id.into()],
            sbp_bank,
        )
        .await
    }

    /// The dictionary, by member id; only enabled banks unless `all`.
    pub async fn sbp_banks(&self, all: bool) -> Result<Vec<SbpBank>, StoreError> {
        self.fetch(
            "SELECT member_id, name, name_en, bic, enabled FROM sbp_banks
             WHERE enabled = 1 OR $1 = 1 ORDER BY member_id",
            &[Value::Int(i64::from(all))],
            sbp_bank,
        )
        .await
    }

    /// A payout by id, whoever's (operators; merchants go through [`Store::merchant_payout`]).
    pub async fn payout(&self, id: &PayoutId) -> Result<Option<Payout>, StoreError> {
        let sql = sql_once!("SELECT {PAYOUT_COLUMNS} FROM payouts o WHERE o.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], payout).await
    }

    pub async fn merchant_payout(
        &self,
        merchant: &MerchantId,
        id: &str,
    ) -> Result<Option<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o WHERE o.id = $1 AND o.merchant_id = $2"
        );
        self.fetch_one(sql, &[id.into(), merchant.as_str().into()], payout)
            .await
    }

    /// The payout with the merchant's `order_id` (the first part of a split one).
    pub async fn payout_by_order(
        &self,
        merchant: &MerchantId,
        order_id: &str,
    ) -> Result<Option<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o WHERE o.merchant_id = $1 AND o.order_id = $2
             ORDER BY o.part LIMIT 1"
        );
        self.fetch_one(sql, &[merchant.as_str().into(), order_id.into()], payout)
            .await
    }

    /// Every part of the merchant's payout `order_id`, in order.
    pub async fn payout_parts(
        &self,
        merchant: &MerchantId,
        order_id: &str,
    ) -> Result<Vec<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o WHERE o.merchant_id = $1 AND o.order_id = $2
             ORDER BY o.part"
        );
        self.fetch(sql, &[merchant.as_str().into(), order_id.into()], payout)
            .await
    }

    /// The parts of one request: made together, so they share the merchant, the group and the
    /// time (which the merchant's index finds).
    pub async fn payout_group(
        &self,
        merchant: &MerchantId,
        group_id: &str,
        created_at: Millis,
    ) -> Result<Vec<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o WHERE o.merchant_id = $1
             AND o.created_at = $2 AND o.group_id = $3 ORDER BY o.part"
        );
        self.fetch(
            sql,
            &[merchant.as_str().into(), created_at.into(), group_id.into()],
            payout,
        )
        .await
    }

    pub async fn search_payouts(
        &self,
        merchant: &MerchantId,
        filter: &MoneyFilter,
        page: &PageRequest,
    ) -> Result<Page<Payout>, StoreError> {
        payout_search(self.backend(), merchant, filter)
            .page(self, "o", page, payout)
            .await
    }

    pub async fn search_refunds(
        &self,
        merchant: &MerchantId,
        filter: &MoneyFilter,
        page: &PageRequest,
    ) -> Result<Page<Refund>, StoreError> {
        refund_search(self.backend(), merchant, filter)
            .page(self, "r", page, refund)
            .await
    }

    /// Payouts for operators, newest first: by status and merchant where given.
    pub async fn operator_payouts(
        &self,
        status: Option<PayoutStatus>,
        merchant: Option<&MerchantId>,
        limit: i64,
    ) -> Result<Vec<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o
             WHERE (o.status = $1 OR $1 = '') AND (o.merchant_id = $2 OR $2 = '')
             ORDER BY o.created_at DESC, o.id DESC LIMIT $3"
        );
        let args = [
            Value::from(status.map_or("", |s| s.as_str())),
            Value::from(merchant.map_or("", |m| m.as_str())),
            Value::Int(limit),
        ];
        self.fetch(sql, &args, payout).await
    }

    /// Payouts for the processor: NEW ones, and PROCESS ones whose provider answer is due.
    pub async fn due_payouts(&self, now: Millis, limit: i64) -> Result<Vec<Payout>, StoreError> {
        let sql = sql_once!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts o
             WHERE o.status = 'NEW' OR (o.status = 'PROCESS' AND o.process_at <= $1)
             ORDER BY o.created_at LIMIT $2"
        );
        self.fetch(sql, &[now.into(), limit.into()], payout).await
    }

    pub async fn merchant_refund(
        &self,
        merchant: &MerchantId,
        id: &str,
    ) -> Result<Option<Refund>, StoreError> {
        let sql = sql_once!(
            "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.id = $1 AND r.merchant_id = $2"
        );
        self.fetch_one(sql, &[id.into(), merchant.as_str().into()], refund)
            .await
    }

    pub async fn refunds_of(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        let sql = sql_once!(
            "SELECT {REFUND_COLUMNS} FROM refunds r WHERE r.payment_id = $1
             ORDER BY r.created_at, r.id"
        );
        self.fetch(sql, &[payment.as_str().into()], refund).await
    }

    /// Refunds still in PROCESS whose asker's lease ran out at `now`.
    pub async fn stuck_refunds(&self, now: Millis, limit: i64) -> Result<Vec<Refund>, StoreError> {
        let sql = sql_once!(
            "SELECT {REFUND_COLUMNS} FROM refunds r
             WHERE r.status = 'PROCESS' AND r.process_at <= $1 ORDER BY r.created_at LIMIT $2"
        );
        self.fetch(sql, &[now.into(), limit.into()], refund).await
    }

    /// Charges whose answer is not recorded and whose asker's lease ran out by `now`, oldest
    /// first.
    pub async fn due_charges(
        &self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<paylink_core::payment::ChargeIntent>, StoreError> {
        self.fetch(
            "SELECT payment_id, bill_id, terms, process_at, created_at FROM charge_intents
             WHERE process_at <= $1 ORDER BY process_at, payment_id LIMIT $2",
            &[now.into(), limit.into()],
            |r| {
                Ok(paylink_core::payment::ChargeIntent {
                    payment_id: PaymentId::from_trusted(r.text("payment_id")?),
                    bill_id: paylink_core::id::BillId::from_trusted(r.text("bill_id")?),
                    terms: r.text("terms")?,
                    process_at: r.i64("process_at")?,
                    created_at: r.i64("created_at")?,
                })
            },
        )
        .await
    }

    /// Settlements due at `now`, oldest first.
    pub async fn due_settlements(
        &self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<Settlement>, StoreError> {
        self.fetch(
            "SELECT id, payment_id, merchant_id, currency, amount, due_at FROM settlements
             WHERE settled_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            &[now.into(), limit.into()],
            |r| {
                Ok(Settlement {
                    id: r.text("id")?,
                    payment_id: PaymentId::from_trusted(r.text("payment_id")?),
                    merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
                    currency: currency(r, "currency")?,
                    amount: r.i64("amount")?,
                    due_at: r.i64("due_at")?,
                })
            },
        )
        .await
    }

    /// When payment `payment`'s own money settles (or settled); `None` when it never waited in
    /// hold (settled at once, or brought nothing).
    pub async fn settlement_due(&self, payment: &PaymentId) -> Result<Option<Millis>, StoreError> {
        self.fetch_one(
            "SELECT due_at FROM settlements WHERE id = $1",
            &[payment.as_str().into()],
            |r| r.i64("due_at"),
        )
        .await
    }

    /// Declined card payments since `since`: of bill `bill` (with `payer_only` and a known
    /// `client`, only those from it on the bill), and (when known) from client address `client`; each count stops
    /// at `cap` (all a limit needs to know), so a flood costs no more to count than the limit
    /// allows.
    pub async fn failed_card_payments(
        &self,
        bill: &BillId,
        client: Option<&str>,
        payer_only: bool,
        since: Millis,
        cap: i64,
    ) -> Result<(i64, i64), StoreError> {
        let args = [
            Value::from(bill.as_str()),
            Value::from(client),
            Value::Int(since),
            Value::Int(cap),
        ];
        // Without a client address, the bill's own count (a NULL address matches nothing).
        let by_bill = if payer_only && client.is_some() {
            "bill_id = $1 AND client_addr = $2"
        } else {
            "bill_id = $1"
        };
        let found = self
            .fetch_one(
                &format!(
                    "SELECT
                     (SELECT COUNT(*) FROM (SELECT 1 FROM payments
                         WHERE {by_bill} AND status = 'FAIL' AND method = 'BANK_CARD'
                           AND created_at >= $3 LIMIT $4) b) AS by_bill,
                     (SELECT COUNT(*) FROM (SELECT 1 FROM payments
                         WHERE client_addr = $2 AND status = 'FAIL' AND method = 'BANK_CARD'
                           AND created_at >= $3 LIMIT $4) c) AS by_client"
                ),
                &args,
                |r| Ok((r.i64("by_bill")?, r.i64("by_client")?)),
            )
            .await?;
        Ok(found.unwrap_or((0, 0)))
    }
}

pub(crate) fn payout_search(
    backend: Backend,
    merchant: &MerchantId,
    filter: &MoneyFilter,
) -> Select {
    let index = if filter.order_id.is_some() {
        "payouts_order"
    } else if filter.status.is_some() {
        "payouts_merchant_status"
    } else {
        "payouts_merchant_created"
    };
    let mut s = Select::new(format!(
        "SELECT {PAYOUT_COLUMNS} FROM {}",
        indexed(backend, "payouts o", index)
    ));
    s.filter("o.merchant_id", "=", Some(merchant.as_str().into()));
    s.filter("o.order_id", "=", filter.order_id.clone().map(Value::Text));
    s.filter("o.status", "=", filter.status.clone().map(Value::Text));
    s.filter("o.created_at", ">=", filter.from.map(Value::Int));
    s.filter("o.created_at", "<=", filter.to.map(Value::Int));
    s
}

pub(crate) fn refund_search(
    backend: Backend,
    merchant: &MerchantId,
    filter: &MoneyFilter,
) -> Select {
    let index = if filter.payment_id.is_some() {
        "refunds_merchant_payment"
    } else if filter.status.is_some() {
        "refunds_merchant_status"
    } else {
        "refunds_merchant_created"
    };
    let mut s = Select::new(format!(
        "SELECT {REFUND_COLUMNS} FROM {}",
        indexed(backend, "refunds r", index)
    ));
    s.filter("r.merchant_id", "=", Some(merchant.as_str().into()));
    s.filter(
        "r.payment_id",
        "=",
        filter.payment_id.clone().map(Value::Text),
    );
    s.filter("r.status", "=", filter.status.clone().map(Value::Text));
    s.filter("r.created_at", ">=", filter.from.map(Value::Int));
    s.filter("r.created_at", "<=", filter.to.map(Value::Int));
    s
}
