//! The console's operators: made by an admin (or `paylink operator create`) with a one-time
//! link to choose a password, roles `admin` and `support`, access taken away and given back,
//! and a TOTP second factor each operator can turn on. Every change is audited.

use crate::keys::{totp_context, totp_offer_context, InstanceKeys};
use crate::ops::accounts::{one_time_link, taken, Mailer};
use crate::ops::OpError;
use paylink_core::account::{normalize_email, Account, AccountKind, LinkPurpose};
use paylink_core::audit::{Actor, Power, Role};
use paylink_core::error::Rule;
use paylink_core::id::AccountId;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_core::{totp, DomainError};
use paylink_store::{Store, StoreError};

/// A new operator and the link that lets them choose a password (also emailed).
pub struct CreatedOperator {
    pub account: Account,
    pub link: String,
}

/// Makes an operator with `role`; answers the account and its one-time link (7 days).
pub async fn create(
    store: &Store,
    mailer: &Mailer<'_>,
    actor: &Actor,
    email: &str,
    role: Role,
    now: Millis,
) -> Result<CreatedOperator, OpError> {
    actor.require(Power::Admin)?;
    let role = console_role(role)?;
    let email = normalize_email(email)?;
    if store
        .account_by_email(AccountKind::Operator, &email)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let account = Account {
        id: AccountId::random(&mut rand::thread_rng()),
        kind: AccountKind::Operator,
        merchant_id: None,
        email: email.clone(),
        password_hash: None,
        role: Some(role.as_str().to_string()),
        totp_sealed: None,
        totp_last_step: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    };
    let (token, link) = one_time_link(&account, LinkPurpose::Invite, now);
    let url = mailer.operator_link_url(&token);
    let mut writes = acting_admin(actor);
    writes.extend([
        Write::InsertAccount(account.clone()),
        Write::InsertLink { link, now },
        mailer.notice(
            &email,
            "Your paylink console account",
            format!(
                "An operator account ({role}) of the paylink console was made for {email}.\n\n\
                 To choose your password and sign in, open this link within 7 days:\n{url}",
                role = role.as_str()
            ),
            now,
        ),
        Write::Audit(actor.record(
            "operator.create",
            &email,
            "",
            format!("role={}", role.as_str()),
            now,
        )),
    ]);
    store.apply(Plan { writes }).await.map_err(|e| match e {
        StoreError::Conflict(_) => taken(),
        e => OpError::of_store(e),
    })?;
    Ok(CreatedOperator { account, link: url })
}

/// What an admin's plan that manages operators starts with: from the console, the check that
/// the admin still is one when the plan is written ([`Write::ActingAdmin`]); nothing for the
/// CLI, which may always.
fn acting_admin(actor: &Actor) -> Vec<Write> {
    actor
        .operator_email()
        .map(|email| Write::ActingAdmin {
            email: email.to_string(),
        })
        .into_iter()
        .collect()
}

fn console_role(role: Role) -> Result<Role, DomainError> {
    match role {
        Role::Admin | Role::Support => Ok(role),
        Role::Cli | Role::System => Err(DomainError::Invalid {
            field: "role",
            kind: Rule::Unknown,
        }),
    }
}

/// Every operator, by email.
pub async fn list(store: &Store) -> Result<Vec<Account>, OpError> {
    Ok(store.operators().await?)
}

/// The operator `id`.
pub async fn operator(store: &Store, id: &str) -> Result<Account, OpError> {
    let missing = || DomainError::Invalid {
        field: "operator",
        kind: Rule::Unknown,
    };
    let id = AccountId::parse(id).ok_or_else(missing)?;
    store
        .account(&id)
        .await?
        .filter(|a| a.kind == AccountKind::Operator)
        .ok_or_else(|| missing().into())
}

/// The role a console session acts with; `None` for a disabled operator or a stored role
/// this version does not know (such an account may do nothing).
pub fn role_of(account: &Account) -> Option<Role> {
    if account.kind != AccountKind::Operator || account.disabled_at.is_some() {
        return None;
    }
    account.role.as_deref().and_then(Role::parse)
}

fn state(role: Option<&str>, disabled: bool) -> String {
    format!(
        "role={}{}",
        role.unwrap_or("-"),
        if disabled { " disabled" } else { "" }
    )
}

/// Changes an operator's role, or takes their access away (`disabled`: every session ends)
/// or gives it back. The last admin who can sign in cannot be demoted or disabled: the
/// console would have nobody to manage it (the CLI can always make another). That guard is
/// in SQL ([`paylink_core::guard::Guard::LastAdmin`]), so that two admins demoting each other
/// at once cannot both win; so is the check that the acting admin was not demoted by a change
/// written first ([`paylink_core::guard::Guard::NoLongerAdmin`]).
pub async fn set_access(
    store: &Store,
    actor: &Actor,
    id: &str,
    role: Role,
    disabled: bool,
    now: Millis,
) -> Result<Account, OpError> {
    actor.require(Power::Admin)?;
    let role = console_role(role)?;
    let account = operator(store, id).await?;
    let mut writes = acting_admin(actor);
    writes.extend([
        Write::SetOperator {
            account_id: account.id.clone(),
            role: role.as_str().to_string(),
            disabled,
            now,
        },
        Write::Audit(actor.record(
            "operator.access",
            &account.email,
            state(account.role.as_deref(), account.disabled_at.is_some()),
            state(Some(role.as_str()), disabled),
            now,
        )),
    ]);
    if disabled {
        writes.push(Write::RevokeSessions {
            account_id: account.id.clone(),
            except: None,
            now,
        });
    }
    store
        .apply(Plan { writes })
        .await
        .map_err(OpError::of_store)?;
    operator(store, id).await
}

/// A new one-time link for an operator who lost their password (or never used the first):
/// answers it, and emails it.
pub async fn reset_link(
    store: &Store,
    mailer: &Mailer<'_>,
    actor: &Actor,
    id: &str,
    now: Millis,
) -> Result<String, OpError> {
    actor.require(Power::Admin)?;
    let account = operator(store, id).await?;
    let (token, link) = one_time_link(&account, LinkPurpose::Reset, now);
    let url = mailer.operator_link_url(&token);
    let mut writes = acting_admin(actor);
    writes.extend([
        Write::InsertLink { link, now },
        mailer.notice(
            &account.email,
            "Choose your paylink console password",
            format!("To choose a new password, open this link within an hour:\n{url}"),
            now,
        ),
        Write::Audit(actor.record("operator.reset_link", &account.email, "", "", now)),
    ]);
    store
        .apply(Plan { writes })
        .await
        .map_err(OpError::of_store)?;
    Ok(url)
}

/// A secret offered for an authenticator, until the operator confirms it with a code.
pub struct TotpOffer {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://` for the QR code.
    pub uri: String,
    /// The secret sealed to the account for the confirming form: the server keeps nothing
    /// until a code proves the app has it.
    pub offer: String,
}

/// How long an offered secret may be confirmed.
pub const OFFER_TTL_MS: Millis = 15 * 60 * 1000;

/// A fresh secret for `account`'s authenticator, listed under the instance's `issuer`.
pub fn totp_offer(keys: &InstanceKeys, account: &Account, issuer: &str, now: Millis) -> TotpOffer {
    let secret = totp::generate_secret(&mut rand::thread_rng());
    let text = totp::base32_encode(&secret);
    TotpOffer {
        uri: totp::otpauth_uri(issuer, &account.email, &secret),
        // The time it was offered goes with it: an old page's offer is refused.
        offer: keys.seal.seal(
            &mut rand::thread_rng(),
            &format!("{text}.{now}"),
            &totp_offer_context(account.id.as_str()),
        ),
        secret: text,
    }
}

/// The secret an offer holds (base32), while it may be confirmed.
pub fn offered_secret(
    keys: &InstanceKeys,
    account: &Account,
    offer: &str,
    now: Millis,
) -> Option<String> {
    let opened = keys
        .seal
        .open(offer, &totp_offer_context(account.id.as_str()))?;
    let (text, at) = opened.expose().split_once('.')?;
    let at: Millis = at.parse().ok()?;
    (now >= at && now - at <= OFFER_TTL_MS).then(|| text.to_string())
}

fn wrong_code() -> OpError {
    DomainError::Invalid {
        field: "code",
        kind: Rule::NotValid,
    }
    .into()
}

/// What an operator gives to change their own second factor: a session alone is not enough
/// (whoever took one over could otherwise drop the factor or put in their own).
pub struct OwnProof<'a> {
    /// The digest of the session the change is made in: the operator's others end.
    pub session: &'a str,
    /// The current password; a wrong one, or a wrong code, counts as a failed sign-in.
    pub password: &'a str,
    /// A code of the authenticator being turned on, or of the one being turned off.
    pub code: &'a str,
}

/// Turns on `account`'s second factor with an offered secret (at most [`OFFER_TTL_MS`] old),
/// once the proof's code shows the app has it; the code's step is spent. Only the operator
/// themself (the signed-in account) does this, with their password, and only while it is off:
/// replacing an authenticator means turning the old one off first.
pub async fn enable_totp(
    store: &Store,
    keys: &InstanceKeys,
    actor: &Actor,
    account: &Account,
    own: OwnProof<'_>,
    offer: &str,
    now: Millis,
) -> Result<(), OpError> {
    let OwnProof {
        session,
        password,
        code,
    } = own;
    if account.totp_sealed.is_some() {
        return Err(DomainError::Invalid {
            field: "code",
            kind: Rule::Refused {
                reason: "the second factor is on already".into(),
            },
        }
        .into());
    }
    // A stale offer is no guess: refused before the attempt is counted.
    let text = offered_secret(keys, account, offer, now).ok_or_else(wrong_code)?;
    let forget = crate::ops::accounts::confirm_password(store, account, password, now).await?;
    let secret = totp::base32_decode(&text).ok_or_else(wrong_code)?;
    let step = totp::verify(&secret, code.trim(), now, None).ok_or_else(wrong_code)?;
    let sealed = keys.seal.seal(
        &mut rand::thread_rng(),
        &text,
        &totp_context(account.id.as_str()),
    );
    store
        .apply(Plan {
            writes: vec![
                Write::SetTotp {
                    account_id: account.id.clone(),
                    sealed: Some(sealed),
                    now,
                },
                Write::UseTotpStep {
                    account_id: account.id.clone(),
                    step: i64::try_from(step).map_err(|_| wrong_code())?,
                },
                Write::RevokeSessions {
                    account_id: account.id.clone(),
                    except: Some(session.to_string()),
                    now,
                },
                Write::Audit(actor.record("operator.totp", &account.email, "off", "on", now)),
            ]
            .into_iter()
            .chain(forget)
            .collect(),
        })
        .await?;
    Ok(())
}

/// Turns the second factor off: an admin for another operator (a lost phone), or the operator
/// themself with their password and a current code ([`OwnProof`]); then their other sessions
/// end.
pub async fn disable_totp(
    store: &Store,
    keys: &InstanceKeys,
    actor: &Actor,
    account: &Account,
    own: Option<OwnProof<'_>>,
    now: Millis,
) -> Result<(), OpError> {
    let first = if actor.name == account.email && actor.role != Role::Cli {
        let own = own.ok_or_else(wrong_code)?;
        let mut first =
            crate::ops::accounts::confirm_password(store, account, own.password, now).await?;
        if account.totp_sealed.is_some() {
            let step = crate::ops::accounts::second_factor(keys, account, own.code, now)
                .flatten()
                .ok_or_else(wrong_code)?;
            first.push(step);
        }
        first.push(Write::RevokeSessions {
            account_id: account.id.clone(),
            except: Some(own.session.to_string()),
            now,
        });
        first
    } else {
        actor.require(Power::Admin)?;
        acting_admin(actor)
    };
    store
        .apply(Plan {
            writes: first
                .into_iter()
                .chain([
                    Write::SetTotp {
                        account_id: account.id.clone(),
                        sealed: None,
                        now,
                    },
                    Write::Audit(actor.record(
                        "operator.totp",
                        &account.email,
                        if account.totp_sealed.is_some() {
                            "on"
                        } else {
                            "off"
                        },
                        "off",
                        now,
                    )),
                ])
                .collect(),
        })
        .await
        .map_err(OpError::of_store)?;
    Ok(())
}
