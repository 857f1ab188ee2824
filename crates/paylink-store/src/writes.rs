//! Each planned write as SQL. Guards that depend on concurrent state are WHERE clauses whose
//! miss fails the plan, so they hold across writers, processes and hosts.

use crate::sql::{padded_ids, placeholders, values_sql, Statement, Value};
use paylink_core::bill::Bill;
use paylink_core::event::{AfterAttempt, Notice, NoticeState};
use paylink_core::guard::Guard;
use paylink_core::merchant::Shop;
use paylink_core::payment::{BillTransition, Payment};
use paylink_core::payout::PayoutStatus;
use paylink_core::plan::{Finished, Plan, RequestKey, SealedColumn, Write};
use paylink_core::time::Millis;
use std::sync::LazyLock;

/// A row a plan updates (and so locks until its batch commits): table and key.
pub(crate) type Lock = (&'static str, String);

/// The rows `plan` updates, sorted. A writer applies the plans of a batch in the order of their
/// locks, so that writers (and processes) sharing a PostgreSQL database take row locks in one
/// global order instead of deadlocking: without it, two writers each holding a bill the other's
/// batch pays next wait on each other, PostgreSQL aborts one of them after `deadlock_timeout`,
/// and a payment already charged fails to be recorded. (The order is exact for plans that
/// update one row, which most plans do; inserts lock no existing row. A plan that updates
/// several, such as a refund's answer with its payment, may still meet another in a deadlock:
/// PostgreSQL aborts one batch, and its writer runs it again.)
pub(crate) fn locks(plan: &Plan) -> Vec<Lock> {
    let mut locks: Vec<Lock> = plan
        .writes
        .iter()
        .filter_map(|w| match w {
            Write::SetMerchantBanned { merchant_id, .. }
            | Write::SetSubscription { merchant_id, .. }
            | Write::SetMerchantVerified { merchant_id, .. } => {
                Some(("merchants", merchant_id.to_string()))
            }
            Write::ReplaceToken { merchant_id, .. } => {
                Some(("api_tokens", merchant_id.to_string()))
            }
            Write::UpdateShop(s) => Some(("shops", s.id.to_string())),
            Write::SetBillActive { bill_id, .. } => Some(("bills", bill_id.to_string())),
            Write::RecordPayment { payment, .. } => Some(("bills", payment.bill_id.to_string())),
            Write::ClaimBill { bill_id, .. } | Write::ReleaseBill { bill_id, .. } => {
                Some(("bills", bill_id.to_string()))
            }
            Write::SetWebhookKey { shop_id, .. } => Some(("shops", shop_id.to_string())),
            Write::Reseal { column, lock, .. } => Some((sealed_table(*column).0, lock.clone())),
            // Leased rows: nothing but their owner's recorder touches them, so no order is
            // needed against other plans.
            Write::FinishAttempts(_) => None,
            Write::Redeliver { notice_id, .. } => Some(("outbox", notice_id.clone())),
            // Many outbox rows, taken in id order (the id list is scanned in index order):
            // sorted among the plans that lock outbox rows by the first of them.
            Write::PurgeNotices { ids, .. } => ids.iter().min().map(|id| ("outbox", id.clone())),
            // A claim locks the rows it leases, which no other plan touches while they are
            // unleased but another claim (one dispatcher per process).
            Write::ClaimNotices { .. } => None,
            Write::EnableProcard { merchant_id, .. } | Write::SetProcardKey { merchant_id, .. } => {
                Some(("procard_merchants", merchant_id.to_string()))
            }
            Write::UpdatePermanentLink { link, .. } => Some(("bills", link.id.to_string())),
            Write::RecordOperation(op) => Some(("link_operations", op.payment_id.to_string())),
            Write::DeclineOperation { payment_id, .. } => {
                Some(("link_operations", payment_id.to_string()))
            }
            Write::RefreshOperation { payment_id, .. } => {
                Some(("payments", payment_id.to_string()))
            }
            Write::InsertMerchant(_)
            | Write::InsertPermanentLink(_)
            | Write::InsertShop(_)
            | Write::InsertBill(_)
            | Write::EnqueueNotice(_)
            | Write::InsertSettlement(_)
            | Write::InsertPayout(_)
            | Write::InsertRefund { .. }
            | Write::InsertPayoutAccount(_) => None,
            // Several rows: see below.
            Write::Post(_) | Write::UsePayoutLimit { .. } | Write::ReleasePayoutLimit { .. } => {
                None
            }
            Write::MarkSettled { id, .. } => Some(("settlements", id.clone())),
            Write::MovePayout { id, .. } | Write::ClaimPayout { id, .. } => {
                Some(("payouts", id.to_string()))
            }
            Write::AddRefunded { payment_id, .. } => Some(("payments", payment_id.to_string())),
            Write::FinishRefund { id, .. } | Write::ClaimRefund { id, .. } => {
                Some(("refunds", id.to_string()))
            }
            Write::SetFxRate { base, quote, .. } => {
                Some(("fx_rates", format!("{}:{}", base.code(), quote.code())))
            }
            Write::UpsertSbpBank { member_id, .. } | Write::SetSbpBankEnabled { member_id, .. } => {
                Some(("sbp_banks", member_id.to_string()))
            }
            Write::SetPayoutAccountBanned { id, .. } => Some(("payout_accounts", id.to_string())),
            Write::SetPayoutProfile { merchant_id, .. } => {
                Some(("merchants", merchant_id.to_string()))
            }
            // "requests" sorts after every table a plan with an effect updates, and the write
            // that binds or answers a request comes last in its plan: the plan locks its rows
            // in the global order. Other claimers of the key wait on this row only.
            Write::ClaimRequest { key, .. }
            | Write::BindRequest { key, .. }
            | Write::SettleRequest { key, .. }
            | Write::ReleaseRequest { key, .. } => {
                Some(("requests", format!("{}:{}", key.merchant_id, key.key)))
            }
            // Rows no request has touched for the whole retention.
            Write::PurgeRequests { .. } => None,
            w @ (Write::InsertAccount(_)
            | Write::SetPassword { .. }
            | Write::SpendLinks { .. }
            | Write::InsertSession(_)
            | Write::RevokeSession { .. }
            | Write::RevokeSessions { .. }
            | Write::InsertLink { .. }
            | Write::UseLink { .. }
            | Write::RecordAttempt { .. }
            | Write::ForgetAttempt { .. }
            | Write::PurgeAttempts { .. }
            | Write::SetTotp { .. }
            | Write::UseTotpStep { .. }
            | Write::SetOperator { .. }
            | Write::ActingAdmin { .. }) => crate::accounts::lock(w),
            w @ (Write::InsertDispute(_)
            | Write::AddDisputeMessage { .. }
            | Write::DecideDispute { .. }
            | Write::AnswerDisputeRefund { .. }) => crate::disputes::lock(w),
            Write::Audit(_) => None,
            Write::SetMoneyRules { .. } => Some(("instance_settings", "money_rules".to_string())),
            Write::BeginCharge(_) => None,
            Write::EndCharge { payment_id } | Write::ClaimCharge { payment_id, .. } => {
                Some(("charge_intents", payment_id.to_string()))
            }
            card_api => crate::issuing::lock(card_api),
        })
        .collect();
    // Balance rows are the hot ones; "balances" sorts before every other table, so a plan
    // takes its owners' balances first, as every other plan touching those owners does. The
    // key is owner kind, owner id, currency (ids never hold a ':'), see `writer::lock_hot`.
    for w in &plan.writes {
        match w {
            Write::Post(entry) => locks.extend(
                entry
                    .deltas()
                    .into_keys()
                    .map(|(o, c)| ("balances", crate::ledger::balance_key(&o, c))),
            ),
            Write::UsePayoutLimit {
                merchant_id,
                period,
                currency,
                ..
            } => locks.push((
                "payout_usage",
                format!("{merchant_id}:{period}:{}", currency.code()),
            )),
            Write::ReleasePayoutLimit {
                merchant_id,
                periods,
                currency,
                ..
            } => locks.extend(periods.iter().map(|period| {
                (
                    "payout_usage",
                    format!("{merchant_id}:{period}:{}", currency.code()),
                )
            })),
            // The row every operator change takes turns on (see `accounts::push`).
            Write::SetOperator { .. } => locks.push(("instance_settings", "operators".to_string())),
            _ => {}
        }
    }
    locks.sort();
    locks.dedup();
    locks
}

/// The table and column of a sealed value.
pub(crate) fn sealed_table(column: SealedColumn) -> (&'static str, &'static str) {
    match column {
        SealedColumn::ApiToken => ("api_tokens", "sealed"),
        SealedColumn::WebhookKey => ("shops", "webhook_key_sealed"),
        SealedColumn::PayoutAccount => ("payout_accounts", "sealed"),
        SealedColumn::Payout => ("payouts", "sealed"),
        SealedColumn::ProcardKey => ("procard_merchants", "key_sealed"),
        SealedColumn::LinkRecipient => ("permanent_links", "recipient_sealed"),
        SealedColumn::PartnerKey => ("partners", "key_sealed"),
        SealedColumn::CardData => ("cards", "data_sealed"),
        SealedColumn::TotpSecret => ("web_accounts", "totp_sealed"),
    }
}

/// The statements of `plan`; its notices written leased (owner, length) when this process's
/// dispatcher takes them straight from the writes ([`crate::Store::hand_over_notices`]).
pub(crate) fn statements(plan: &Plan, lease: Option<(&str, Millis)>) -> Vec<Statement> {
    let mut out = Vec::with_capacity(plan.writes.len() + 1);
    for w in &plan.writes {
        match w {
            Write::EnqueueNotice(n) => out.push(enqueue_notice(n, lease)),
            _ => push(&mut out, w),
        }
    }
    out
}

fn enqueue_notice(n: &Notice, lease: Option<(&str, Millis)>) -> Statement {
    // A notice without a URL (an SMS while no gateway is configured) is kept, not sent:
    // `paylink sms list` is where it is read.
    let state = match n.url.is_empty() {
        true => NoticeState::Kept,
        false => NoticeState::Pending,
    };
    let (owner, until) = match lease {
        Some((owner, lease)) if state == NoticeState::Pending => {
            (Some(owner), Some(n.created_at + lease))
        }
        _ => (None, None),
    };
    let delivered_at: Option<i64> = None;
    Statement::insert(
        OUTBOX_INSERT,
        OUTBOX_INSERT_ROW.as_str(),
        vec![
            n.id.as_str().into(),
            n.event.kind().as_str().into(),
            n.dialect.as_str().into(),
            n.merchant_id.as_ref().map(|m| m.as_str()).into(),
            n.partner_id.as_ref().map(|p| p.as_str()).into(),
            n.shop_id.as_ref().map(|s| s.as_str()).into(),
            n.bill_id.as_ref().map(|b| b.as_str()).into(),
            n.event.subject_id().into(),
            n.url.as_str().into(),
            crate::events::encode(&n.event).into(),
            // Only rows from before events were kept hold fields.
            "".into(),
            state.as_str().into(),
            n.created_at.into(),
            delivered_at.into(),
            n.created_at.into(),
            until.into(),
            owner.into(),
        ],
    )
}

fn push(out: &mut Vec<Statement>, write: &Write) {
    match write {
        Write::InsertMerchant(m) => out.push(Statement::new(
            "INSERT INTO merchants (id, name, email, verified, banned, subscription, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                m.id.as_str().into(),
                (&m.name).into(),
                (&m.email).into(),
                m.verified.into(),
                m.banned.into(),
                m.subscription.as_str().into(),
                m.created_at.into(),
            ],
        )),
        Write::SetMerchantBanned { merchant_id, banned } => out.push(Statement::guarded(
            "UPDATE merchants SET banned = $2 WHERE id = $1",
            vec![merchant_id.as_str().into(), (*banned).into()],
            Guard::MerchantNotFound,
        )),
        Write::SetMerchantVerified {
            merchant_id,
            verified,
        } => out.push(Statement::guarded(
            "UPDATE merchants SET verified = $2 WHERE id = $1",
            vec![merchant_id.as_str().into(), (*verified).into()],
            Guard::MerchantNotFound,
        )),
        Write::SetSubscription {
            merchant_id,
            subscription,
        } => out.push(Statement::guarded(
            "UPDATE merchants SET subscription = $2 WHERE id = $1",
            vec![merchant_id.as_str().into(), subscription.as_str().into()],
            Guard::MerchantNotFound,
        )),
        Write::InsertShop(s) => out.push(Statement::new(
            "INSERT INTO shops (id, merchant_id, name, currency, enabled, commission_bps,
                 result_url, success_url, fail_url, created_at, balance_currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            shop_args(s),
        )),
        Write::UpdateShop(s) => out.push(Statement::guarded(
            "UPDATE shops SET merchant_id = $2, name = $3, currency = $4, enabled = $5,
                 commission_bps = $6, result_url = $7, success_url = $8, fail_url = $9, created_at = $10,
                 balance_currency = $11
             WHERE id = $1",
            shop_args(s),
            Guard::ShopNotFound,
        )),
        Write::ReplaceToken {
            merchant_id,
            token_id,
            digest,
            sealed,
            now,
        } => {
            out.push(Statement::new(
                "UPDATE api_tokens SET revoked_at = $2 WHERE merchant_id = $1 AND revoked_at IS NULL",
                vec![merchant_id.as_str().into(), (*now).into()],
            ));
            out.push(Statement::new(
                "INSERT INTO api_tokens (id, merchant_id, secret_sha256, sealed, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    (*token_id).into(),
                    merchant_id.as_str().into(),
                    digest.into(),
                    sealed.into(),
                    (*now).into(),
                ],
            ));
        }
        Write::SetWebhookKey { shop_id, sealed } => out.push(Statement::guarded(
            "UPDATE shops SET webhook_key_sealed = $2 WHERE id = $1",
            vec![shop_id.as_str().into(), sealed.into()],
            Guard::ShopNotFound,
        )),
        Write::Reseal {
            column,
            id,
            old,
            new,
            ..
        } => {
            let sql = match column {
                SealedColumn::ApiToken => {
                    "UPDATE api_tokens SET sealed = $2 WHERE id = $1 AND sealed = $3"
                }
                SealedColumn::WebhookKey => {
                    "UPDATE shops SET webhook_key_sealed = $2 WHERE id = $1 AND webhook_key_sealed = $3"
                }
                SealedColumn::PayoutAccount => {
                    "UPDATE payout_accounts SET sealed = $2 WHERE id = $1 AND sealed = $3"
                }
                SealedColumn::Payout => "UPDATE payouts SET sealed = $2 WHERE id = $1 AND sealed = $3",
                SealedColumn::ProcardKey => {
                    "UPDATE procard_merchants SET key_sealed = $2 WHERE id = $1 AND key_sealed = $3"
                }
                SealedColumn::LinkRecipient => {
                    "UPDATE permanent_links SET recipient_sealed = $2 WHERE id = $1 AND recipient_sealed = $3"
                }
                SealedColumn::PartnerKey => {
                    "UPDATE partners SET key_sealed = $2 WHERE id = $1 AND key_sealed = $3"
                }
                SealedColumn::CardData => {
                    "UPDATE cards SET data_sealed = $2 WHERE id = $1 AND data_sealed = $3"
                }
                SealedColumn::TotpSecret => {
                    "UPDATE web_accounts SET totp_sealed = $2 WHERE id = $1 AND totp_sealed = $3"
                }
            };
            let key = match column {
                // Token ids are numbers; a text that is none matches no row.
                SealedColumn::ApiToken => Value::Int(id.parse().unwrap_or(-1)),
                _ => id.as_str().into(),
            };
            out.push(Statement::guarded(
                sql,
                vec![key, new.into(), old.into()],
                Guard::SealedValueChanged,
            ))
        }
        Write::EnqueueNotice(n) => out.push(enqueue_notice(n, None)),
        Write::ClaimNotices {
            owner,
            ids,
            now,
            until,
        } => {
            // By id, with the lease conditions checked again on each row: a row another
            // claimer leased first is skipped (PostgreSQL re-checks them on a row updated
            // under it). No subquery, so that re-check stays cheap under load.
            for chunk in ids.chunks(MAX_CHUNK) {
                let mut args: Vec<Value> =
                    vec![owner.as_str().into(), (*now).into(), (*until).into()];
                let n = padded_ids(&mut args, chunk);
                out.push(Statement::owned(
                    format!(
                        "UPDATE outbox SET lease_owner = $1, leased_until = $3
                         WHERE id IN ({}) AND state = 'pending'
                           AND (leased_until IS NULL OR leased_until <= $2)",
                        placeholders(4, n)
                    ),
                    args,
                ));
            }
        }
        Write::FinishAttempts(finished) => {
            // Multi-row statements in power-of-two chunks: a few SQL texts to prepare, two
            // round trips per chunk instead of two per attempt.
            let mut rest = finished.as_slice();
            while !rest.is_empty() {
                let n = chunk_len(rest.len());
                let (chunk, tail) = rest.split_at(n);
                out.push(record_attempts(chunk));
                out.push(move_notices(chunk));
                rest = tail;
            }
        }
        Write::PurgeNotices { token, ids, before } => {
            for chunk in ids.chunks(PURGE_CHUNK) {
                purge_notices(out, token, chunk, *before);
            }
        }
        Write::Redeliver { notice_id, now } => out.push(Statement::guarded(
            "UPDATE outbox SET state = 'pending', next_at = $2, attempts = 0,
                 leased_until = NULL, lease_owner = NULL
             WHERE id = $1",
            vec![notice_id.as_str().into(), (*now).into()],
            Guard::NoticeNotFound,
        )),
        Write::InsertBill(b) => out.push(insert_bill(b)),
        Write::EnableProcard {
            merchant_id,
            login,
            shop_id,
            key_sealed,
            callback_url,
            now,
        } => out.push(Statement::new(
            "INSERT INTO procard_merchants (id, login, key_sealed, shop_id, callback_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (id) DO UPDATE SET login = excluded.login,
                 key_sealed = excluded.key_sealed,
                 shop_id = excluded.shop_id, callback_url = excluded.callback_url,
                 updated_at = excluded.updated_at",
            vec![
                merchant_id.as_str().into(),
                login.into(),
                key_sealed.into(),
                shop_id.as_str().into(),
                callback_url.into(),
                (*now).into(),
            ],
        )),
        Write::SetProcardKey {
            merchant_id,
            key_sealed,
            now,
        } => out.push(Statement::guarded(
            "UPDATE procard_merchants SET key_sealed = $2, updated_at = $3 WHERE id = $1",
            vec![
                merchant_id.as_str().into(),
                key_sealed.into(),
                (*now).into(),
            ],
            Guard::ProcardNotEnabled,
        )),
        Write::InsertPermanentLink(l) => out.push(Statement::new(
            "INSERT INTO permanent_links (id, merchant_id, flow, kind, amounts, enable_counter,
                 custom_amount, target_amount, show_total, language, recipient_sealed,
                 recipient_mask, callback_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            vec![
                l.id.as_str().into(),
                l.merchant_id.as_str().into(),
                l.flow.as_str().into(),
                l.terms.kind.code().into(),
                crate::links::amounts_text(&l.terms.amounts).into(),
                l.terms.enable_counter.into(),
                l.terms.custom_amount.into(),
                l.terms.target_amount.into(),
                l.terms.show_total.into(),
                l.terms.language.as_str().into(),
                (&l.recipient_sealed).into(),
                (&l.recipient_mask).into(),
                (&l.callback_url).into(),
                l.created_at.into(),
                l.updated_at.into(),
            ],
        )),
        Write::UpdatePermanentLink {
            link: l,
            name,
            description,
            locale,
            amount,
        } => {
            out.push(Statement::guarded(
                "UPDATE permanent_links SET kind = $3, amounts = $4, enable_counter = $5,
                     custom_amount = $6, target_amount = $7, show_total = $8, language = $9,
                     callback_url = $10, updated_at = $11
                 WHERE id = $1 AND merchant_id = $2",
                vec![
                    l.id.as_str().into(),
                    l.merchant_id.as_str().into(),
                    l.terms.kind.code().into(),
                    crate::links::amounts_text(&l.terms.amounts).into(),
                    l.terms.enable_counter.into(),
                    l.terms.custom_amount.into(),
                    l.terms.target_amount.into(),
                    l.terms.show_total.into(),
                    l.terms.language.as_str().into(),
                    (&l.callback_url).into(),
                    l.updated_at.into(),
                ],
                Guard::LinkNotFound,
            ));
            out.push(Statement::guarded(
                "UPDATE bills SET name = $2, description = $3, locale = $4, amount = $5, updated_at = $6
                 WHERE id = $1",
                vec![
                    l.id.as_str().into(),
                    name.into(),
                    description.into(),
                    locale.as_str().into(),
                    amount.minor().into(),
                    l.updated_at.into(),
                ],
                Guard::LinkNotFound,
            ));
        }
        Write::RefreshOperation { payment_id, now } => {
            out.push(Statement::new(
                "UPDATE payments SET updated_at = updated_at WHERE id = $1",
                vec![payment_id.as_str().into()],
            ));
            out.push(Statement::new(
                "UPDATE link_operations SET updated_at = $2, status = CASE
                     WHEN (SELECT p.refunded_amount < p.amount FROM payments p WHERE p.id = $1)
                         THEN 'APPROVED'
                     WHEN EXISTS (SELECT 1 FROM refunds r
                                  WHERE r.payment_id = $1 AND r.status = 'PROCESS')
                         THEN 'REFUNDINPROC'
                     ELSE 'REFUNDED' END
                 WHERE payment_id = $1 AND status IN ('APPROVED', 'REFUNDINPROC', 'REFUNDED')",
                vec![payment_id.as_str().into(), (*now).into()],
            ));
        }
        Write::DeclineOperation {
            payment_id,
            before,
            now,
        } => out.push(Statement::guarded(
            // Not one whose completion's answer is still being asked about (a kept charge).
            "UPDATE link_operations SET status = 'DECLINED', fee = 0, updated_at = $3
             WHERE payment_id = $1 AND status = 'WAITING-AUTH' AND created_at < $2
               AND NOT EXISTS (SELECT 1 FROM charge_intents c
                               WHERE c.payment_id = link_operations.payment_id)",
            vec![payment_id.as_str().into(), (*before).into(), (*now).into()],
            Guard::OperationMoved,
        )),
        Write::RecordOperation(op) => out.push(Statement::new(
            // A challenge records the operation WAITING-AUTH; its payment's plan moves it on,
            // once: an outcome is final.
            "INSERT INTO link_operations (payment_id, link_id, merchant_id, amount, quantity, fee,
                 currency, status, card_mask, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (payment_id) DO UPDATE SET status = excluded.status, fee = excluded.fee,
                 amount = excluded.amount, card_mask = excluded.card_mask,
                 updated_at = excluded.updated_at
             WHERE link_operations.status = 'WAITING-AUTH'",
            vec![
                op.payment_id.as_str().into(),
                op.link_id.as_str().into(),
                op.merchant_id.as_str().into(),
                op.amount.into(),
                op.quantity.into(),
                op.fee.into(),
                op.currency.code().into(),
                op.status.as_str().into(),
                (&op.card_mask).into(),
                op.created_at.into(),
                op.updated_at.into(),
            ],
        )),
        Write::SetBillActive { bill_id, active, now } => out.push(Statement::guarded(
            // A finished NORMAL bill (one that has taken money) keeps its activity.
            "UPDATE bills SET active = $2, updated_at = $3
             WHERE id = $1 AND NOT (bill_type = 'NORMAL' AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID'))",
            vec![bill_id.as_str().into(), (*active).into(), (*now).into()],
            Guard::BillIsFinished,
        )),
        Write::ClaimBill {
            bill_id,
            payment_id,
            until,
            now,
        } => out.push(Statement::guarded(
            "UPDATE bills SET charging_payment = $2, charging_until = $3
             WHERE id = $1 AND bill_type = 'NORMAL' AND active = 1
               AND (expires_at IS NULL OR expires_at > $4)
               AND status NOT IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')
               AND (charging_payment IS NULL OR charging_payment = $2 OR charging_until <= $4)",
            vec![
                bill_id.as_str().into(),
                payment_id.as_str().into(),
                (*until).into(),
                (*now).into(),
            ],
            Guard::BillBusy,
        )),
        Write::ReleaseBill {
            bill_id,
            payment_id,
        } => out.push(release_bill(bill_id.as_str(), payment_id.as_str())),
        Write::RecordPayment { payment, transition } => {
            match transition {
                // The double-payment guard: a NORMAL bill takes money once, whatever races.
                // Money taken is recorded even if the bill expired or was switched off while
                // the acquirer took it: whether it could be paid was checked before the charge.
                BillTransition::Receive { status, now } => out.push(Statement::guarded(
                    "UPDATE bills SET status = $2, updated_at = $3, charging_payment = NULL,
                         charging_until = NULL
                     WHERE id = $1
                       AND NOT (bill_type = 'NORMAL' AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID'))",
                    vec![payment.bill_id.as_str().into(), status.as_str().into(), (*now).into()],
                    Guard::BillNotPayable,
                )),
                BillTransition::Fail { now } => {
                    out.push(Statement::new(
                        "UPDATE bills SET status = 'FAIL', updated_at = $2
                         WHERE id = $1 AND status IN ('NEW', 'PROCESS', 'FAIL')",
                        vec![payment.bill_id.as_str().into(), (*now).into()],
                    ));
                    out.push(release_bill(payment.bill_id.as_str(), payment.id.as_str()));
                }
            }
            out.push(insert_payment(payment));
        }
        Write::Post(entry) => crate::ledger::post(out, entry),
        Write::InsertSettlement(st) => out.push(Statement::insert(
            SETTLEMENT_INSERT,
            SETTLEMENT_INSERT_ROW.as_str(),
            vec![
                st.id.as_str().into(),
                st.payment_id.as_str().into(),
                st.merchant_id.as_str().into(),
                st.currency.code().into(),
                st.amount.into(),
                st.due_at.into(),
                Value::NullInt,
            ],
        )),
        Write::MarkSettled { id, now } => out.push(Statement::guarded(
            "UPDATE settlements SET settled_at = $2 WHERE id = $1 AND settled_at IS NULL",
            vec![id.as_str().into(), (*now).into()],
            Guard::AlreadySettled,
        )),
        Write::InsertPayout(p) => out.push(crate::money::insert_payout(p)),
        Write::UsePayoutLimit {
            merchant_id,
            period,
            currency,
            amount,
            limit,
            guard,
        } => out.push(Statement::guarded(
            "INSERT INTO payout_usage (merchant_id, period, currency, used) VALUES ($1, $2, $3, $4)
             ON CONFLICT (merchant_id, period, currency) DO UPDATE
             SET used = payout_usage.used + excluded.used
             WHERE payout_usage.used + excluded.used <= $5",
            vec![
                merchant_id.as_str().into(),
                period.into(),
                currency.code().into(),
                (*amount).into(),
                (*limit).into(),
            ],
            *guard,
        )),
        Write::ReleasePayoutLimit {
            merchant_id,
            periods,
            currency,
            amount,
        } => out.push(Statement::new(
            "UPDATE payout_usage SET used = used - $4
             WHERE merchant_id = $1 AND currency = $2 AND period IN ($3, $5) AND used >= $4",
            vec![
                merchant_id.as_str().into(),
                currency.code().into(),
                periods[0].as_str().into(),
                (*amount).into(),
                periods[1].as_str().into(),
            ],
        )),
        Write::MovePayout {
            id,
            from,
            to,
            error_message,
            process_at,
            now,
        } => {
            let mut args: Vec<Value> = vec![
                id.as_str().into(),
                to.as_str().into(),
                error_message.as_deref().into(),
                (*process_at).into(),
                (*now).into(),
            ];
            args.extend(from.iter().map(|s| Value::from(s.as_str())));
            // Sent only while neither its merchant nor its payee is banned, as committed when
            // it moves: a ban that lands after the worker read them still stops it (the
            // worker then declines it).
            let unbanned = if *to == PayoutStatus::Process {
                " AND NOT EXISTS (SELECT 1 FROM merchants m
                                  WHERE m.id = payouts.merchant_id AND m.banned = 1)
                  AND NOT EXISTS (SELECT 1 FROM payout_accounts a
                                  WHERE a.fingerprint = payouts.fingerprint AND a.banned = 1)"
            } else {
                ""
            };
            out.push(Statement {
                guard: Some(Guard::PayoutMoved),
                ..Statement::owned(
                    format!(
                        "UPDATE payouts SET status = $2, error_message = $3, process_at = $4,
                             updated_at = $5
                         WHERE id = $1 AND status IN ({}){unbanned}",
                        placeholders(6, from.len().max(1))
                    ),
                    args,
                )
            });
        }
        Write::ClaimPayout { id, now, until } => out.push(Statement::guarded(
            "UPDATE payouts SET process_at = $3
             WHERE id = $1 AND status = 'PROCESS' AND process_at <= $2",
            vec![id.as_str().into(), (*now).into(), (*until).into()],
            Guard::PayoutClaimed,
        )),
        Write::InsertRefund { refund, process_at } => {
            out.push(crate::money::insert_refund(refund, *process_at))
        }
        Write::FinishRefund {
            id,
            status,
            error_message,
            now,
        } => {
            // The payment's row first, as a refund's making takes it (its refunded amount)
            // before anything of the refund: the answer's plan, which moves the payment's
            // refunded amount or its operation too, takes the rows in the same order.
            out.push(Statement::new(
                "UPDATE payments SET updated_at = updated_at
                 WHERE id = (SELECT payment_id FROM refunds WHERE id = $1)",
                vec![id.as_str().into()],
            ));
            out.push(Statement::guarded(
                "UPDATE refunds SET status = $2, error_message = $3, updated_at = $4,
                     process_at = NULL
                 WHERE id = $1 AND status = 'PROCESS'",
                vec![
                    id.as_str().into(),
                    status.as_str().into(),
                    error_message.as_deref().into(),
                    (*now).into(),
                ],
                Guard::RefundMoved,
            ));
        }
        Write::BeginCharge(c) => out.push(Statement::new(
            "INSERT INTO charge_intents (payment_id, bill_id, terms, process_at, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (payment_id) DO UPDATE SET process_at = CASE
                 WHEN excluded.process_at > charge_intents.process_at THEN excluded.process_at
                 ELSE charge_intents.process_at END",
            vec![
                c.payment_id.as_str().into(),
                c.bill_id.as_str().into(),
                c.terms.as_str().into(),
                c.process_at.into(),
                c.created_at.into(),
            ],
        )),
        Write::EndCharge { payment_id } => out.push(Statement::new(
            "DELETE FROM charge_intents WHERE payment_id = $1",
            vec![payment_id.as_str().into()],
        )),
        Write::ClaimCharge {
            payment_id,
            now,
            until,
        } => out.push(Statement::guarded(
            "UPDATE charge_intents SET process_at = $3 WHERE payment_id = $1 AND process_at <= $2",
            vec![payment_id.as_str().into(), (*now).into(), (*until).into()],
            Guard::ChargeClaimed,
        )),
        Write::ClaimRefund { id, now, until } => out.push(Statement::guarded(
            "UPDATE refunds SET process_at = $3
             WHERE id = $1 AND status = 'PROCESS' AND process_at <= $2",
            vec![id.as_str().into(), (*now).into(), (*until).into()],
            Guard::RefundClaimed,
        )),
        Write::AddRefunded {
            payment_id,
            amount,
            was: None,
            now,
        } => out.push(Statement::guarded(
            "UPDATE payments SET refunded_amount = refunded_amount + $2, updated_at = $3
             WHERE id = $1 AND refunded_amount + $2 <= amount
               AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')",
            vec![payment_id.as_str().into(), (*amount).into(), (*now).into()],
            Guard::RefundExceedsPayment,
        )),
        Write::AddRefunded {
            payment_id,
            amount,
            was: Some(was),
            now,
        } => out.push(Statement::guarded(
            "UPDATE payments SET refunded_amount = refunded_amount + $2, updated_at = $3
             WHERE id = $1 AND refunded_amount + $2 <= amount AND refunded_amount = $4
               AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')",
            vec![
                payment_id.as_str().into(),
                (*amount).into(),
                (*now).into(),
                (*was).into(),
            ],
            Guard::RefundExceedsPayment,
        )),
        Write::SetFxRate {
            base,
            quote,
            rate,
            now,
        } => {
            let args = vec![
                base.code().into(),
                quote.code().into(),
                rate.e8().into(),
                (*now).into(),
            ];
            out.push(Statement::new(
                "INSERT INTO fx_rates (base, quote, rate_e8, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (base, quote) DO UPDATE SET rate_e8 = excluded.rate_e8,
                     updated_at = excluded.updated_at",
                args.clone(),
            ));
            // Every rate ever set, for the console's history.
            out.push(Statement::new(
                "INSERT INTO fx_rate_history (base, quote, rate_e8, set_at) VALUES ($1, $2, $3, $4)",
                args,
            ));
        }
        Write::UpsertSbpBank {
            member_id,
            name,
            name_en,
            bic,
            now,
        } => out.push(Statement::new(
            "INSERT INTO sbp_banks (member_id, name, name_en, bic, enabled, updated_at)
             VALUES ($1, $2, $3, $4, 1, $5)
             ON CONFLICT (member_id) DO UPDATE SET name = excluded.name,
                 name_en = excluded.name_en, bic = excluded.bic, enabled = 1,
                 updated_at = excluded.updated_at",
            vec![
                (*member_id).into(),
                name.into(),
                name_en.into(),
                (*bic).into(),
                (*now).into(),
            ],
        )),
        Write::SetSbpBankEnabled {
            member_id,
            enabled,
            now,
        } => out.push(Statement::guarded(
            "UPDATE sbp_banks SET enabled = $2, updated_at = $3 WHERE member_id = $1",
            vec![(*member_id).into(), (*enabled).into(), (*now).into()],
            Guard::SbpBankNotFound,
        )),
        Write::InsertPayoutAccount(a) => out.push(crate::money::insert_payout_account(a)),
        Write::SetPayoutAccountBanned { id, banned } => out.push(Statement::guarded(
            "UPDATE payout_accounts SET banned = $2 WHERE id = $1",
            vec![id.as_str().into(), (*banned).into()],
            Guard::PayoutAccountNotFound,
        )),
        Write::SetPayoutProfile {
            merchant_id,
            profile,
        } => out.push(Statement::guarded(
            "UPDATE merchants SET payout_webhook_url = $2, payout_moderation = $3,
                 regular_payouts = $4, daily_payout_limit = $5, monthly_payout_limit = $6
             WHERE id = $1",
            vec![
                merchant_id.as_str().into(),
                (&profile.webhook_url).into(),
                profile.moderation.into(),
                profile.regular_payouts.into(),
                profile.daily_limit.into(),
                profile.monthly_limit.into(),
            ],
            Guard::MerchantNotFound,
        )),
        Write::ClaimRequest {
            key,
            fingerprint,
            token,
            now,
            leased_until,
            expired_before,
        } => out.push(Statement::guarded(
            // A row past the retention is forgotten: claimed afresh. A running one whose
            // claimer's lease ended is taken over (same request only), keeping its reference.
            "INSERT INTO requests (merchant_id, idempotency_key, fingerprint, state, claim_token,
                 leased_until, created_at)
             VALUES ($1, $2, $3, 'running', $4, $5, $6)
             ON CONFLICT (merchant_id, idempotency_key) DO UPDATE SET
                 fingerprint = excluded.fingerprint, state = 'running',
                 claim_token = excluded.claim_token, leased_until = excluded.leased_until,
                 reference = CASE WHEN requests.created_at < $7 THEN NULL
                     ELSE requests.reference END,
                 status = NULL, body = NULL,
                 created_at = CASE WHEN requests.created_at < $7 THEN excluded.created_at
                     ELSE requests.created_at END
             WHERE requests.created_at < $7
                OR (requests.state = 'running' AND requests.leased_until <= $6
                    AND requests.fingerprint = excluded.fingerprint)",
            vec![
                key.merchant_id.as_str().into(),
                key.key.as_str().into(),
                fingerprint.as_str().into(),
                token.as_str().into(),
                (*leased_until).into(),
                (*now).into(),
                (*expired_before).into(),
            ],
            Guard::RequestKeyTaken,
        )),
        Write::BindRequest {
            key,
            token,
            reference,
        } => out.push(Statement::guarded(
            "UPDATE requests SET reference = $4
             WHERE merchant_id = $1 AND idempotency_key = $2 AND claim_token = $3
               AND state = 'running'",
            claimed(key, token, [reference.as_str().into()]),
            Guard::RequestKeyLost,
        )),
        Write::SettleRequest {
            key,
            token,
            answer,
            must_hold,
        } => {
            let settle = Statement::new(
                "UPDATE requests SET state = 'done', status = $4, body = $5, claim_token = NULL
                 WHERE merchant_id = $1 AND idempotency_key = $2 AND claim_token = $3
                   AND state = 'running'",
                claimed(
                    key,
                    token,
                    [
                        i64::from(answer.status).into(),
                        answer.body.as_str().into(),
                    ],
                ),
            );
            out.push(Statement {
                guard: must_hold.then_some(Guard::RequestKeyLost),
                ..settle
            });
        }
        Write::ReleaseRequest { key, token } => {
            let args = || claimed(key, token, []);
            out.push(Statement::new(
                "DELETE FROM requests
                 WHERE merchant_id = $1 AND idempotency_key = $2 AND claim_token = $3
                   AND state = 'running' AND reference IS NULL",
                args(),
            ));
            // An effect was made: the next claimer answers from its reference at once.
            out.push(Statement::new(
                "UPDATE requests SET leased_until = 0, claim_token = NULL
                 WHERE merchant_id = $1 AND idempotency_key = $2 AND claim_token = $3
                   AND state = 'running'",
                args(),
            ));
        }
        Write::PurgeRequests { before, limit } => out.push(Statement::new(
            // The age is checked again on the row itself: a key claimed afresh between the
            // pick and the delete (its created_at renewed) is not deleted under its request,
            // which PostgreSQL would otherwise do on the subquery's older snapshot.
            "DELETE FROM requests WHERE created_at < $1 AND (merchant_id, idempotency_key) IN (
                 SELECT merchant_id, idempotency_key FROM requests WHERE created_at < $1
                 LIMIT $2)",
            vec![(*before).into(), (*limit).into()],
        )),
        w @ (Write::InsertAccount(_)
        | Write::SetPassword { .. }
        | Write::SpendLinks { .. }
        | Write::InsertSession(_)
        | Write::RevokeSession { .. }
        | Write::RevokeSessions { .. }
        | Write::InsertLink { .. }
        | Write::UseLink { .. }
        | Write::RecordAttempt { .. }
        | Write::ForgetAttempt { .. }
        | Write::PurgeAttempts { .. }
        | Write::SetTotp { .. }
        | Write::UseTotpStep { .. }
        | Write::SetOperator { .. }
        | Write::ActingAdmin { .. }) => crate::accounts::push(out, w),
        w @ (Write::InsertDispute(_)
        | Write::AddDisputeMessage { .. }
        | Write::DecideDispute { .. }
        | Write::AnswerDisputeRefund { .. }) => crate::disputes::push(out, w),
        Write::Audit(entry) => crate::console::push_audit(out, entry),
        Write::SetMoneyRules {
            text: Some(text),
            expected: None,
        } => out.push(Statement::guarded(
            "INSERT INTO instance_settings (name, value) VALUES ('money_rules', $1)
             ON CONFLICT (name) DO NOTHING",
            vec![text.as_str().into()],
            Guard::RulesChanged,
        )),
        Write::SetMoneyRules {
            text: Some(text),
            expected: Some(old),
        } => out.push(Statement::guarded(
            "UPDATE instance_settings SET value = $1 WHERE name = 'money_rules' AND value = $2",
            vec![text.as_str().into(), old.as_str().into()],
            Guard::RulesChanged,
        )),
        Write::SetMoneyRules {
            text: None,
            expected: Some(old),
        } => out.push(Statement::guarded(
            "DELETE FROM instance_settings WHERE name = 'money_rules' AND value = $1",
            vec![old.as_str().into()],
            Guard::RulesChanged,
        )),
        // Back to the configuration when it is in force already: nothing to do.
        Write::SetMoneyRules {
            text: None,
            expected: None,
        } => {}
        card_api => crate::issuing::push(out, card_api),
    }
}

/// The arguments naming a request's key and its claimer (`$1` to `$3`), then `more`.
fn claimed<const N: usize>(key: &RequestKey, token: &str, more: [Value; N]) -> Vec<Value> {
    let mut args = vec![
        key.merchant_id.as_str().into(),
        key.key.as_str().into(),
        token.into(),
    ];
    args.extend(more);
    args
}

const MAX_CHUNK: usize = 128;

fn chunk_len(len: usize) -> usize {
    let n = len.min(MAX_CHUNK);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

fn record_attempts(chunk: &[Finished]) -> Statement {
    let mut args = Vec::with_capacity(chunk.len() * 7);
    for f in chunk {
        let a = &f.attempt;
        args.extend([
            a.notice_id.as_str().into(),
            a.number.into(),
            a.at.into(),
            a.http_status.into(),
            a.latency_ms.into(),
            (&a.error).into(),
            a.excerpt.as_str().into(),
        ]);
    }
    Statement::owned(
        values_sql(
            "INSERT INTO outbox_attempts (outbox_id, number, attempted_at, http_status, \
             latency_ms, error, response_excerpt)",
            7,
            chunk.len(),
        ),
        args,
    )
}

/// `UPDATE ... FROM (VALUES ...)`, which SQLite (3.33+) and PostgreSQL both take; the
/// VALUES columns are `column1`, `column2`, ... on both.
fn move_notices(chunk: &[Finished]) -> Statement {
    let mut args = Vec::with_capacity(chunk.len() * 6);
    for f in chunk {
        let a = &f.attempt;
        let (state, next_at, delivered_at) = match f.next {
            AfterAttempt::Delivered => (NoticeState::Delivered, a.at, Some(a.at)),
            AfterAttempt::RetryAt(t) => (NoticeState::Pending, t, None),
            AfterAttempt::GiveUp => (NoticeState::Failed, a.at, None),
        };
        args.extend([
            a.notice_id.as_str().into(),
            f.owner.as_str().into(),
            state.as_str().into(),
            next_at.into(),
            delivered_at.into(),
            a.http_status.into(),
        ]);
    }
    let values = values_sql("", 6, chunk.len());
    Statement::owned(
        format!(
            "UPDATE outbox SET state = v.column3, next_at = CAST(v.column4 AS BIGINT),
                 delivered_at = CAST(v.column5 AS BIGINT), last_status = CAST(v.column6 AS BIGINT),
                 attempts = attempts + 1, total_attempts = total_attempts + 1,
                 leased_until = NULL, lease_owner = NULL
             FROM ({}) AS v
             WHERE outbox.id = v.column1 AND outbox.lease_owner = v.column2",
            values.trim_start()
        ),
        args,
    )
}

/// Most notices one retention statement names.
const PURGE_CHUNK: usize = 1000;

/// Retention of the notices `ids`: first marks (and so locks, on PostgreSQL) those still final
/// since before `before` with `token`; a concurrent pass waits for those rows and then finds
/// them gone or marked by it, so every row is counted once. Then adds the marked rows to the
/// daily summary and removes them, their attempts first (they reference the notice).
fn purge_notices(out: &mut Vec<Statement>, token: &str, ids: &[String], before: i64) {
    let mut args = vec![Value::from(token), Value::Int(before)];
    let n = padded_ids(&mut args, ids);
    out.push(Statement::owned(
        format!(
            "UPDATE outbox SET lease_owner = $1
             WHERE id IN ({}) AND state <> 'pending' AND next_at < $2",
            placeholders(3, n)
        ),
        args,
    ));
    let mut args = vec![Value::from(token)];
    let n = padded_ids(&mut args, ids);
    let marked = format!("o.id IN ({}) AND o.lease_owner = $1", placeholders(2, n));
    // Days are UTC days of the notice's creation, in ms since the epoch. Summary rows are
    // upserted in key order, so that concurrent passes lock them in one order (no deadlock).
    out.push(Statement::owned(
        format!(
            "INSERT INTO outbox_history (day, merchant_id, partner_id, kind, state, notices,
                 attempts, delay_ms)
             SELECT o.created_at - o.created_at % 86400000, COALESCE(o.merchant_id, ''),
                 COALESCE(o.partner_id, ''), o.kind, o.state, COUNT(*),
                 CAST(SUM(o.total_attempts) AS BIGINT),
                 CAST(SUM(CASE WHEN o.delivered_at IS NULL THEN 0
                     ELSE o.delivered_at - o.created_at END) AS BIGINT)
             FROM outbox o WHERE {marked}
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
             ON CONFLICT (day, merchant_id, partner_id, kind, state) DO UPDATE SET
                 notices = outbox_history.notices + excluded.notices,
                 attempts = outbox_history.attempts + excluded.attempts,
                 delay_ms = outbox_history.delay_ms + excluded.delay_ms"
        ),
        args.clone(),
    ));
    out.push(Statement::owned(
        format!(
            "DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT o.id FROM outbox o WHERE {marked})"
        ),
        args.clone(),
    ));
    out.push(Statement::owned(
        format!(
            "DELETE FROM outbox WHERE id IN ({}) AND lease_owner = $1",
            placeholders(2, n)
        ),
        args,
    ));
}

fn shop_args(s: &Shop) -> Vec<Value> {
    vec![
        s.id.as_str().into(),
        s.merchant_id.as_str().into(),
        (&s.name).into(),
        s.currency.code().into(),
        s.enabled.into(),
        s.commission.map(|r| r.bps()).into(),
        (&s.result_url).into(),
        (&s.success_url).into(),
        (&s.fail_url).into(),
        s.created_at.into(),
        s.balance_currency.map(|c| c.code()).into(),
    ]
}

const OUTBOX_INSERT: &str = "INSERT INTO outbox (id, kind, dialect, merchant_id, partner_id, \
     shop_id, bill_id, subject_id, url, event, fields, state, next_at, delivered_at, created_at, \
     leased_until, lease_owner)";
static OUTBOX_INSERT_ROW: LazyLock<String> = LazyLock::new(|| values_sql(OUTBOX_INSERT, 17, 1));
const SETTLEMENT_INSERT: &str = "INSERT INTO settlements (id, payment_id, merchant_id, \
     currency, amount, due_at, settled_at)";
static SETTLEMENT_INSERT_ROW: LazyLock<String> =
    LazyLock::new(|| values_sql(SETTLEMENT_INSERT, 7, 1));
const PAYMENT_INSERT: &str = "INSERT INTO payments (id, bill_id, merchant_id, shop_id, method, \
     status, amount, amount_received, commission, account_amount, account_currency, \
     refunded_amount, currency, from_card, card_fingerprint, error_code, error_message, \
     created_at, updated_at, fx_rate_e8, client_addr)";
static PAYMENT_INSERT_ROW: LazyLock<String> = LazyLock::new(|| values_sql(PAYMENT_INSERT, 21, 1));

const BILL_INSERT: &str =
    "INSERT INTO bills (id, merchant_id, shop_id, order_id, description, name, \
     custom, bill_type, currency, amount, active, status, payment_method, payer_pays_commission, \
     ttl_secs, expires_at, success_url, fail_url, return_url, locale, payer_email, extra, \
     created_at, updated_at)";
static BILL_INSERT_ROW: LazyLock<String> = LazyLock::new(|| values_sql(BILL_INSERT, 24, 1));

fn insert_bill(b: &Bill) -> Statement {
    Statement::insert(
        BILL_INSERT,
        BILL_INSERT_ROW.as_str(),
        vec![
            b.id.as_str().into(),
            b.merchant_id.as_str().into(),
            b.shop_id.as_str().into(),
            (&b.order_id).into(),
            (&b.description).into(),
            (&b.name).into(),
            (&b.custom).into(),
            b.bill_type.as_str().into(),
            b.currency.code().into(),
            b.amount.minor().into(),
            b.active.into(),
            b.status.as_str().into(),
            b.payment_method.map(|m| m.as_str()).into(),
            b.payer_pays_commission.into(),
            b.ttl_secs.into(),
            b.expires_at.into(),
            (&b.success_url).into(),
            (&b.fail_url).into(),
            (&b.return_url).into(),
            b.locale.map(|l| l.as_str()).into(),
            (&b.payer_email).into(),
            (&b.extra).into(),
            b.created_at.into(),
            b.updated_at.into(),
        ],
    )
}

fn insert_payment(p: &Payment) -> Statement {
    Statement::insert(
        PAYMENT_INSERT,
        PAYMENT_INSERT_ROW.as_str(),
        vec![
            p.id.as_str().into(),
            p.bill_id.as_str().into(),
            p.merchant_id.as_str().into(),
            p.shop_id.as_str().into(),
            p.method.as_str().into(),
            p.status.as_str().into(),
            p.amount.into(),
            p.amount_received.into(),
            p.commission.into(),
            p.account_amount.into(),
            p.account_currency.code().into(),
            p.refunded_amount.into(),
            p.currency.code().into(),
            (&p.from_card).into(),
            (&p.card_fingerprint).into(),
            p.error_code.into(),
            (&p.error_message).into(),
            p.created_at.into(),
            p.updated_at.into(),
            p.fx_rate.map(|r| r.e8()).into(),
            (&p.client_addr).into(),
        ],
    )
}

/// Lets a NORMAL bill go if `payment_id`'s charge holds it.
fn release_bill(bill_id: &str, payment_id: &str) -> Statement {
    Statement::new(
        "UPDATE bills SET charging_payment = NULL, charging_until = NULL
         WHERE id = $1 AND charging_payment = $2",
        vec![bill_id.into(), payment_id.into()],
    )
}
