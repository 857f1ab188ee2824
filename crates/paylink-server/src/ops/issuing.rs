//! Card issuing (the Card API's operations): partners and their keys and prepaid balances,
//! clients, cards and their statuses, card money (credits, debits, authorizations, clearing,
//! reversals, refunds), gift cards with their OTPs, one-time card data links, and partners'
//! requests with their outcomes.
//!
//! Every partner request is a [`Call`]: its plan carries the request's record
//! ([`Write::RecordCardRequest`]), so the database refuses a repeated `request_id` in the same
//! transaction as the effect, and `request/status` answers from that record. A request refused
//! before any effect is recorded on its own ([`record_refusal`]).

use crate::keys::{card_data_context, partner_context, InstanceKeys};
use crate::ops::OpError;
use paylink_core::card::CardNumber;
use paylink_core::cardholder::{self, Person, Score};
use paylink_core::decide::issuing as decide;
use paylink_core::event::Notice;
use paylink_core::event::Sms;
use paylink_core::guard::Guard;
use paylink_core::id::{random_base62, CardId, CardTransactionId, ClientId, PartnerId};
use paylink_core::issued::{
    CardClient, CardRequest, CardTransaction, ClientDetails, IssuedCard, Partner, Produced,
    RequestOutcome, StatementLine, TransactionKind, TransactionStatus, PRODUCTS, SANDBOX_BIN,
};
use paylink_core::issuing::{
    self, generate_cvv, generate_pan, issue_otp, sandbox_products, BinRange, CardBalance,
    CardState, CardStatus, CardType, CardUse, Expiry, GiftProduct, IssuingError, RefundTo,
    CARD_VALIDITY_YEARS, OTP_MAX_ATTEMPTS,
};
use paylink_core::ledger::{Balance, Owner};
use paylink_core::money::{Amount, Currency};
use paylink_core::plan::{Plan, Write};
use paylink_core::secret::Secret;
use paylink_core::time::Millis;
use paylink_core::token::hex;
use paylink_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// What a Card API operation fails with: an issuing rule's refusal, or storage trouble.
#[derive(Debug, Error)]
pub enum CardError {
    #[error(transparent)]
    Refused(#[from] IssuingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OpError> for CardError {
    fn from(e: OpError) -> CardError {
        match e {
            OpError::Store(s) => CardError::Store(s),
            OpError::Domain(d) => CardError::Refused(IssuingError::Invalid {
                field: "request",
                kind: paylink_core::error::Rule::Refused {
                    reason: d.to_string(),
                },
            }),
        }
    }
}

/// A plan refused by a guard: the refusal it stands for, else the store's failure.
fn refused(e: StoreError) -> CardError {
    match e {
        StoreError::GuardFailed(g) => match g.issuing_refusal() {
            Some(r) => CardError::Refused(r),
            None => CardError::Store(StoreError::GuardFailed(g)),
        },
        other => CardError::Store(other),
    }
}

/// A PAN, issue token or card token that collided with an existing one: drawn again.
const ISSUE_ATTEMPTS: usize = 5;
/// Cards in one bulk issue.
pub const MAX_BULK: u32 = 100;
/// The longest page of cards or operations.
pub const MAX_PAGE: i64 = 100;
/// How long a one-time card data link works.
pub const SECRET_TTL_MS: Millis = 10 * 60 * 1000;
/// The length of issued PANs.
const PAN_LENGTH: u8 = 16;

// ---------------------------------------------------------------------------------------------
// Partners (the CLI)

/// A partner's credentials: its `auth_id` and key.
#[derive(Debug)]
pub struct PartnerCredentials {
    pub auth_id: String,
    pub secret_key: Secret<String>,
}

/// What a partner may issue; `None` fields take the sandbox's defaults.
#[derive(Debug, Default)]
pub struct IssuingSettings {
    pub currencies: Option<Vec<Currency>>,
    pub bin_ranges: Option<Vec<BinRange>>,
    pub products: Option<Vec<u32>>,
}

fn new_key() -> String {
    random_base62(&mut rand::thread_rng(), 48)
}

pub async fn create_partner(
    store: &Store,
    keys: &InstanceKeys,
    actor: &paylink_core::audit::Actor,
    name: &str,
    settings: IssuingSettings,
    now: Millis,
) -> Result<PartnerCredentials, CardError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 || paylink_core::text::has_control(name) {
        return Err(IssuingError::Invalid {
            field: "name",
            kind: paylink_core::error::Rule::Required,
        }
        .into());
    }
    let products = settings.products.unwrap_or(PRODUCTS.to_vec());
    if products.is_empty() || products.iter().any(|p| !PRODUCTS.contains(p)) {
        return Err(IssuingError::ProductNotAvailable.into());
    }
    let id = PartnerId::random(&mut rand::thread_rng());
    let key = new_key();
    let sealed = keys
        .seal
        .seal(&mut rand::thread_rng(), &key, &partner_context(id.as_str()));
    let partner = Partner {
        id: id.clone(),
        name: name.to_string(),
        key_sealed: sealed,
        currencies: settings
            .currencies
            .filter(|c| !c.is_empty())
            .unwrap_or(vec![
                Currency::Kzt,
                Currency::Usd,
                Currency::Eur,
                Currency::Rub,
            ]),
        products,
        bin_ranges: settings
            .bin_ranges
            .filter(|b| !b.is_empty())
            .unwrap_or(vec![BinRange::prefix(SANDBOX_BIN).expect("a valid BIN")]),
        created_at: now,
        updated_at: now,
    };
    let audit = actor.record("partner.create", id.as_str(), "", name, now);
    store
        .apply(Plan {
            writes: vec![Write::InsertPartner(partner), Write::Audit(audit)],
        })
        .await?;
    Ok(PartnerCredentials {
        auth_id: id.into_string(),
        secret_key: Secret::new(key),
    })
}

pub async fn partner(store: &Store, auth_id: &str) -> Result<Partner, CardError> {
    let id = PartnerId::parse(auth_id).ok_or(IssuingError::PartnerNotFound)?;
    Ok(store
        .partner(&id)
        .await?
        .ok_or(IssuingError::PartnerNotFound)?)
}

/// A new key; the old one stops working when this returns.
pub async fn rotate_partner_key(
    store: &Store,
    keys: &InstanceKeys,
    actor: &paylink_core::audit::Actor,
    auth_id: &str,
    now: Millis,
) -> Result<PartnerCredentials, CardError> {
    let partner = partner(store, auth_id).await?;
    let key = new_key();
    let sealed = keys.seal.seal(
        &mut rand::thread_rng(),
        &key,
        &partner_context(partner.id.as_str()),
    );
    store
        .apply(Plan {
            writes: vec![
                Write::SetPartnerKey {
                    partner_id: partner.id.clone(),
                    key_sealed: sealed,
                    now,
                },
                Write::Audit(actor.record("partner.rotate_key", partner.id.as_str(), "", "", now)),
            ],
        })
        .await
        .map_err(refused)?;
    Ok(PartnerCredentials {
        auth_id: partner.id.into_string(),
        secret_key: Secret::new(key),
    })
}

/// The partner's key, opened.
pub fn partner_key(keys: &InstanceKeys, partner: &Partner) -> Option<Secret<String>> {
    keys.seal
        .open(&partner.key_sealed, &partner_context(partner.id.as_str()))
}

/// Books `amount` into the partner's prepaid balance; answers the balance after.
pub async fn fund_partner(
    store: &Store,
    actor: &paylink_core::audit::Actor,
    auth_id: &str,
    amount: Amount,
    currency: Currency,
    now: Millis,
) -> Result<Balance, CardError> {
    let partner = partner(store, auth_id).await?;
    if !partner.currencies.contains(&currency) {
        return Err(IssuingError::ProductNotAvailable.into());
    }
    let reference = random_base62(&mut rand::thread_rng(), 16);
    let entry = decide::fund_partner(&partner.id, currency, amount, &reference, now);
    let audit = actor.record(
        "partner.fund",
        partner.id.as_str(),
        "",
        format!("+{} {}", amount.minor(), currency.code()),
        now,
    );
    store
        .apply(Plan {
            writes: vec![Write::Post(entry), Write::Audit(audit)],
        })
        .await?;
    Ok(store
        .owner_balance(&Owner::partner(&partner.id), currency)
        .await?)
}

/// Every partner with its prepaid balances.
pub async fn partners(store: &Store) -> Result<Vec<(Partner, Vec<Balance>)>, CardError> {
    let mut out = Vec::new();
    for p in store.partners().await? {
        let balances = store.owner_balances(&Owner::partner(&p.id)).await?;
        out.push((p, balances));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Requests

/// One partner request: who sent it, its `request_id`, the method, and when.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub partner: &'a Partner,
    pub request_id: &'a str,
    /// The method as partners name it: its path under `/v5/card-api/` (`card/issue`), or under
    /// `/v5/` for the gift cards (`cards/issue`).
    pub method: &'a str,
    pub now: Millis,
}

impl Call<'_> {
    fn record(&self, outcome: RequestOutcome, produced: Produced) -> Write {
        Write::RecordCardRequest(CardRequest {
            partner_id: self.partner.id.clone(),
            request_id: self.request_id.to_string(),
            method: self.method.to_string(),
            outcome,
            produced,
            created_at: self.now,
        })
    }

    /// `writes` and the request's success record (first: a repeat is refused before
    /// anything else is looked at), applied as one plan.
    async fn apply(
        &self,
        store: &Store,
        produced: Produced,
        writes: Vec<Write>,
    ) -> Result<(), CardError> {
        self.apply_as(store, RequestOutcome::Success, produced, writes)
            .await
    }

    async fn apply_as(
        &self,
        store: &Store,
        outcome: RequestOutcome,
        produced: Produced,
        writes: Vec<Write>,
    ) -> Result<(), CardError> {
        store
            .apply(self.plan(outcome, produced, writes))
            .await
            .map_err(refused)
    }

    /// `writes` after the request's record.
    fn plan(&self, outcome: RequestOutcome, produced: Produced, writes: Vec<Write>) -> Plan {
        let mut plan = Plan {
            writes: Vec::with_capacity(writes.len() + 1),
        };
        plan.writes.push(self.record(outcome, produced));
        plan.writes.extend(writes);
        plan
    }
}

/// Records a request refused before it had any effect, so that `request/status` reports the
/// refusal and a repeat is refused. Answers the refusal to give: the original one, or
/// `duplicate_request_id` when the request id was used before.
pub async fn record_refusal(store: &Store, call: &Call<'_>, refusal: IssuingError) -> CardError {
    if refusal == IssuingError::DuplicateRequestId {
        return refusal.into();
    }
    let outcome = RequestOutcome::Error {
        code: refusal.code().to_string(),
        description: refusal.to_string(),
    };
    match call
        .apply_as(store, outcome, Produced::default(), Vec::new())
        .await
    {
        Ok(()) => refusal.into(),
        Err(e) => e,
    }
}

/// The record of the partner's request `request_id`.
pub async fn request_status(
    store: &Store,
    partner: &Partner,
    request_id: &str,
) -> Result<CardRequest, CardError> {
    Ok(store
        .card_request(&partner.id, request_id)
        .await?
        .ok_or(IssuingError::RequestNotFound)?)
}

/// A read's record: a read consumes its `request_id` like any other request.
async fn record_read(store: &Store, call: &Call<'_>, produced: Produced) -> Result<(), CardError> {
    call.apply(store, produced, Vec::new()).await
}

// ---------------------------------------------------------------------------------------------
// Clients

fn check_product(partner: &Partner, product_id: u32) -> Result<(), IssuingError> {
    if partner.products.contains(&product_id) {
        Ok(())
    } else {
        Err(IssuingError::ProductNotAvailable)
    }
}

/// A card is given to a client of its own product only.
fn check_client_product(
    field: &'static str,
    card_product: u32,
    client: &CardClient,
) -> Result<(), IssuingError> {
    if card_product == client.product_id {
        return Ok(());
    }
    Err(IssuingError::Invalid {
        field,
        kind: paylink_core::error::Rule::Refused {
            reason: format!(
                "the card's product is {card_product} and the client's is {}; a card is given \
                 to a client of its own product",
                client.product_id
            ),
        },
    })
}

/// The product a partner's gift cards are: 1000 (wallet card) when the partner may issue it,
/// else the first of its products.
fn gift_product_id(partner: &Partner) -> u32 {
    if partner.products.contains(&PRODUCTS[0]) {
        PRODUCTS[0]
    } else {
        partner
            .products
            .iter()
            .copied()
            .min()
            .unwrap_or(PRODUCTS[0])
    }
}

fn check_currency(partner: &Partner, currency: Currency) -> Result<(), IssuingError> {
    if partner.currencies.contains(&currency) {
        Ok(())
    } else {
        Err(IssuingError::ProductNotAvailable)
    }
}

pub async fn add_client(
    store: &Store,
    call: &Call<'_>,
    product_id: u32,
    details: ClientDetails,
) -> Result<CardClient, CardError> {
    check_product(call.partner, product_id)?;
    let client = CardClient {
        id: ClientId::random(&mut rand::thread_rng()),
        partner_id: call.partner.id.clone(),
        product_id,
        details,
        version: 0,
        created_at: call.now,
        updated_at: call.now,
    };
    let produced = Produced {
        client_id: Some(client.id.clone()),
        ..Produced::default()
    };
    call.apply(
        store,
        produced,
        vec![Write::InsertCardClient(client.clone())],
    )
    .await?;
    Ok(client)
}

pub async fn client(
    store: &Store,
    partner: &Partner,
    client_id: &str,
) -> Result<CardClient, CardError> {
    let id = ClientId::parse(client_id).ok_or(IssuingError::ClientNotFound)?;
    Ok(store
        .card_client(&partner.id, &id)
        .await?
        .ok_or(IssuingError::ClientNotFound)?)
}

/// How many times an edit of a client is read and made again after losing to another edit
/// written meanwhile. Each loss means another edit landed, so this many edits of one client
/// sent at once all land.
const EDIT_ATTEMPTS: usize = 10;

/// New particulars for a client: `change` gets the stored ones and answers the new ones.
/// The edit is written over the version it read; when another edit was written meanwhile, the
/// client is read again and `change` made again over what that edit wrote, so concurrent edits
/// of different fields all land.
pub async fn edit_client(
    store: &Store,
    call: &Call<'_>,
    client_id: &str,
    product_id: Option<u32>,
    change: impl Fn(&ClientDetails) -> Result<ClientDetails, IssuingError>,
) -> Result<CardClient, CardError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut client = client(store, call.partner, client_id).await?;
        if let Some(p) = product_id {
            check_product(call.partner, p)?;
            client.product_id = p;
        }
        client.details = change(&client.details)?;
        client.updated_at = call.now;
        let produced = Produced {
            client_id: Some(client.id.clone()),
            ..Produced::default()
        };
        let plan = call.plan(
            RequestOutcome::Success,
            produced,
            vec![Write::UpdateCardClient(client.clone())],
        );
        match store.apply(plan).await {
            Ok(()) => {
                client.version += 1;
                return Ok(client);
            }
            Err(StoreError::GuardFailed(Guard::ClientMoved)) if attempts < EDIT_ATTEMPTS => {
                tracing::debug!("a client edit raced another; reading again");
            }
            Err(e) => return Err(refused(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cards

/// A card's PAN, expiry and CVV, opened from its seal.
pub struct CardData {
    pub pan: Secret<String>,
    pub expiry: Expiry,
    pub cvv: Secret<String>,
}

/// A card with what its rules need: its expiry (sealed with the PAN) and its state.
pub struct CardView {
    pub card: IssuedCard,
    pub expiry: Expiry,
    /// The status as of the call (an expired card reads expired).
    pub status: CardStatus,
}

impl CardView {
    fn state(&self) -> CardState {
        CardState {
            status: self.card.status,
            card_type: self.card.card_type,
            expiry: self.expiry,
            linked: self.card.client_id.is_some(),
        }
    }
}

pub fn open_card(keys: &InstanceKeys, card: &IssuedCard) -> Result<CardData, CardError> {
    let broken = || {
        CardError::Store(StoreError::Corrupt(format!(
            "cards.data_sealed of {} does not open",
            card.id
        )))
    };
    let data = keys
        .seal
        .open(&card.data_sealed, &card_data_context(card.id.as_str()))
        .ok_or_else(broken)?;
    let mut parts = data.expose().split('|');
    let (Some(pan), Some(expiry), Some(cvv), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(broken());
    };
    Ok(CardData {
        pan: Secret::new(pan.to_string()),
        expiry: Expiry::parse(expiry).ok_or_else(broken)?,
        cvv: Secret::new(cvv.to_string()),
    })
}

fn view(keys: &InstanceKeys, card: IssuedCard, now: Millis) -> Result<CardView, CardError> {
    let expiry = open_card(keys, &card)?.expiry;
    let status = CardState {
        status: card.status,
        card_type: card.card_type,
        expiry,
        linked: card.client_id.is_some(),
    }
    .status_at(now);
    Ok(CardView {
        card,
        expiry,
        status,
    })
}

/// The partner's card `card_id`; another partner's reads as missing.
pub async fn card(
    store: &Store,
    keys: &InstanceKeys,
    partner: &Partner,
    card_id: &str,
    now: Millis,
) -> Result<CardView, CardError> {
    let id = CardId::parse(card_id).ok_or(IssuingError::CardNotFound)?;
    let card = store
        .card(&partner.id, &id)
        .await?
        .ok_or(IssuingError::CardNotFound)?;
    view(keys, card, now)
}

/// A fresh card (PAN from the partner's BIN ranges, expiry, CVV, all sealed).
fn new_card(
    keys: &InstanceKeys,
    partner: &Partner,
    kind: NewCard,
    currency: Currency,
    now: Millis,
) -> IssuedCard {
    let mut rng = rand::thread_rng();
    let id = CardId::random(&mut rng);
    let pan: CardNumber = generate_pan(&mut rng, &partner.bin_ranges, PAN_LENGTH);
    let expiry = Expiry::years_after(now, CARD_VALIDITY_YEARS);
    let data = format!(
        "{}|{}|{}",
        pan.expose_pan(),
        expiry.mm_yy(),
        generate_cvv(&mut rng)
    );
    let data_sealed = keys
        .seal
        .seal(&mut rng, &data, &card_data_context(id.as_str()));
    let (card_type, status, client_id, product_id, gift_product, holder) = match kind {
        NewCard::Virtual { client, product_id } => (
            CardType::Virtual,
            CardStatus::Active,
            Some(client),
            product_id,
            None,
            None,
        ),
        NewCard::Bulk { product_id } => (
            CardType::Virtual,
            CardStatus::Inactive,
            None,
            product_id,
            None,
            None,
        ),
        NewCard::Gift { code, name, phone } => (
            CardType::Gift,
            CardStatus::Inactive,
            None,
            gift_product_id(partner),
            Some(code),
            Some((name, phone)),
        ),
    };
    let (holder_name, holder_phone) = holder.unzip();
    IssuedCard {
        id,
        partner_id: partner.id.clone(),
        client_id,
        product_id,
        card_type,
        gift_product,
        currency,
        status,
        version: 0,
        card_token: random_base62(&mut rng, 32),
        pan_fingerprint: pan.fingerprint(&keys.fingerprint),
        card_mask: pan.masked(),
        holder_name,
        holder_phone,
        data_sealed,
        created_at: now,
        updated_at: now,
    }
}

enum NewCard {
    Virtual {
        client: ClientId,
        product_id: u32,
    },
    Bulk {
        product_id: u32,
    },
    Gift {
        code: String,
        name: String,
        phone: String,
    },
}

/// Applies a plan that inserts fresh cards, drawing new ones when a PAN or token collides.
async fn issue_with_retries(
    store: &Store,
    call: &Call<'_>,
    outcome: RequestOutcome,
    mut make: impl FnMut() -> (Produced, Vec<Write>),
) -> Result<(), CardError> {
    let mut attempts = 0;
    loop {
        let (produced, writes) = make();
        match call
            .apply_as(store, outcome.clone(), produced, writes)
            .await
        {
            Err(CardError::Store(StoreError::Conflict(_))) if attempts + 1 < ISSUE_ATTEMPTS => {
                attempts += 1
            }
            other => return other,
        }
    }
}

/// `card/issue`: a virtual card for the partner's client, active at once.
pub async fn issue_card(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    product_id: u32,
    client_id: &str,
    currency: Currency,
) -> Result<IssuedCard, CardError> {
    check_product(call.partner, product_id)?;
    check_currency(call.partner, currency)?;
    let client = client(store, call.partner, client_id).await?;
    check_client_product("product_id", product_id, &client)?;
    let mut issued = None;
    issue_with_retries(store, call, RequestOutcome::Success, || {
        let card = new_card(
            keys,
            call.partner,
            NewCard::Virtual {
                client: client.id.clone(),
                product_id,
            },
            currency,
            call.now,
        );
        issued = Some(card.clone());
        let produced = Produced {
            card_id: Some(card.id.clone()),
            client_id: Some(client.id.clone()),
            ..Produced::default()
        };
        (produced, vec![Write::InsertCard(card)])
    })
    .await?;
    Ok(issued.expect("made at least once"))
}

/// `card/bulk_issue`: `quantity` inactive cards without a client, in one transaction. Answered
/// "process": the cards are in `request/status`.
pub async fn bulk_issue(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    product_id: u32,
    quantity: u32,
    currency: Currency,
) -> Result<Vec<IssuedCard>, CardError> {
    check_product(call.partner, product_id)?;
    check_currency(call.partner, currency)?;
    if !(1..=MAX_BULK).contains(&quantity) {
        return Err(IssuingError::Invalid {
            field: "quantity",
            kind: paylink_core::error::Rule::Between {
                min: 1,
                max: MAX_BULK as i64,
            },
        }
        .into());
    }
    let mut issued = Vec::new();
    issue_with_retries(store, call, RequestOutcome::Success, || {
        issued = (0..quantity)
            .map(|_| {
                new_card(
                    keys,
                    call.partner,
                    NewCard::Bulk { product_id },
                    currency,
                    call.now,
                )
            })
            .collect();
        let produced = Produced {
            cards: issued
                .iter()
                .map(|c| (c.id.clone(), c.card_mask.clone()))
                .collect(),
            ..Produced::default()
        };
        let writes = issued.iter().cloned().map(Write::InsertCard).collect();
        (produced, writes)
    })
    .await?;
    Ok(issued)
}

/// `card/link`: gives a card without a client to one (again to the same: success).
pub async fn link_card(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    client_id: &str,
    card_id: &str,
) -> Result<CardView, CardError> {
    let client = client(store, call.partner, client_id).await?;
    let mut card = card(store, keys, call.partner, card_id, call.now).await?;
    if card.status == CardStatus::Closed {
        return Err(IssuingError::CardClosed.into());
    }
    if card.card.card_type == CardType::Gift {
        return Err(IssuingError::Invalid {
            field: "card_id",
            kind: paylink_core::error::Rule::Refused {
                reason: "a gift card is not linked to a client: it is its holder's, the phone \
                         it was issued to"
                    .into(),
            },
        }
        .into());
    }
    check_client_product("card_id", card.card.product_id, &client)?;
    let produced = Produced {
        card_id: Some(card.card.id.clone()),
        client_id: Some(client.id.clone()),
        ..Produced::default()
    };
    let write = Write::LinkCard {
        card_id: card.card.id.clone(),
        client_id: client.id.clone(),
        now: call.now,
    };
    call.apply(store, produced, vec![write]).await?;
    card.card.client_id = Some(client.id);
    Ok(card)
}

/// The status changes partners ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Activate,
    Block,
    Unblock,
    Close,
}

/// `card/activate|block|unblock|close`. Closing returns what is left on the card to the
/// partner's prepaid balance; a card with money on hold is not closed.
pub async fn change_status(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
    change: StatusChange,
) -> Result<CardView, CardError> {
    let mut card = card(store, keys, call.partner, card_id, call.now).await?;
    let state = card.state();
    let to = match change {
        StatusChange::Activate => state.activate(call.now)?,
        StatusChange::Block => state.block(call.now)?,
        StatusChange::Unblock => state.unblock(call.now)?,
        StatusChange::Close => state.close()?,
    };
    let mut writes = Vec::new();
    if matches!(change, StatusChange::Block | StatusChange::Close) {
        // The card's data links handed out so far show nothing any more (first: the links
        // are locked before the card, as opening one locks only the link).
        writes.push(Write::SpendCardSecrets {
            card_id: card.card.id.clone(),
            now: call.now,
        });
    }
    if to != card.card.status {
        writes.push(Write::SetCardStatus {
            card_id: card.card.id.clone(),
            from: card.card.status,
            to,
            // A close returns the balance it read: it holds only if no money moved since.
            version: (change == StatusChange::Close).then_some(card.card.version),
            now: call.now,
        });
    }
    if change == StatusChange::Close {
        let balance = store
            .owner_balance(&Owner::card(&card.card.id), card.card.currency)
            .await?;
        if balance.hold > 0 {
            return Err(IssuingError::Invalid {
                field: "card_id",
                kind: paylink_core::error::Rule::Refused {
                    reason: "the card has authorizations on hold; clear or reverse them first"
                        .into(),
                },
            }
            .into());
        }
        if balance.available > 0 {
            // The entry takes exactly what was read: a debit in between makes the balance row
            // refuse it, and the status guard refuses a second close.
            writes.push(Write::Post(decide::return_to_partner(
                &call.partner.id,
                &card.card.id,
                card.card.currency,
                balance.available,
                call.now,
            )));
        }
    }
    let produced = Produced {
        card_id: Some(card.card.id.clone()),
        ..Produced::default()
    };
    call.apply(store, produced, writes).await?;
    card.card.status = to;
    card.status = to;
    Ok(card)
}

/// `card/info`.
pub async fn card_info(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
) -> Result<CardView, CardError> {
    let card = card(store, keys, call.partner, card_id, call.now).await?;
    record_read(
        store,
        call,
        Produced {
            card_id: Some(card.card.id.clone()),
            ..Produced::default()
        },
    )
    .await?;
    Ok(card)
}

/// A card's money as the ledger holds it.
pub async fn balance_of(store: &Store, card: &IssuedCard) -> Result<CardBalance, CardError> {
    let b = store
        .owner_balance(&Owner::card(&card.id), card.currency)
        .await?;
    Ok(CardBalance {
        balance: b.available + b.hold,
        hold: b.hold,
    })
}

/// `card/balance`.
pub async fn card_balance(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
) -> Result<(CardView, CardBalance), CardError> {
    let card = card_info(store, keys, call, card_id).await?;
    let balance = balance_of(store, &card.card).await?;
    Ok((card, balance))
}

/// `card/list`: a page (1-based) of the partner's cards, of one client if named.
pub async fn list_cards(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    client_id: Option<&str>,
    page: i64,
    limit: i64,
) -> Result<Vec<CardView>, CardError> {
    let client = match client_id {
        Some(id) => Some(client(store, call.partner, id).await?.id),
        None => None,
    };
    let cards = store
        .cards(
            &call.partner.id,
            client.as_ref(),
            offset(page, limit),
            limit,
        )
        .await?;
    record_read(store, call, Produced::default()).await?;
    cards.into_iter().map(|c| view(keys, c, call.now)).collect()
}

fn offset(page: i64, limit: i64) -> i64 {
    (page.max(1) - 1).saturating_mul(limit)
}

/// `card/statement`: a page of the movements of the card's money booked in `[from, to]`.
#[allow(clippy::too_many_arguments)]
pub async fn statement(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
    from: Millis,
    to: Millis,
    page: i64,
    limit: i64,
) -> Result<Vec<StatementLine>, CardError> {
    let card = card(store, keys, call.partner, card_id, call.now).await?;
    if from > to {
        return Err(IssuingError::Invalid {
            field: "date_from",
            kind: paylink_core::error::Rule::Refused {
                reason: "date_from is after date_to".into(),
            },
        }
        .into());
    }
    let operations = store
        .card_statement(
            &card.card.id,
            card.card.currency,
            from,
            to,
            offset(page, limit),
            limit,
        )
        .await?;
    record_read(
        store,
        call,
        Produced {
            card_id: Some(card.card.id.clone()),
            ..Produced::default()
        },
    )
    .await?;
    Ok(operations)
}

// ---------------------------------------------------------------------------------------------
// One-time card data links

fn secret_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// `card/secret`: a token for a page that shows the card's data once, until `expires_at`.
pub async fn card_secret(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
) -> Result<(Secret<String>, Millis), CardError> {
    let card = card(store, keys, call.partner, card_id, call.now).await?;
    if card.status == CardStatus::Closed {
        return Err(IssuingError::CardClosed.into());
    }
    let token = random_base62(&mut rand::thread_rng(), 43);
    let expires_at = call.now + SECRET_TTL_MS;
    let write = Write::InsertCardSecret {
        digest: secret_digest(&token),
        card_id: card.card.id.clone(),
        expires_at,
        now: call.now,
    };
    let produced = Produced {
        card_id: Some(card.card.id.clone()),
        ..Produced::default()
    };
    call.apply(store, produced, vec![write]).await?;
    Ok((Secret::new(token), expires_at))
}

/// The card of the one-time link with `digest` if the link opens now: unused, not expired,
/// and its card neither blocked nor closed (a block or a close spends the links handed out
/// before it; this also stops one asked for while the card is blocked).
async fn openable_card(
    store: &Store,
    digest: &str,
    now: Millis,
) -> Result<Option<IssuedCard>, CardError> {
    let Some(link) = store
        .card_secret(digest)
        .await?
        .filter(|l| l.used_at.is_none() && l.expires_at > now)
    else {
        return Ok(None);
    };
    Ok(store
        .card_anywhere(&link.card_id)
        .await?
        .filter(|c| !matches!(c.status, CardStatus::Blocked | CardStatus::Closed)))
}

/// Whether a one-time link would still open (for the page that offers to open it).
pub async fn card_secret_usable(
    store: &Store,
    token: &str,
    now: Millis,
) -> Result<bool, CardError> {
    Ok(openable_card(store, &secret_digest(token), now)
        .await?
        .is_some())
}

/// Opens a one-time link: the card's data, once. A used, expired or unknown token, and a link
/// of a blocked or closed card, answer [`IssuingError::SecretGone`] alike.
pub async fn open_card_secret(
    store: &Store,
    keys: &InstanceKeys,
    token: &str,
    now: Millis,
) -> Result<(IssuedCard, CardData), CardError> {
    if token.len() > 64 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IssuingError::SecretGone.into());
    }
    let digest = secret_digest(token);
    let card = openable_card(store, &digest, now)
        .await?
        .ok_or(IssuingError::SecretGone)?;
    // Opened first: a link is spent only when its data can be shown.
    let data = open_card(keys, &card)?;
    store
        .apply(Plan::one(Write::UseCardSecret { digest, now }))
        .await
        .map_err(refused)?;
    Ok((card, data))
}

// ---------------------------------------------------------------------------------------------
// Cardholder validation

/// `external/cardholder_validate`: how well the named person matches the card's client (a gift
/// card: its holder).
pub async fn validate_cardholder(
    store: &Store,
    call: &Call<'_>,
    phone: &str,
    first_name: &str,
    last_name: &str,
    card_token: &str,
) -> Result<Score, CardError> {
    let card = store
        .card_by_token(&call.partner.id, card_token)
        .await?
        .ok_or(IssuingError::CardNotFound)?;
    let (hf, hl, hp) = match &card.client_id {
        Some(id) => {
            let c = store
                .card_client(&call.partner.id, id)
                .await?
                .ok_or(IssuingError::ClientNotFound)?;
            (c.details.first_name, c.details.last_name, c.details.phone)
        }
        None => {
            let name = card.holder_name.clone().unwrap_or_default();
            let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
            (
                first.to_string(),
                last.to_string(),
                card.holder_phone.clone().unwrap_or_default(),
            )
        }
    };
    let score = cardholder::score(
        &Person {
            first_name,
            last_name,
            phone,
        },
        &Person {
            first_name: &hf,
            last_name: &hl,
            phone: &hp,
        },
    );
    record_read(
        store,
        call,
        Produced {
            card_id: Some(card.id),
            ..Produced::default()
        },
    )
    .await?;
    Ok(score)
}

// ---------------------------------------------------------------------------------------------
// Card money

fn new_transaction(
    call: &Call<'_>,
    card: &IssuedCard,
    kind: TransactionKind,
    amount: Amount,
    status: TransactionStatus,
    description: &str,
) -> CardTransaction {
    CardTransaction {
        id: CardTransactionId::random(&mut rand::thread_rng()),
        partner_id: call.partner.id.clone(),
        card_id: card.id.clone(),
        kind,
        amount,
        currency: card.currency,
        status,
        captured: 0,
        released: 0,
        refunded: 0,
        parent_id: None,
        description: description.to_string(),
        merchant_name: None,
        external_id: None,
        created_at: call.now,
        updated_at: call.now,
    }
}

fn produced_transaction(t: &CardTransaction) -> Produced {
    Produced {
        card_id: Some(t.card_id.clone()),
        transaction_id: Some(t.id.clone()),
        ..Produced::default()
    }
}

/// What a partner asks to move on a card.
pub struct Movement<'a> {
    pub card_id: &'a str,
    pub amount: Amount,
    pub currency: Currency,
    pub description: &'a str,
    pub external_id: Option<String>,
    pub merchant_name: Option<String>,
}

async fn card_for_money(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    m: &Movement<'_>,
    what: CardUse,
) -> Result<CardView, CardError> {
    let card = card(store, keys, call.partner, m.card_id, call.now).await?;
    card.state().allows(what, call.now)?;
    if m.currency != card.card.currency {
        return Err(IssuingError::Invalid {
            field: "currency",
            kind: paylink_core::error::Rule::Refused {
                reason: format!("the card's currency is {}", card.card.currency),
            },
        }
        .into());
    }
    Ok(card)
}

/// `transaction/create`: a credit (from the partner's prepaid balance) or a debit, at once.
pub async fn create_transaction(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    kind: TransactionKind,
    m: Movement<'_>,
) -> Result<CardTransaction, CardError> {
    let what = match kind {
        TransactionKind::Credit => CardUse::Credit,
        TransactionKind::Debit => CardUse::Debit,
        _ => {
            return Err(IssuingError::Invalid {
                field: "type",
                kind: paylink_core::error::Rule::Unknown,
            }
            .into())
        }
    };
    let card = card_for_money(store, keys, call, &m, what).await?;
    let balance = balance_of(store, &card.card).await?;
    match kind {
        TransactionKind::Debit => balance.debit(m.amount)?,
        _ => balance.credit(m.amount)?,
    };
    let mut t = new_transaction(
        call,
        &card.card,
        kind,
        m.amount,
        TransactionStatus::Success,
        m.description,
    );
    t.external_id = m.external_id;
    t.merchant_name = m.merchant_name;
    let entry = match kind {
        TransactionKind::Credit => decide::credit_card(
            &call.partner.id,
            &card.card.id,
            card.card.currency,
            m.amount,
            t.id.as_str(),
            call.now,
        ),
        _ => decide::debit_card(
            &card.card.id,
            card.card.currency,
            m.amount,
            t.id.as_str(),
            call.now,
        ),
    };
    let writes = vec![
        Write::MoveCardMoney {
            card_id: card.card.id.clone(),
            spends: what == CardUse::Debit,
        },
        Write::InsertCardTransaction(t.clone()),
        Write::Post(entry),
    ];
    call.apply(store, produced_transaction(&t), writes)
        .await
        .map_err(|e| match (e, kind) {
            // A credit is refused by the partner's balance, not the card's.
            (CardError::Refused(IssuingError::InsufficientFunds), TransactionKind::Credit) => {
                CardError::Refused(IssuingError::PartnerFundsShort)
            }
            (e, _) => e,
        })?;
    Ok(t)
}

/// `sandbox/authorize`: a merchant's hold on the card.
pub async fn authorize(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    m: Movement<'_>,
) -> Result<CardTransaction, CardError> {
    let card = card_for_money(store, keys, call, &m, CardUse::Authorize).await?;
    balance_of(store, &card.card).await?.authorize(m.amount)?;
    let mut t = new_transaction(
        call,
        &card.card,
        TransactionKind::Authorization,
        m.amount,
        TransactionStatus::Process,
        m.description,
    );
    t.merchant_name = m.merchant_name;
    t.external_id = m.external_id;
    let entry = decide::authorize(
        &card.card.id,
        card.card.currency,
        m.amount,
        t.id.as_str(),
        call.now,
    );
    let writes = vec![
        Write::MoveCardMoney {
            card_id: card.card.id.clone(),
            spends: true,
        },
        Write::InsertCardTransaction(t.clone()),
        Write::Post(entry),
    ];
    call.apply(store, produced_transaction(&t), writes).await?;
    Ok(t)
}

pub async fn transaction(
    store: &Store,
    partner: &Partner,
    transaction_id: &str,
) -> Result<CardTransaction, CardError> {
    let id = CardTransactionId::parse(transaction_id).ok_or(IssuingError::TransactionNotFound)?;
    Ok(store
        .card_transaction(&partner.id, &id)
        .await?
        .ok_or(IssuingError::TransactionNotFound)?)
}

/// How an authorization is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Capture `amount` (all that is held when absent) and release the rest.
    Clear(Option<Amount>),
    /// Release `amount` (all that is held when absent).
    Reverse(Option<Amount>),
}

/// `transaction/clearing`, `sandbox/clearing`, `sandbox/reverse`.
pub async fn settle(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    transaction_id: &str,
    how: Settle,
) -> Result<CardTransaction, CardError> {
    let mut t = transaction(store, call.partner, transaction_id).await?;
    if t.kind != TransactionKind::Authorization || t.status != TransactionStatus::Process {
        return Err(IssuingError::AmountExceedsAuthorized.into());
    }
    let card = card(store, keys, call.partner, t.card_id.as_str(), call.now).await?;
    card.state().allows(CardUse::Settle, call.now)?;
    let settled_before = t.captured + t.released;
    let clearing = match how {
        Settle::Clear(amount) => issuing::clearing(t.amount, settled_before, amount)?,
        Settle::Reverse(None) => issuing::reversal(t.amount, settled_before)?,
        Settle::Reverse(Some(amount)) => {
            let held = t.amount.minor() - settled_before;
            if amount.minor() > held {
                return Err(IssuingError::AmountExceedsAuthorized.into());
            }
            paylink_core::issuing::Clearing {
                capture: 0,
                release: amount.minor(),
            }
        }
    };
    let settlement = random_base62(&mut rand::thread_rng(), 10);
    let entry = decide::settle(
        &card.card.id,
        t.currency,
        clearing,
        t.id.as_str(),
        &settlement,
        call.now,
    );
    let writes = vec![
        Write::MoveCardMoney {
            card_id: card.card.id.clone(),
            spends: false,
        },
        Write::SettleAuthorization {
            id: t.id.clone(),
            capture: clearing.capture,
            release: clearing.release,
            now: call.now,
        },
        Write::Post(entry),
    ];
    call.apply(store, produced_transaction(&t), writes).await?;
    t.captured += clearing.capture;
    t.released += clearing.release;
    if t.captured + t.released == t.amount.minor() {
        t.status = if t.captured > 0 {
            TransactionStatus::Success
        } else {
            TransactionStatus::Reversed
        };
    }
    t.updated_at = call.now;
    Ok(t)
}

/// `transaction/refund`: gives back (part of) a debit or a cleared authorization: onto the
/// card, or, once the card is closed, to the partner's prepaid balance (where the close sent
/// the card's money). Answers the refund, the original and where the money went. A refund
/// decided for the card that a close beat to the database is decided again for the partner.
pub async fn refund(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    transaction_id: &str,
    amount: Option<Amount>,
) -> Result<(CardTransaction, CardTransaction, RefundTo), CardError> {
    let mut closed_meanwhile = false;
    loop {
        let original = transaction(store, call.partner, transaction_id).await?;
        let refundable = original.refundable();
        let base = Amount::from_minor(original.refunded + refundable)
            .ok_or(IssuingError::AmountExceedsAuthorized)?;
        let give = issuing::refund(base, original.refunded, amount)?;
        let card = card(
            store,
            keys,
            call.partner,
            original.card_id.as_str(),
            call.now,
        )
        .await?;
        let to = card.state().refund_to();
        let description = match to {
            RefundTo::Card => format!("refund of {}", original.id),
            RefundTo::PrepaidBalance => format!(
                "refund of {} to the partner's prepaid balance (the card is closed)",
                original.id
            ),
        };
        let mut r = new_transaction(
            call,
            &card.card,
            TransactionKind::Refund,
            give,
            TransactionStatus::Success,
            &description,
        );
        r.parent_id = Some(original.id.clone());
        // The refund's caps hold in SQL either way: AddCardRefund keeps the refunds within what
        // the original took.
        let mut writes = Vec::with_capacity(4);
        let entry = match to {
            RefundTo::Card => {
                // Refused if the card is closed by the time this applies.
                writes.push(Write::MoveCardMoney {
                    card_id: card.card.id.clone(),
                    spends: false,
                });
                decide::refund(
                    &Owner::card(&card.card.id),
                    r.currency,
                    give,
                    r.id.as_str(),
                    call.now,
                )
            }
            // Closed is final: nothing can change where this goes.
            RefundTo::PrepaidBalance => decide::refund(
                &Owner::partner(&call.partner.id),
                r.currency,
                give,
                r.id.as_str(),
                call.now,
            ),
        };
        writes.extend([
            Write::AddCardRefund {
                id: original.id.clone(),
                amount: give.minor(),
                now: call.now,
            },
            Write::InsertCardTransaction(r.clone()),
            Write::Post(entry),
        ]);
        let plan = call.plan(RequestOutcome::Success, produced_transaction(&r), writes);
        match store.apply(plan).await {
            Ok(()) => return Ok((r, original, to)),
            // Closed is final, so this happens once: read again, it goes to the partner.
            Err(StoreError::GuardFailed(Guard::CardClosed)) if !closed_meanwhile => {
                closed_meanwhile = true;
            }
            Err(e) => return Err(refused(e)),
        }
    }
}

/// `transaction/info`.
pub async fn transaction_info(
    store: &Store,
    call: &Call<'_>,
    transaction_id: &str,
) -> Result<CardTransaction, CardError> {
    let t = transaction(store, call.partner, transaction_id).await?;
    record_read(store, call, produced_transaction(&t)).await?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// Gift cards

/// The gift products the partner may issue (in its currencies).
pub fn gift_products(partner: &Partner) -> Vec<GiftProduct> {
    sandbox_products()
        .into_iter()
        .filter(|p| partner.currencies.contains(&p.currency))
        .collect()
}

/// `products`.
pub async fn list_gift_products(
    store: &Store,
    call: &Call<'_>,
) -> Result<Vec<GiftProduct>, CardError> {
    record_read(store, call, Produced::default()).await?;
    Ok(gift_products(call.partner))
}

/// `issue` (gift): an inactive gift card holding the product's face value, drawn from the
/// partner's prepaid balance, and an OTP sent by SMS to `phone` (to `sms_url`; kept unsent
/// for `paylink sms list` when none is configured).
pub async fn issue_gift(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    holder_name: &str,
    phone: &str,
    product_code: &str,
    sms_url: Option<&str>,
) -> Result<IssuedCard, CardError> {
    let product = gift_products(call.partner)
        .into_iter()
        .find(|p| p.code == product_code)
        .ok_or(IssuingError::ProductNotAvailable)?;
    let mut issued = None;
    issue_with_retries(store, call, RequestOutcome::Success, || {
        let card = new_card(
            keys,
            call.partner,
            NewCard::Gift {
                code: product.code.clone(),
                name: holder_name.to_string(),
                phone: phone.to_string(),
            },
            product.currency,
            call.now,
        );
        let (code, otp) = issue_otp(
            &mut rand::thread_rng(),
            &keys.fingerprint,
            card.id.as_str(),
            call.now,
        );
        let face = new_transaction(
            call,
            &card,
            TransactionKind::Credit,
            product.face_value,
            TransactionStatus::Success,
            &format!("gift card {}", product.code),
        );
        let entry = decide::credit_card(
            &call.partner.id,
            &card.id,
            card.currency,
            product.face_value,
            face.id.as_str(),
            call.now,
        );
        let subject = format!("{}_{}", card.id, call.now);
        let text = format!(
            "Gift card {}: your activation code is {code}. It expires in 10 minutes.",
            card.card_mask
        );
        let text_sealed = keys.seal.seal(
            &mut rand::thread_rng(),
            &text,
            &crate::keys::message_context(&subject),
        );
        let sms = Notice::sms(
            call.partner.id.clone(),
            sms_url.unwrap_or(""),
            Sms {
                subject,
                phone: phone.to_string(),
                text_sealed,
                // A message with a dead code is not sent, nor retried.
                expires_at: Some(otp.expires_at),
            },
            call.now,
        );
        issued = Some(card.clone());
        let produced = Produced {
            card_id: Some(card.id.clone()),
            transaction_id: Some(face.id.clone()),
            ..Produced::default()
        };
        let card_id = card.id.clone();
        let writes = vec![
            Write::InsertCard(card),
            Write::InsertCardTransaction(face),
            Write::Post(entry),
            Write::SetCardOtp {
                card_id,
                otp,
                now: call.now,
            },
            Write::EnqueueNotice(sms),
        ];
        (produced, writes)
    })
    .await
    .map_err(|e| match e {
        // The face value comes from the partner's balance.
        CardError::Refused(IssuingError::InsufficientFunds) => {
            CardError::Refused(IssuingError::PartnerFundsShort)
        }
        e => e,
    })?;
    Ok(issued.expect("made at least once"))
}

/// `activate_card` (gift): the right OTP activates an inactive gift card. Every code given
/// spends one of the bounded tries, the right one too.
pub async fn activate_gift(
    store: &Store,
    keys: &InstanceKeys,
    call: &Call<'_>,
    card_id: &str,
    given: &str,
) -> Result<(CardView, CardBalance), CardError> {
    let mut card = card(store, keys, call.partner, card_id, call.now).await?;
    let otp = store.card_otp(&card.card.id).await?;
    let Some(otp) = otp else {
        // No code: used already, or never sent (not a gift card).
        card.state()
            .activate_gift(call.now, &expired_otp(), &keys.fingerprint, "", "")?;
        return Err(IssuingError::OtpExpired.into());
    };
    let verdict = card.state().activate_gift(
        call.now,
        &otp,
        &keys.fingerprint,
        card.card.id.as_str(),
        given,
    );
    if let Err(e) = &verdict {
        if *e != IssuingError::OtpInvalid {
            // The card or the code's state refuses whatever was typed: no try is spent.
            return Err(e.clone().into());
        }
    }
    // A repeated request is refused before it spends a try.
    if store
        .card_request(&call.partner.id, call.request_id)
        .await?
        .is_some()
    {
        return Err(IssuingError::DuplicateRequestId.into());
    }
    // Every code given spends one of the tries, reserved in SQL before the answer is given:
    // concurrent guesses cannot get more tries than the bound. (Spent even if recording the
    // refusal fails afterwards.)
    store
        .apply(Plan::one(Write::CountOtpAttempt {
            card_id: card.card.id.clone(),
            digest: otp.digest.clone(),
            max: OTP_MAX_ATTEMPTS,
        }))
        .await
        .map_err(refused)?;
    let to = verdict?;
    let writes = vec![
        Write::SpendOtp {
            card_id: card.card.id.clone(),
            digest: otp.digest.clone(),
        },
        Write::SetCardStatus {
            card_id: card.card.id.clone(),
            from: card.card.status,
            to,
            version: None,
            now: call.now,
        },
    ];
    let produced = Produced {
        card_id: Some(card.card.id.clone()),
        ..Produced::default()
    };
    call.apply(store, produced, writes).await?;
    card.card.status = to;
    card.status = to;
    let balance = balance_of(store, &card.card).await?;
    Ok((card, balance))
}

/// A code that checks nothing: used to ask a card without a code why it refuses.
fn expired_otp() -> paylink_core::issuing::StoredOtp {
    paylink_core::issuing::StoredOtp {
        digest: String::new(),
        expires_at: 0,
        attempts_used: 0,
    }
}

/// The newest text messages, newest first, their texts opened (`paylink sms list`).
pub async fn sms_messages(
    store: &Store,
    keys: &InstanceKeys,
    limit: i64,
) -> Result<Vec<paylink_store::SmsRecord>, CardError> {
    let mut list = store.sms_messages(limit).await?;
    for m in &mut list {
        let context = crate::keys::message_context(m.id.trim_start_matches("msg_sms_"));
        m.text = keys
            .seal
            .open(&m.text, &context)
            .map(|t| t.expose().clone())
            .ok_or_else(|| StoreError::Corrupt(format!("the text of {} does not open", m.id)))?;
    }
    Ok(list)
}
