//! Web accounts: signing up (a merchant with its first shop and its owner's account), signing
//! in and out, sessions, invitations and password resets by one-time links sent by email, and
//! changing a password. Passwords are argon2id hashes, computed off the async threads; failed
//! sign-ins are counted per account and per client address.

use crate::keys::InstanceKeys;
use crate::ops::merchants::{self, Onboarded};
use crate::ops::OpError;
use paylink_core::account::{
    failure_keys, new_token, normalize_email, plausible_token, token_digest, Account, AccountKind,
    LinkPurpose, OneTimeLink, Session, SESSION_TTL_MS, SIGN_IN_FAILURES_PER_ACCOUNT,
    SIGN_IN_FAILURES_PER_ADDRESS, SIGN_IN_WINDOW_MS, SIGN_UP_PER_ADDRESS, SIGN_UP_WINDOW_MS,
};
use paylink_core::error::Rule;
use paylink_core::event::{Email, Notice};
use paylink_core::id::{random_base62, AccountId};
use paylink_core::password;
use paylink_core::plan::{Plan, Write};
use paylink_core::secret::Secret;
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{Store, StoreError};

/// A new session: the cookie's token (given to the browser once) and what is stored.
pub struct SignedIn {
    pub token: Secret<String>,
    pub session: Session,
    pub account: Account,
}

/// Where emails go: the gateway URL (none: kept for `paylink mail list`) and the instance's
/// public URL, which links in them start with.
pub struct Mailer<'a> {
    pub gateway: Option<&'a str>,
    pub public_url: &'a str,
    /// Seals each email's text (it may hold a one-time link).
    pub seal: &'a crate::keys::Sealing,
}

impl Mailer<'_> {
    /// The instance's mailer: its gateway, its public address, its sealing key.
    pub fn of(st: &crate::state::AppState) -> Mailer<'_> {
        Mailer {
            gateway: st.settings.web.mail_url.as_deref(),
            public_url: &st.settings.public_url,
            seal: &st.keys.seal,
        }
    }

    /// An email to `to`, its text sealed: the outbox keeps no link in the clear.
    pub(crate) fn notice(&self, to: &str, subject: &str, text: String, now: Millis) -> Write {
        let subject_id = random_base62(&mut rand::thread_rng(), 16);
        let text_sealed = self.seal.seal(
            &mut rand::thread_rng(),
            &text,
            &crate::keys::message_context(&subject_id),
        );
        Write::EnqueueNotice(Notice::email(
            self.gateway.unwrap_or(""),
            Email {
                subject_id,
                to: to.to_string(),
                subject: subject.to_string(),
                text_sealed,
            },
            now,
        ))
    }

    /// The page a one-time link's token opens.
    pub fn link_url(&self, token: &str) -> String {
        format!("{}/password/{token}", self.public_url.trim_end_matches('/'))
    }

    /// The console's page a one-time link's token opens (an operator's).
    pub fn operator_link_url(&self, token: &str) -> String {
        format!(
            "{}/admin/password/{token}",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// argon2id is slow on purpose: off the async threads.
async fn hash(password: String) -> Result<String, OpError> {
    tokio::task::spawn_blocking(move || password::hash(&mut rand::thread_rng(), &password))
        .await
        .map_err(|e| OpError::Store(StoreError::Database(format!("hashing failed: {e}"))))
}

async fn verify(password: String, phc: Option<String>) -> bool {
    // Without an account (or a password yet) a dummy hash is verified all the same, so that
    // timing does not tell which emails have accounts.
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        password::hash(&mut rand::thread_rng(), "not a password of anyone")
    });
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| DUMMY.clone());
    tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .unwrap_or(false)
        && known
}

fn new_session(account: &Account, address: &str, now: Millis) -> (Secret<String>, Session) {
    let mut rng = rand::thread_rng();
    let (token, digest) = new_token(&mut rng);
    let session = Session {
        digest,
        account_id: account.id.clone(),
        csrf: random_base62(&mut rng, 32),
        created_at: now,
        expires_at: now + SESSION_TTL_MS,
        revoked_at: None,
        address: address.to_string(),
    };
    (Secret::new(token), session)
}

/// Signs up: a merchant named `shop_name` with its first shop and token, and its owner's
/// account; answers the merchant and a session.
pub async fn sign_up(
    store: &Store,
    keys: &InstanceKeys,
    email: &str,
    password_text: &str,
    shop_name: &str,
    address: &str,
    now: Millis,
) -> Result<(Onboarded, SignedIn), OpError> {
    let email = normalize_email(email)?;
    password::validate(password_text)?;
    let shop_name = shop_name.trim();
    if shop_name.is_empty() {
        return Err(DomainError::Invalid {
            field: "shop_name",
            kind: Rule::Required,
        }
        .into());
    }
    paylink_core::text::check_len(
        "shop_name",
        &Some(shop_name.to_string()),
        paylink_core::text::MAX_NAME,
    )?;
    take_attempt(
        store,
        &[(format!("sign-up:addr:{address}"), SIGN_UP_PER_ADDRESS)],
        SIGN_UP_WINDOW_MS,
        now,
    )
    .await?;
    if store
        .account_by_email(AccountKind::Merchant, &email)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let hashed = hash(password_text.to_string()).await?;
    let account_id = AccountId::random(&mut rand::thread_rng());
    let onboarded = merchants::create_merchant_with(
        store,
        keys,
        shop_name,
        Some(email.clone()),
        false,
        now,
        |merchant_id| {
            vec![Write::InsertAccount(Account {
                id: account_id.clone(),
                kind: AccountKind::Merchant,
                merchant_id: Some(merchant_id.clone()),
                email: email.clone(),
                password_hash: Some(hashed.clone()),
                role: None,
                totp_sealed: None,
                totp_last_step: None,
                disabled_at: None,
                created_at: now,
                updated_at: now,
            })]
        },
    )
    .await
    .map_err(|e| match e {
        // The email's unique index: someone signed up with it meanwhile.
        OpError::Store(StoreError::Conflict(_)) => taken(),
        e => e,
    })?;
    let account = store
        .account(&account_id)
        .await?
        .ok_or(DomainError::Unauthorized)?;
    let signed_in = start_session(store, account, address, now).await?;
    Ok((onboarded, signed_in))
}

pub(crate) fn taken() -> OpError {
    DomainError::Invalid {
        field: "email",
        kind: Rule::Taken,
    }
    .into()
}

async fn start_session(
    store: &Store,
    account: Account,
    address: &str,
    now: Millis,
) -> Result<SignedIn, OpError> {
    let (token, session) = new_session(&account, address, now);
    store
        .apply(Plan::one(Write::InsertSession(session.clone())))
        .await?;
    Ok(SignedIn {
        token,
        session,
        account,
    })
}

/// What a person types to sign in.
pub struct Credentials<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// The authenticator's current code (empty without a second factor).
    pub code: &'a str,
}

/// Signs in with email and password, and the current code of the account's authenticator when
/// it has a second factor (an operator's; `code` is ignored otherwise). Wrong credentials
/// answer [`DomainError::Unauthorized`] whichever was wrong (a disabled operator's too); too
/// many failures lately, [`DomainError::TooManyFailedAttempts`] without looking at the
/// password.
pub async fn sign_in(
    store: &Store,
    keys: &InstanceKeys,
    kind: AccountKind,
    credentials: Credentials<'_>,
    address: &str,
    now: Millis,
) -> Result<SignedIn, OpError> {
    let Credentials {
        email,
        password: password_text,
        code,
    } = credentials;
    let email = normalize_email(email).map_err(|_| DomainError::Unauthorized)?;
    let [by_email, by_address] = failure_keys(kind, &email, address);
    // The attempt counts before the password is checked (concurrent guesses count too); a
    // success forgets it, so only failures stay counted.
    let taken = take_attempt(
        store,
        &[
            (by_email, SIGN_IN_FAILURES_PER_ACCOUNT),
            (by_address, SIGN_IN_FAILURES_PER_ADDRESS),
        ],
        SIGN_IN_WINDOW_MS,
        now,
    )
    .await?;
    let account = store.account_by_email(kind, &email).await?;
    let ok = password::validate(password_text).is_ok()
        && verify(
            password_text.to_string(),
            account.as_ref().and_then(|a| a.password_hash.clone()),
        )
        .await;
    match account {
        Some(account) if ok && account.disabled_at.is_none() => {
            let mut writes: Vec<Write> = match second_factor(keys, &account, code, now) {
                Some(step) => step.into_iter().collect(),
                // A wrong code counts as a failure, like a wrong password.
                None => return Err(DomainError::Unauthorized.into()),
            };
            writes.extend(
                taken
                    .into_iter()
                    .map(|(key, id)| Write::ForgetAttempt { key, id }),
            );
            // A hash made with older parameters is replaced while the password is at hand.
            if account
                .password_hash
                .as_deref()
                .is_some_and(password::needs_rehash)
            {
                writes.push(Write::SetPassword {
                    account_id: account.id.clone(),
                    hash: hash(password_text.to_string()).await?,
                    now,
                });
            }
            // A code's step is spent in the same plan: of two sign-ins with one code, one fails.
            store
                .apply(Plan { writes })
                .await
                .map_err(OpError::of_store)?;
            start_session(store, account, address, now).await
        }
        _ => Err(DomainError::Unauthorized.into()),
    }
}

/// The second factor's verdict: `Some(None)` without one, `Some(Some(write))` for a right code
/// (the write spends its time step), `None` for a wrong, replayed or missing one.
pub(crate) fn second_factor(
    keys: &InstanceKeys,
    account: &Account,
    code: &str,
    now: Millis,
) -> Option<Option<Write>> {
    let Some(sealed) = &account.totp_sealed else {
        return Some(None);
    };
    let secret = keys
        .seal
        .open(sealed, &crate::keys::totp_context(account.id.as_str()))?;
    let secret = paylink_core::totp::base32_decode(secret.expose())?;
    let last = account.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let step = paylink_core::totp::verify(&secret, code.trim(), now, last)?;
    Some(Some(Write::UseTotpStep {
        account_id: account.id.clone(),
        step: i64::try_from(step).ok()?,
    }))
}

/// The live session of a cookie's token, with its account.
pub async fn session(
    store: &Store,
    token: &str,
    now: Millis,
) -> Result<Option<(Session, Account)>, OpError> {
    if !plausible_token(token) {
        return Ok(None);
    }
    Ok(store
        .session(&token_digest(token))
        .await?
        .filter(|(s, _)| s.is_live(now)))
}

pub async fn sign_out(store: &Store, session: &Session, now: Millis) -> Result<(), OpError> {
    store
        .apply(Plan::one(Write::RevokeSession {
            digest: session.digest.clone(),
            now,
        }))
        .await?;
    Ok(())
}

/// Counts one event under each of `keys` (key, limit per `window`) and refuses with
/// [`DomainError::TooManyFailedAttempts`] when that takes any key past its limit. The event is
/// recorded first and counted after (with every other one committed by then), so requests
/// arriving at once cannot all slip under the limit. Answers the recorded events, which a
/// caller may forget again ([`Write::ForgetAttempt`]). For the forms that send email, search or
/// check a password: they must not become a mail cannon, an oracle or a guessing machine.
pub(crate) async fn take_attempt(
    store: &Store,
    keys: &[(String, i64)],
    window: Millis,
    now: Millis,
) -> Result<Vec<(String, String)>, OpError> {
    let id = random_base62(&mut rand::thread_rng(), 16);
    let taken: Vec<(String, String)> = keys.iter().map(|(k, _)| (k.clone(), id.clone())).collect();
    let mut writes: Vec<Write> = taken
        .iter()
        .map(|(key, id)| Write::RecordAttempt {
            key: key.clone(),
            id: id.clone(),
            at: now,
        })
        .collect();
    // Events a day old have left every window.
    writes.push(Write::PurgeAttempts {
        before: now - 24 * 60 * 60 * 1000,
    });
    store.apply(Plan { writes }).await?;
    for (key, limit) in keys {
        if store.attempts(key, now - window).await? > *limit {
            // A refused event does not count: the limit ends when the oldest counted one
            // leaves the window, however often the form is tried meanwhile.
            let writes = taken
                .into_iter()
                .map(|(key, id)| Write::ForgetAttempt { key, id })
                .collect();
            store.apply(Plan { writes }).await?;
            return Err(DomainError::TooManyFailedAttempts.into());
        }
    }
    Ok(taken)
}

/// Reset links per email and per client address within [`FORGOT_WINDOW_MS`].
pub const FORGOT_PER_EMAIL: i64 = 3;
pub const FORGOT_PER_ADDRESS: i64 = 10;
pub const FORGOT_WINDOW_MS: Millis = 60 * 60 * 1000;

/// "Forgot password": emails a reset link if a merchant account has this address. Answers the
/// same whether or not one does, so the form does not tell who has an account. Limited per
/// email and per address, counted alike for every email, so the limit tells nothing either.
pub async fn forgot_password(
    store: &Store,
    mailer: &Mailer<'_>,
    email: &str,
    address: &str,
    now: Millis,
) -> Result<(), OpError> {
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    take_attempt(
        store,
        &[
            (format!("forgot:email:{email}"), FORGOT_PER_EMAIL),
            (format!("forgot:addr:{address}"), FORGOT_PER_ADDRESS),
        ],
        FORGOT_WINDOW_MS,
        now,
    )
    .await?;
    let Some(account) = store
        .account_by_email(AccountKind::Merchant, &email)
        .await?
    else {
        return Ok(());
    };
    let (token, link) = one_time_link(&account, LinkPurpose::Reset, now);
    let text = format!(
        "Someone asked to reset the password of your paylink account ({email}).\n\n\
         To choose a new password, open this link within an hour:\n{}\n\n\
         If it was not you, ignore this email: your password stays as it is.",
        mailer.link_url(&token)
    );
    store
        .apply(Plan {
            writes: vec![
                Write::InsertLink { link, now },
                mailer.notice(&email, "Reset your paylink password", text, now),
            ],
        })
        .await?;
    Ok(())
}

pub(crate) fn one_time_link(
    account: &Account,
    purpose: LinkPurpose,
    now: Millis,
) -> (String, OneTimeLink) {
    let (token, digest) = new_token(&mut rand::thread_rng());
    let link = OneTimeLink {
        digest,
        account_id: account.id.clone(),
        purpose,
        expires_at: now + purpose.ttl(),
        used_at: None,
    };
    (token, link)
}

/// The account of `kind` a one-time link's token opens, while it works.
pub async fn link_account(
    store: &Store,
    kind: AccountKind,
    token: &str,
    now: Millis,
) -> Result<(OneTimeLink, Account), OpError> {
    let gone = || DomainError::Invalid {
        field: "link",
        kind: Rule::Expired,
    };
    if !plausible_token(token) {
        return Err(gone().into());
    }
    let link = store
        .one_time_link(&token_digest(token))
        .await?
        .filter(|l| l.used_at.is_none() && l.expires_at > now)
        .ok_or_else(gone)?;
    let account = store
        .account(&link.account_id)
        .await?
        .filter(|a| a.kind == kind && a.disabled_at.is_none())
        .ok_or_else(gone)?;
    Ok((link, account))
}

/// What setting a password writes: the hash, every link to set one made before spent, and
/// every session of the account ended but `keep` (the one that changed it, if any).
fn password_writes(account: &Account, hash: String, keep: Option<&str>, now: Millis) -> [Write; 3] {
    [
        Write::SetPassword {
            account_id: account.id.clone(),
            hash,
            now,
        },
        Write::SpendLinks {
            account_id: account.id.clone(),
            now,
        },
        Write::RevokeSessions {
            account_id: account.id.clone(),
            except: keep.map(str::to_string),
            now,
        },
    ]
}

/// Sets a new password through a one-time link (an invitation or a reset): the link is spent
/// (and every other of the account's), every session of the account ends, and a new one
/// starts (`None`: the account has a second factor, and signs in with it).
pub async fn set_password_by_link(
    store: &Store,
    kind: AccountKind,
    token: &str,
    new_password: &str,
    address: &str,
    now: Millis,
) -> Result<Option<SignedIn>, OpError> {
    let (link, account) = link_account(store, kind, token, now).await?;
    password::validate(new_password)?;
    let hashed = hash(new_password.to_string()).await?;
    store
        .apply(Plan {
            writes: std::iter::once(Write::UseLink {
                digest: link.digest,
                now,
            })
            .chain(password_writes(&account, hashed, None, now))
            .collect(),
        })
        .await
        .map_err(OpError::of_store)?;
    // A link is no second factor: an account with one signs in with its code.
    if account.totp_sealed.is_some() {
        return Ok(None);
    }
    start_session(store, account, address, now).await.map(Some)
}

/// Changes the password of a signed-in account (the current one must be given); every other
/// session of the account ends, and every link to set a password made before is spent. A wrong
/// current password counts as a failed sign-in of the account, so a session left open cannot
/// guess it faster than the sign-in page can.
pub async fn change_password(
    store: &Store,
    session: &Session,
    account: &Account,
    current: &str,
    new_password: &str,
    now: Millis,
) -> Result<(), OpError> {
    password::validate(new_password)?;
    let forget = confirm_password(store, account, current, now).await?;
    let hashed = hash(new_password.to_string()).await?;
    store
        .apply(Plan {
            writes: forget
                .into_iter()
                .chain(password_writes(
                    account,
                    hashed,
                    Some(session.digest.as_str()),
                    now,
                ))
                .collect(),
        })
        .await
        .map_err(OpError::of_store)?;
    Ok(())
}

/// Checks a signed-in account's current password before a change of its credentials (a new
/// password, its second factor on or off). The check counts as a sign-in attempt of the
/// account, taken before it is made: a wrong password, or a wrong code checked after it, stays
/// counted, so a session left open guesses neither faster than the sign-in page allows.
/// Answers the writes that forget the attempt, for the change's plan.
pub(crate) async fn confirm_password(
    store: &Store,
    account: &Account,
    current: &str,
    now: Millis,
) -> Result<Vec<Write>, OpError> {
    let [by_email, _] = failure_keys(account.kind, &account.email, "");
    let taken = take_attempt(
        store,
        &[(by_email, SIGN_IN_FAILURES_PER_ACCOUNT)],
        SIGN_IN_WINDOW_MS,
        now,
    )
    .await?;
    if !verify(current.to_string(), account.password_hash.clone()).await {
        return Err(DomainError::Invalid {
            field: "current_password",
            kind: Rule::NotValid,
        }
        .into());
    }
    Ok(taken
        .into_iter()
        .map(|(key, id)| Write::ForgetAttempt { key, id })
        .collect())
}

/// An invitation for the merchant's owner: a one-time link to set a password (for a merchant
/// made with `paylink merchant create`). Makes the account on first use, with `email` or the
/// merchant's own; emails the link when the address is known. Answers the link.
pub async fn invite(
    store: &Store,
    mailer: &Mailer<'_>,
    actor: &paylink_core::audit::Actor,
    merchant_id: &str,
    email: Option<&str>,
    now: Millis,
) -> Result<String, OpError> {
    actor.require(paylink_core::audit::Power::Admin)?;
    let merchant = merchants::merchant(store, merchant_id).await?;
    let mut writes = Vec::new();
    let account = match store.merchant_account(&merchant.id).await? {
        // An owner who chose a password resets it themself: a link made for them here would
        // let whoever holds it take their account over.
        Some(a) if a.password_hash.is_some() => {
            return Err(DomainError::Invalid {
                field: "invite",
                kind: Rule::Refused {
                    reason: "the owner has chosen a password; they reset it from the sign-in page"
                        .into(),
                },
            }
            .into())
        }
        Some(a) => a,
        None => {
            let email = email.map(str::to_string).or(merchant.email.clone()).ok_or(
                DomainError::Invalid {
                    field: "email",
                    kind: Rule::Required,
                },
            )?;
            let email = normalize_email(&email)?;
            if store
                .account_by_email(AccountKind::Merchant, &email)
                .await?
                .is_some()
            {
                return Err(taken());
            }
            let a = Account {
                id: AccountId::random(&mut rand::thread_rng()),
                kind: AccountKind::Merchant,
                merchant_id: Some(merchant.id.clone()),
                email,
                password_hash: None,
                role: None,
                totp_sealed: None,
                totp_last_step: None,
                disabled_at: None,
                created_at: now,
                updated_at: now,
            };
            writes.push(Write::InsertAccount(a.clone()));
            a
        }
    };
    let (token, link) = one_time_link(&account, LinkPurpose::Invite, now);
    let url = mailer.link_url(&token);
    writes.push(Write::InsertLink { link, now });
    writes.push(Write::Audit(actor.record(
        "merchant.invite",
        merchant.id.as_str(),
        "",
        account.email.as_str(),
        now,
    )));
    writes.push(mailer.notice(
        &account.email,
        "Your paylink account",
        format!(
            "An account of the paylink merchant app was made for {} ({}).\n\n\
             To choose your password and sign in, open this link within 7 days:\n{url}",
            merchant.name, account.email
        ),
        now,
    ));
    store.apply(Plan { writes }).await.map_err(|e| match e {
        StoreError::Conflict(_) => taken(),
        e => e.into(),
    })?;
    Ok(url)
}

/// The time a session ends, for its cookie's `Max-Age`.
pub fn session_seconds(session: &Session, now: Millis) -> i64 {
    ((session.expires_at - now) / 1000).max(0)
}

/// The newest emails, newest first, their texts opened (`paylink mail list`).
pub async fn mail_messages(
    store: &Store,
    keys: &InstanceKeys,
    limit: i64,
) -> Result<Vec<paylink_store::MailRecord>, OpError> {
    let mut list = store.mail_messages(limit).await?;
    for m in &mut list {
        let context = crate::keys::message_context(m.id.trim_start_matches("msg_mail_"));
        m.text = keys
            .seal
            .open(&m.text, &context)
            .map(|t| t.expose().clone())
            .ok_or_else(|| StoreError::Corrupt(format!("the text of {} does not open", m.id)))?;
    }
    Ok(list)
}
