//! Web accounts in SQL: accounts, sessions, one-time links and failed sign-ins.

use crate::sql::{Columns, Statement};
use crate::{Store, StoreError};
use paylink_core::account::{Account, AccountKind, LinkPurpose, OneTimeLink, Session};
use paylink_core::guard::Guard;
use paylink_core::id::{AccountId, MerchantId};
use paylink_core::plan::Write;
use paylink_core::time::Millis;

/// The row an account write updates, if any, as table and key (see `writes::locks`).
pub(crate) fn lock(write: &Write) -> Option<(&'static str, String)> {
    Some(match write {
        Write::SetPassword { account_id, .. } => ("web_accounts", account_id.to_string()),
        Write::RevokeSession { digest, .. } => ("web_sessions", digest.clone()),
        Write::UseLink { digest, .. } => ("web_links", digest.clone()),
        Write::SetTotp { account_id, .. }
        | Write::UseTotpStep { account_id, .. }
        | Write::SetOperator { account_id, .. } => ("web_accounts", account_id.to_string()),
        Write::ActingAdmin { .. } => ("instance_settings", "operators".to_string()),
        _ => return None,
    })
}

pub(crate) fn push(out: &mut Vec<Statement>, write: &Write) {
    match write {
        Write::InsertAccount(a) => out.push(Statement::new(
            "INSERT INTO web_accounts (id, kind, merchant_id, email, password_hash, role,
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                a.id.as_str().into(),
                a.kind.as_str().into(),
                a.merchant_id.as_ref().map(|m| m.as_str()).into(),
                a.email.as_str().into(),
                a.password_hash.as_deref().into(),
                a.role.as_deref().into(),
                a.created_at.into(),
                a.updated_at.into(),
            ],
        )),
        Write::SetPassword {
            account_id,
            hash,
            now,
        } => out.push(Statement::guarded(
            "UPDATE web_accounts SET password_hash = $2, updated_at = $3 WHERE id = $1",
            vec![
                account_id.as_str().into(),
                hash.as_str().into(),
                (*now).into(),
            ],
            Guard::AccountNotFound,
        )),
        Write::SpendLinks { account_id, now } => out.push(Statement::new(
            "UPDATE web_links SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
            vec![account_id.as_str().into(), (*now).into()],
        )),
        Write::InsertSession(s) => out.push(Statement::new(
            "INSERT INTO web_sessions (digest, account_id, csrf, address, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                s.digest.as_str().into(),
                s.account_id.as_str().into(),
                s.csrf.as_str().into(),
                s.address.as_str().into(),
                s.created_at.into(),
                s.expires_at.into(),
            ],
        )),
        Write::RevokeSession { digest, now } => out.push(Statement::new(
            "UPDATE web_sessions SET revoked_at = $2 WHERE digest = $1 AND revoked_at IS NULL",
            vec![digest.as_str().into(), (*now).into()],
        )),
        Write::RevokeSessions {
            account_id,
            except,
            now,
        } => out.push(Statement::new(
            "UPDATE web_sessions SET revoked_at = $2
             WHERE account_id = $1 AND revoked_at IS NULL AND digest <> $3",
            vec![
                account_id.as_str().into(),
                (*now).into(),
                except.as_deref().unwrap_or("").into(),
            ],
        )),
        Write::InsertLink { link, now } => out.push(Statement::new(
            "INSERT INTO web_links (digest, account_id, purpose, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                link.digest.as_str().into(),
                link.account_id.as_str().into(),
                link.purpose.as_str().into(),
                link.expires_at.into(),
                (*now).into(),
            ],
        )),
        Write::UseLink { digest, now } => out.push(Statement::guarded(
            "UPDATE web_links SET used_at = $2
             WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
            vec![digest.as_str().into(), (*now).into()],
            Guard::LinkGone,
        )),
        Write::RecordAttempt { key, id, at } => out.push(Statement::new(
            "INSERT INTO attempts (subject, id, at) VALUES ($1, $2, $3)",
            vec![key.as_str().into(), id.as_str().into(), (*at).into()],
        )),
        Write::ForgetAttempt { key, id } => out.push(Statement::new(
            "DELETE FROM attempts WHERE subject = $1 AND id = $2",
            vec![key.as_str().into(), id.as_str().into()],
        )),
        Write::PurgeAttempts { before } => out.push(Statement::new(
            "DELETE FROM attempts WHERE at < $1",
            vec![(*before).into()],
        )),
        Write::SetTotp {
            account_id,
            sealed,
            now,
        } => out.push(Statement::guarded(
            "UPDATE web_accounts SET totp_sealed = $2, totp_last_step = NULL, updated_at = $3
             WHERE id = $1",
            vec![
                account_id.as_str().into(),
                sealed.as_deref().into(),
                (*now).into(),
            ],
            Guard::AccountNotFound,
        )),
        Write::UseTotpStep { account_id, step } => out.push(Statement::guarded(
            "UPDATE web_accounts SET totp_last_step = $2
             WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
            vec![account_id.as_str().into(), (*step).into()],
            Guard::CodeUsed,
        )),
        Write::ActingAdmin { email } => {
            out.push(operators_turn());
            out.push(Statement::guarded(
                "UPDATE instance_settings SET value = value WHERE name = 'operators'
                 AND EXISTS (SELECT 1 FROM web_accounts WHERE kind = 'operator'
                     AND email = $1 AND role = 'admin' AND disabled_at IS NULL)",
                vec![email.as_str().into()],
                Guard::NoLongerAdmin,
            ));
        }
        Write::SetOperator {
            account_id,
            role,
            disabled,
            now,
        } => {
            out.push(operators_turn());
            out.push(Statement::guarded(
                "UPDATE instance_settings SET value = value WHERE name = 'operators'
                 AND (($2 = 'admin' AND $3 = 0)
                      OR NOT EXISTS (SELECT 1 FROM web_accounts WHERE id = $1
                          AND kind = 'operator' AND role = 'admin' AND disabled_at IS NULL)
                      OR EXISTS (SELECT 1 FROM web_accounts WHERE id <> $1
                          AND kind = 'operator' AND role = 'admin' AND disabled_at IS NULL))",
                vec![
                    account_id.as_str().into(),
                    role.as_str().into(),
                    (*disabled).into(),
                ],
                Guard::LastAdmin,
            ));
            out.push(Statement::guarded(
                "UPDATE web_accounts SET role = $2, updated_at = $3,
                     disabled_at = CASE WHEN $4 = 0 THEN NULL ELSE COALESCE(disabled_at, $3) END
                 WHERE id = $1 AND kind = 'operator'",
                vec![
                    account_id.as_str().into(),
                    role.as_str().into(),
                    (*now).into(),
                    (*disabled).into(),
                ],
                Guard::AccountNotFound,
            ));
        }
        other => unreachable!("not an account write: {other:?}"),
    }
}

/// Two admins demoting each other at once would each see the other still an admin
/// (PostgreSQL reads committed rows): every operator change, and every admin's plan that
/// manages operators, first locks one row, so they take turns, and each checks the admins as
/// the one before left them (under READ COMMITTED each statement sees what committed before
/// it began).
fn operators_turn() -> Statement {
    Statement::new(
        "INSERT INTO instance_settings (name, value) VALUES ('operators', '')
         ON CONFLICT (name) DO UPDATE SET value = instance_settings.value",
        vec![],
    )
}

const ACCOUNT_COLUMNS: &str = "id, kind, merchant_id, email, password_hash, role, totp_sealed, \
     totp_last_step, disabled_at, created_at, updated_at";

fn account(r: &dyn Columns) -> Result<Account, StoreError> {
    let kind = r.text("kind")?;
    Ok(Account {
        id: AccountId::from_trusted(r.text("id")?),
        kind: AccountKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("web_accounts.kind = {kind:?}")))?,
        merchant_id: r.opt_text("merchant_id")?.map(MerchantId::from_trusted),
        email: r.text("email")?,
        password_hash: r.opt_text("password_hash")?,
        role: r.opt_text("role")?,
        totp_sealed: r.opt_text("totp_sealed")?,
        totp_last_step: r.opt_i64("totp_last_step")?,
        disabled_at: r.opt_i64("disabled_at")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

impl Store {
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let sql = sql_once!("SELECT {ACCOUNT_COLUMNS} FROM web_accounts WHERE id = $1");
        self.fetch_one(sql, &[id.as_str().into()], account).await
    }

    /// The account of `kind` with the (normalised) `email`.
    pub async fn account_by_email(
        &self,
        kind: AccountKind,
        email: &str,
    ) -> Result<Option<Account>, StoreError> {
        let sql =
            sql_once!("SELECT {ACCOUNT_COLUMNS} FROM web_accounts WHERE kind = $1 AND email = $2");
        self.fetch_one(sql, &[kind.as_str().into(), email.into()], account)
            .await
    }

    /// Every operator, by email.
    pub async fn operators(&self) -> Result<Vec<Account>, StoreError> {
        let sql = sql_once!(
            "SELECT {ACCOUNT_COLUMNS} FROM web_accounts WHERE kind = 'operator' ORDER BY email"
        );
        self.fetch(sql, &[], account).await
    }

    /// The merchant's account (its owner's), if it has one.
    pub async fn merchant_account(
        &self,
        merchant: &MerchantId,
    ) -> Result<Option<Account>, StoreError> {
        let sql = sql_once!(
            "SELECT {ACCOUNT_COLUMNS} FROM web_accounts
             WHERE kind = 'merchant' AND merchant_id = $1 ORDER BY created_at LIMIT 1"
        );
        self.fetch_one(sql, &[merchant.as_str().into()], account)
            .await
    }

    /// The session of a cookie token's digest with its account.
    pub async fn session(&self, digest: &str) -> Result<Option<(Session, Account)>, StoreError> {
        self.fetch_one(
            "SELECT s.digest, s.account_id, s.csrf, s.address, s.created_at AS s_created_at,
                    s.expires_at, s.revoked_at,
                    a.id, a.kind, a.merchant_id, a.email, a.password_hash, a.role,
                    a.totp_sealed, a.totp_last_step, a.disabled_at, a.created_at, a.updated_at
             FROM web_sessions s JOIN web_accounts a ON a.id = s.account_id
             WHERE s.digest = $1",
            &[digest.into()],
            |r| {
                let mut s = session_with(r, "s_created_at")?;
                s.account_id = AccountId::from_trusted(r.text("account_id")?);
                Ok((s, account(r)?))
            },
        )
        .await
    }

    /// The one-time link of a token's digest.
    pub async fn one_time_link(&self, digest: &str) -> Result<Option<OneTimeLink>, StoreError> {
        self.fetch_one(
            "SELECT digest, account_id, purpose, expires_at, used_at FROM web_links
             WHERE digest = $1",
            &[digest.into()],
            |r| {
                let purpose = r.text("purpose")?;
                Ok(OneTimeLink {
                    digest: r.text("digest")?,
                    account_id: AccountId::from_trusted(r.text("account_id")?),
                    purpose: LinkPurpose::parse(&purpose).ok_or_else(|| {
                        StoreError::Corrupt(format!("web_links.purpose = {purpose:?}"))
                    })?,
                    expires_at: r.i64("expires_at")?,
                    used_at: r.opt_i64("used_at")?,
                })
            },
        )
        .await
    }

    /// Events counted under `key` after `since` (see `Write::RecordAttempt`): one exactly a
    /// window old has left it.
    pub async fn attempts(&self, key: &str, since: Millis) -> Result<i64, StoreError> {
        Ok(self
            .fetch_one(
                "SELECT COUNT(*) AS n FROM attempts WHERE subject = $1 AND at > $2",
                &[key.into(), since.into()],
                |r| r.i64("n"),
            )
            .await?
            .unwrap_or(0))
    }

    /// The newest emails, newest first.
    pub async fn mail_messages(&self, limit: i64) -> Result<Vec<MailRecord>, StoreError> {
        self.fetch(
            "SELECT id, event, state, created_at FROM outbox
             WHERE kind = 'email' ORDER BY created_at DESC, id DESC LIMIT $1",
            &[limit.into()],
            |r| {
                let event = r.text("event")?;
                let email = match crate::events::decode(&event)? {
                    paylink_core::event::Event::Email(e) => e,
                    _ => return Err(StoreError::Corrupt(format!("outbox.event = {event:?}"))),
                };
                Ok(MailRecord {
                    id: r.text("id")?,
                    to: email.to,
                    subject: email.subject,
                    text: email.text_sealed,
                    state: r.text("state")?,
                    created_at: r.i64("created_at")?,
                })
            },
        )
        .await
    }
}

fn session_with(r: &dyn Columns, created: &str) -> Result<Session, StoreError> {
    Ok(Session {
        digest: r.text("digest")?,
        account_id: AccountId::from_trusted(r.text("account_id")?),
        csrf: r.text("csrf")?,
        created_at: r.i64(created)?,
        expires_at: r.i64("expires_at")?,
        revoked_at: r.opt_i64("revoked_at")?,
        address: r.text("address")?,
    })
}

/// An email as `paylink mail list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub id: String,
    pub to: String,
    pub subject: String,
    /// Sealed: `ops::accounts::mail_messages` opens it.
    pub text: String,
    /// `pending`, `delivered`, `failed` or `kept`.
    pub state: String,
    pub created_at: Millis,
}
