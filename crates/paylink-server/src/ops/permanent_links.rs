//! Permanent links (the Procard dialect's): a merchant's Procard access, opening and changing
//! links, their operations, and paying one. A link is a bill of type PERMANENT, so paying one
//! is [`checkout::pay`] with the bill priced as the payer chose.

use crate::client::ClientAddr;
use crate::egress;
use crate::keys::{procard_context, recipient_context, InstanceKeys, Sealing};
use crate::ops::checkout::{self, LinkSale, Sale, Step, Tender};
use crate::ops::payouts::payee_context;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::bill::Bill;
use paylink_core::card::CardNumber;
use paylink_core::decide::permanent_link::{self as decide, NewLink};
use paylink_core::error::Rule;
use paylink_core::id::{random_base62, BillId, MerchantId, PaymentId};
use paylink_core::money::Amount;
use paylink_core::payout::{AccountType, Payee};
use paylink_core::permanent_link::{check_login, LinkFlow, LinkTerms, Operation, PermanentLink};
use paylink_core::plan::{Plan, Write};
use paylink_core::secret::Secret;
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{Checkout, LinkWithBill, ProcardAccess, Store, StoreError};

/// A merchant's Procard credentials: the login its clients send as `merchant_id`, and the key.
#[derive(Debug)]
pub struct Credentials {
    pub login: String,
    pub secret_key: Secret<String>,
}

/// At most this many links are listed (the API has no pages for links).
pub const MAX_LISTED_LINKS: i64 = 10_000;
/// An operations page holds at most this many.
pub const MAX_PER_PAGE: i64 = 1_000;

/// A new key: 48 base62 characters (285 bits).
fn new_key() -> String {
    random_base62(&mut rand::thread_rng(), 48)
}

/// Turns on Procard access for `merchant_id` (or changes its login, default callback URL or
/// the shop its links go to) and answers the credentials. A merchant that has access keeps its
/// key; its login stays unless a new one is given.
#[allow(clippy::too_many_arguments)]
pub async fn enable(
    store: &Store,
    keys: &InstanceKeys,
    merchant_id: &str,
    login: Option<String>,
    callback_url: Option<String>,
    shop_id: Option<&str>,
    allow_private: bool,
    now: Millis,
) -> Result<Credentials, OpError> {
    let merchant = crate::ops::merchants::merchant(store, merchant_id).await?;
    let existing = store.procard_of(&merchant.id).await?;
    let login = match (login, &existing) {
        (Some(l), _) => l,
        (None, Some(e)) => e.login.clone(),
        (None, None) => format!(
            "PL_{}",
            random_base62(&mut rand::thread_rng(), 12).to_ascii_uppercase()
        ),
    };
    check_login(&login)?;
    let shop = match (shop_id, &existing) {
        (Some(id), _) => {
            let id = paylink_core::id::ShopId::parse(id).ok_or(DomainError::ShopNotFound)?;
            store.shop(&id).await?
        }
        (None, Some(e)) => store.shop(&e.shop_id).await?,
        (None, None) => store.first_shop(&merchant.id).await?,
    }
    .filter(|s| s.merchant_id == merchant.id)
    .ok_or(DomainError::ShopNotFound)?;
    let callback_url = match callback_url {
        Some(url) => {
            check_callback(&url, allow_private).await?;
            Some(url)
        }
        None => existing.as_ref().and_then(|e| e.callback_url.clone()),
    };
    let context = procard_context(merchant.id.as_str());
    let (key, sealed) = match &existing {
        Some(e) => (open_key(&keys.seal, e)?, e.key_sealed.clone()),
        None => {
            let key = new_key();
            let sealed = keys.seal.seal(&mut rand::thread_rng(), &key, &context);
            (Secret::new(key), sealed)
        }
    };
    let write = Write::EnableProcard {
        merchant_id: merchant.id.clone(),
        login: login.clone(),
        shop_id: shop.id.clone(),
        key_sealed: sealed,
        callback_url,
        now,
    };
    match store.apply(Plan::one(write)).await {
        Ok(()) => Ok(Credentials {
            login,
            secret_key: key,
        }),
        // The login's unique index: another merchant has it.
        Err(StoreError::Conflict(_)) => Err(DomainError::Invalid {
            field: "login",
            kind: Rule::Taken,
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// A new key for the merchant; the old one stops working when this returns.
/// A new Procard key: by the merchant (`actor` `None`) or an operator (audited).
pub async fn rotate_key(
    store: &Store,
    keys: &InstanceKeys,
    actor: Option<&paylink_core::audit::Actor>,
    merchant_id: &str,
    now: Millis,
) -> Result<Credentials, OpError> {
    if let Some(a) = actor {
        a.require(paylink_core::audit::Power::Admin)?;
    }
    let merchant = crate::ops::merchants::merchant(store, merchant_id).await?;
    let access = store
        .procard_of(&merchant.id)
        .await?
        .ok_or(DomainError::ProcardNotEnabled)?;
    let key = new_key();
    let sealed = keys.seal.seal(
        &mut rand::thread_rng(),
        &key,
        &procard_context(merchant.id.as_str()),
    );
    let audit = actor
        .map(|a| Write::Audit(a.record("procard.rotate_key", merchant.id.as_str(), "", "", now)));
    store
        .apply(Plan {
            writes: std::iter::once(Write::SetProcardKey {
                merchant_id: merchant.id,
                key_sealed: sealed,
                now,
            })
            .chain(audit)
            .collect(),
        })
        .await
        .map_err(OpError::of_store)?;
    Ok(Credentials {
        login: access.login,
        secret_key: Secret::new(key),
    })
}

/// The merchant's Procard access by login, with its key opened; `None` for an unknown login.
pub async fn access(
    st: &AppState,
    login: &str,
) -> Result<Option<(ProcardAccess, Secret<String>)>, OpError> {
    let Some(access) = st.store.procard_by_login(login).await? else {
        return Ok(None);
    };
    let key = open_key(&st.keys.seal, &access)?;
    Ok(Some((access, key)))
}

fn open_key(seal: &Sealing, access: &ProcardAccess) -> Result<Secret<String>, OpError> {
    seal.open(
        &access.key_sealed,
        &procard_context(access.merchant_id.as_str()),
    )
    .ok_or_else(|| {
        StoreError::Corrupt("a Procard key does not open with the instance keys".into()).into()
    })
}

/// A callback URL paylink may call.
async fn check_callback(url: &str, allow_private: bool) -> Result<(), OpError> {
    paylink_core::permanent_link::check_callback(&Some(url.to_string()))?;
    egress::check_configured_url(url, allow_private)
        .await
        .map_err(|r| {
            DomainError::Invalid {
                field: "callback_url",
                kind: Rule::Refused {
                    reason: r.to_string(),
                },
            }
            .into()
        })
}

/// A link as the merchant asks for it in `create`.
#[derive(Debug)]
pub struct LinkRequest {
    pub name: String,
    pub description: String,
    pub flow: LinkFlow,
    pub terms: LinkTerms,
    /// P2Pin: the recipient card.
    pub recipient: Option<CardNumber>,
    pub callback_url: Option<String>,
}

/// Opens a link in the merchant's Procard shop.
pub async fn create(
    st: &AppState,
    access: &ProcardAccess,
    request: LinkRequest,
) -> Result<PermanentLink, OpError> {
    if access.merchant_banned {
        return Err(DomainError::MerchantBanned.into());
    }
    let shop = st
        .store
        .shop(&access.shop_id)
        .await?
        .ok_or(DomainError::ShopNotFound)?;
    if let Some(url) = &request.callback_url {
        check_callback(url, st.settings.postbacks.allow_private).await?;
    }
    let id = BillId::random(&mut rand::thread_rng());
    let recipient = request.recipient.map(|card| {
        let sealed = st.keys.seal.seal(
            &mut rand::thread_rng(),
            card.expose_pan(),
            &recipient_context(id.as_str()),
        );
        (sealed, card.masked())
    });
    let new = NewLink {
        name: request.name,
        description: request.description,
        flow: request.flow,
        terms: request.terms,
        recipient,
        callback_url: request.callback_url,
    };
    let (link, plan) = decide::open(&access.merchant_id, &shop, id, new, st.now())?;
    st.store.apply(plan).await?;
    Ok(link)
}

/// What `update` changes; `None` keeps the current value (an empty `callback_url` removes the
/// link's own: its callbacks go to the merchant's default).
#[derive(Debug)]
pub struct LinkChanges {
    pub name: String,
    pub description: String,
    pub amounts: Vec<Amount>,
    pub language: paylink_core::permanent_link::Language,
    pub enable_counter: Option<bool>,
    pub custom_amount: Option<i64>,
    pub target_amount: Option<i64>,
    pub show_total: Option<bool>,
    pub callback_url: Option<String>,
}

/// Changes the merchant's link `id`.
pub async fn update(
    st: &AppState,
    access: &ProcardAccess,
    id: &str,
    changes: LinkChanges,
) -> Result<PermanentLink, OpError> {
    let found = link_of(st, &access.merchant_id, id).await?;
    let callback_url = match changes.callback_url {
        Some(url) if url.is_empty() => None,
        Some(url) => {
            check_callback(&url, st.settings.postbacks.allow_private).await?;
            Some(url)
        }
        None => found.link.callback_url.clone(),
    };
    let old = &found.link.terms;
    let terms = LinkTerms {
        kind: old.kind,
        amounts: changes.amounts,
        enable_counter: changes.enable_counter.unwrap_or(old.enable_counter),
        custom_amount: changes.custom_amount.unwrap_or(old.custom_amount),
        target_amount: changes.target_amount.unwrap_or(old.target_amount),
        show_total: changes.show_total.unwrap_or(old.show_total),
        language: changes.language,
    };
    let (link, write) = decide::update(
        &found.link,
        changes.name,
        changes.description,
        terms,
        callback_url,
        st.now(),
    )?;
    match st.store.apply(Plan::one(write)).await {
        Ok(()) => Ok(link),
        Err(StoreError::GuardFailed(g)) => Err(OpError::refused(g)),
        Err(e) => Err(e.into()),
    }
}

/// The merchant's link `id`; another merchant's answers as a missing one.
pub async fn link_of(
    st: &AppState,
    merchant: &MerchantId,
    id: &str,
) -> Result<LinkWithBill, OpError> {
    let id = BillId::parse(id).ok_or(DomainError::LinkNotFound)?;
    Ok(st
        .store
        .link_of(merchant, &id)
        .await?
        .ok_or(DomainError::LinkNotFound)?)
}

pub async fn list(st: &AppState, access: &ProcardAccess) -> Result<Vec<LinkWithBill>, OpError> {
    Ok(st
        .store
        .links_of(&access.merchant_id, MAX_LISTED_LINKS)
        .await?)
}

/// One page (from 1) of the link's APPROVED and WAITING-AUTH operations, newest first, and
/// their total.
pub async fn operations(
    st: &AppState,
    access: &ProcardAccess,
    id: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Operation>, i64), OpError> {
    let found = link_of(st, &access.merchant_id, id).await?;
    Ok(st
        .store
        .operations(
            &found.link.id,
            st.now() - checkout::CHALLENGE_TTL_MS,
            page,
            per_page,
        )
        .await?)
}

/// How long after its challenge expires an unanswered payment is declined: longer than an
/// answer sent just before the expiry takes to be charged and recorded.
const ABANDONED_AFTER_MS: Millis = checkout::CHALLENGE_TTL_MS + 10 * 60_000;

/// Declines the link payments whose 3-D Secure challenge was left unanswered, each with its
/// DECLINED callback (the money worker's, every minute; workers in several processes may race:
/// the decline is guarded in SQL, so each is declined and called back once). How many it did.
pub async fn decline_abandoned(store: &Store, now: Millis) -> Result<usize, StoreError> {
    let before = now - ABANDONED_AFTER_MS;
    let mut declined = 0;
    for op in store.abandoned_operations(before, 256).await? {
        let Some(link) = store.checkout(&op.link_id).await? else {
            continue;
        };
        let url = link.link_callback.as_deref();
        let plan = Plan {
            writes: decide::abandoned(&op, &link.shop.id, url, before, now),
        };
        match store.apply(plan).await {
            Ok(()) => declined += 1,
            // Answered, or declined by another worker, meanwhile.
            Err(StoreError::GuardFailed(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(declined)
}

/// The link behind a payer's page or sandbox call, with its bill, shop and merchant.
pub async fn checkout(st: &AppState, id: &str) -> Result<Checkout, OpError> {
    let id = BillId::parse(id).ok_or(DomainError::LinkNotFound)?;
    st.store
        .checkout(&id)
        .await?
        .filter(|c| c.link.is_some())
        .ok_or_else(|| DomainError::LinkNotFound.into())
}

/// What the link has accumulated: its `custom_amount` plus what payers paid in APPROVED
/// operations (before fee).
pub async fn accumulated(st: &AppState, link: &PermanentLink) -> Result<i64, OpError> {
    Ok(link.terms.custom_amount + st.store.link_approved_total(&link.id).await?)
}

/// Pays the link `c` with `card`: `unit` (one of the link's amounts, or any for an arbitrary
/// link) times `quantity`, as payment `payment_id`.
pub async fn pay(
    st: &AppState,
    c: &Checkout,
    unit: Option<Amount>,
    quantity: i64,
    payment_id: PaymentId,
    card: CardNumber,
    client: &ClientAddr,
) -> Result<Step, OpError> {
    let link = c.link.as_ref().ok_or(DomainError::LinkNotFound)?;
    let price = link.terms.price(unit, quantity)?;
    let priced = Bill {
        amount: price,
        ..c.bill.clone()
    };
    let sale = Sale {
        bill: &priced,
        shop: &c.shop,
        merchant_banned: c.merchant_banned,
        link: Some(LinkSale {
            link,
            quantity,
            callback_url: c.link_callback.as_deref(),
        }),
    };
    checkout::pay(st, sale, payment_id, Tender::Card(card), client).await
}

/// A P2Pin link's recipient card as a payout's payee: masked, fingerprinted, sealed for the
/// payout provider.
pub(crate) fn recipient(st: &AppState, link: &PermanentLink) -> Result<Payee, OpError> {
    let pan = link
        .recipient_sealed
        .as_deref()
        .and_then(|sealed| {
            st.keys
                .seal
                .open(sealed, &recipient_context(link.id.as_str()))
        })
        .and_then(|pan| CardNumber::parse(pan.expose()))
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the recipient card of P2Pin link {} cannot be read",
                link.id
            ))
        })?;
    let fingerprint = pan.fingerprint(&st.keys.fingerprint);
    Ok(Payee {
        account_type: AccountType::Card,
        identifier: pan.masked(),
        sealed: Some(st.keys.seal.seal(
            &mut rand::thread_rng(),
            pan.expose_pan(),
            &payee_context(&fingerprint),
        )),
        fingerprint,
        bank_member_id: None,
        holder: None,
    })
}

/// Finishes a challenged payment of link `c` with the issuer's answer.
pub async fn complete(
    st: &AppState,
    c: &Checkout,
    state: &str,
    answer: &str,
    client: &ClientAddr,
) -> Result<paylink_core::payment::Payment, OpError> {
    checkout::complete(st, Sale::of(c), state, answer, client).await
}
