//! Paying a bill: the one operation behind the sandbox API and the hosted payment page.
//! A payment's id is chosen before the charge, so a form submitted twice (or a 3-D Secure
//! answer replayed) finds the payment the first submit made instead of making another.
//! Card attempts are limited against card testing: declined card payments are counted per bill
//! and per client address in the database, so the limit holds across processes and costs no
//! memory.

use crate::acquirer::{ChargeRequest, ChargeStep, Unsure};
use crate::client::ClientAddr;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::bill::{Bill, BillType};
use paylink_core::card::CardNumber;
use paylink_core::decide;
use paylink_core::error::Rule;
use paylink_core::id::PaymentId;
use paylink_core::id::PayoutId;
use paylink_core::ledger::FxRate;
use paylink_core::merchant::Shop;
use paylink_core::money::{Amount, Rate};
use paylink_core::payment::{
    self, Booking, Charge, ChargeIntent, ChargeResult, Payment, PaymentMethod,
};
use paylink_core::permanent_link::{LinkFlow, PermanentLink};
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{Checkout, StoreError};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// A bill to pay, with its shop and whether its merchant is banned: what the payability rule
/// ([`payment::check_payable`]) reads. A permanent link's sale also carries the link: its
/// payments are recorded as operations too, and told by Procard callback.
#[derive(Debug, Clone, Copy)]
pub struct Sale<'a> {
    /// For a permanent link, the bill priced as the payer chose (see
    /// [`paylink_core::permanent_link::LinkTerms::price`]).
    pub bill: &'a Bill,
    pub shop: &'a Shop,
    pub merchant_banned: bool,
    pub link: Option<LinkSale<'a>>,
}

/// What a sale of a permanent link adds.
#[derive(Debug, Clone, Copy)]
pub struct LinkSale<'a> {
    pub link: &'a PermanentLink,
    /// How many times the payer buys the chosen amount.
    pub quantity: i64,
    pub callback_url: Option<&'a str>,
}

impl<'a> Sale<'a> {
    pub fn of(c: &'a Checkout) -> Sale<'a> {
        Sale {
            bill: &c.bill,
            shop: &c.shop,
            merchant_banned: c.merchant_banned,
            link: c.link.as_ref().map(|link| LinkSale {
                link,
                quantity: 1,
                callback_url: c.link_callback.as_deref(),
            }),
        }
    }

    /// What the payer pays for the bill: its amount, with the shop's commission (or the
    /// instance's default) when the payer bears it.
    pub fn quote(&self, st: &AppState) -> i64 {
        self.bill.quote(commission(st, self.shop))
    }

    /// Whether a payer may pay it now (by `method`, once chosen). A permanent link is paid
    /// only with its terms (its page, its sandbox call), never as a plain bill.
    pub fn check(&self, method: Option<PaymentMethod>, now: Millis) -> Result<(), DomainError> {
        if self.bill.bill_type == BillType::Permanent && self.link.is_none() {
            return Err(DomainError::BillNotFound);
        }
        payment::check_payable(self.bill, self.shop, self.merchant_banned, method, now)
    }
}

/// How long a payer has to answer a 3-D Secure challenge.
pub const CHALLENGE_TTL_MS: Millis = 15 * 60 * 1000;

/// How the payer pays.
#[derive(Debug, Clone)]
pub enum Tender {
    Card(CardNumber),
    /// The payer may change the amount in the bank app; `None` pays the quoted amount. `payer`:
    /// the payer's phone as their bank reports it, kept as a keyed fingerprint (payers find
    /// their SBP charges by it).
    Sbp {
        amount: Option<Amount>,
        payer: Option<paylink_core::payout::Phone>,
    },
}

impl Tender {
    pub fn method(&self) -> PaymentMethod {
        match self {
            Tender::Card(_) => PaymentMethod::BankCard,
            Tender::Sbp { .. } => PaymentMethod::Sbp,
        }
    }
}

/// Where a payment attempt stands.
#[derive(Debug)]
pub enum Step {
    Paid(Box<Payment>),
    /// The payer's browser must visit the issuer: POST `PaReq = request`, `MD = state` and a
    /// `TermUrl` to `acs_url`. `state` is sealed: the payer carries it but cannot read or
    /// change it, and it holds no card number.
    Challenge {
        acs_url: String,
        request: String,
        state: String,
    },
}

/// A charge waiting on its 3-D Secure answer, as sealed into `MD`.
struct Pending {
    payment_id: PaymentId,
    /// The bill's amount as the charge was priced (a permanent link's payer chose it).
    price: i64,
    /// The commission rate the charge was quoted at: a shop's rate changed during the
    /// challenge does not make what the payer was shown an underpayment.
    rate: Rate,
    paid: i64,
    from_card: String,
    fingerprint: String,
    request: String,
    expires_at: Millis,
}

impl Pending {
    fn context(bill: &Bill) -> String {
        format!("3ds:{}", bill.id)
    }

    fn seal(&self, st: &AppState, bill: &Bill) -> String {
        let text = form_urlencoded::Serializer::new(String::new())
            .append_pair("id", self.payment_id.as_str())
            .append_pair("price", &self.price.to_string())
            .append_pair("rate", &self.rate.bps().to_string())
            .append_pair("paid", &self.paid.to_string())
            .append_pair("card", &self.from_card)
            .append_pair("fp", &self.fingerprint)
            .append_pair("req", &self.request)
            .append_pair("exp", &self.expires_at.to_string())
            .finish();
        st.keys
            .seal
            .seal(&mut rand::thread_rng(), &text, &Pending::context(bill))
    }

    /// `shop`'s current rate stands for states sealed before rates were carried.
    fn open(st: &AppState, bill: &Bill, shop: &Shop, sealed: &str) -> Option<Pending> {
        let text = st.keys.seal.open(sealed, &Pending::context(bill))?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.expose().as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Some(Pending {
            payment_id: PaymentId::parse(&get("id")?)?,
            // States sealed before prices were carried priced the bill at its own amount.
            price: get("price").map_or(Some(bill.amount.minor()), |p| p.parse().ok())?,
            rate: match get("rate") {
                Some(bps) => Rate::from_bps(bps.parse().ok()?)?,
                None => commission(st, shop),
            },
            paid: get("paid")?.parse().ok()?,
            from_card: get("card")?,
            fingerprint: get("fp")?,
            request: get("req")?,
            expires_at: get("exp")?.parse().ok()?,
        })
    }
}

/// A sale's own copy, for a task that outlives the request.
struct OwnedSale {
    bill: Bill,
    shop: Shop,
    merchant_banned: bool,
    link: Option<(PermanentLink, i64, Option<String>)>,
}

impl OwnedSale {
    fn of(sale: Sale<'_>) -> OwnedSale {
        OwnedSale {
            bill: sale.bill.clone(),
            shop: sale.shop.clone(),
            merchant_banned: sale.merchant_banned,
            link: sale
                .link
                .map(|l| (l.link.clone(), l.quantity, l.callback_url.map(String::from))),
        }
    }

    fn sale(&self) -> Sale<'_> {
        Sale {
            bill: &self.bill,
            shop: &self.shop,
            merchant_banned: self.merchant_banned,
            link: self.link.as_ref().map(|(link, quantity, url)| LinkSale {
                link,
                quantity: *quantity,
                callback_url: url.as_deref(),
            }),
        }
    }
}

/// Runs a charge and its record on a task of their own: once the acquirer is asked, a request
/// that stops waiting (past its deadline, a payer gone) must not take the record of its answer
/// with it.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, OpError>> + Send + 'static,
) -> Result<T, OpError> {
    tokio::spawn(tracing::Instrument::in_current_span(work))
        .await
        .unwrap_or_else(|e| {
            Err(OpError::Store(StoreError::Database(format!(
                "a charge's task failed: {e}"
            ))))
        })
}

/// Charges `tender` for the sale's bill as payment `payment_id`, from `client`. A caller whose
/// id may already be taken (a one-time form token) looks for that payment first; should a twin
/// win the race meanwhile, its payment is returned instead of a second one.
pub async fn pay(
    st: &AppState,
    sale: Sale<'_>,
    payment_id: PaymentId,
    tender: Tender,
    client: &ClientAddr,
) -> Result<Step, OpError> {
    let (st, sale, client) = (st.clone(), OwnedSale::of(sale), client.clone());
    detached(async move { pay_now(&st, sale.sale(), payment_id, tender, &client).await }).await
}

async fn pay_now(
    st: &AppState,
    sale: Sale<'_>,
    payment_id: PaymentId,
    tender: Tender,
    client: &ClientAddr,
) -> Result<Step, OpError> {
    let Sale { bill, shop, .. } = sale;
    let method = tender.method();
    sale.check(Some(method), st.now())?;
    if method == PaymentMethod::BankCard {
        card_attempts_left(st, bill, client).await?;
    }
    // A conversion without a rate is refused before any money is taken, and the payment is
    // booked as decided now (a rate removed meanwhile does not refuse money taken).
    let booked = booking(st, bill, shop).await?;
    payable_on(st, &sale)?;
    // Quoted and recorded at one rate (a rate changed meanwhile does not move it).
    let rate = commission(st, shop);
    let (paid, card) = match &tender {
        Tender::Card(card) => (bill.quote(rate), Some(card)),
        Tender::Sbp { amount, .. } => {
            (amount.map_or_else(|| bill.quote(rate), Amount::minor), None)
        }
    };
    let from_card = card.map(CardNumber::masked).unwrap_or_default();
    let fingerprint = match &tender {
        Tender::Card(c) => Some(c.fingerprint(&st.keys.fingerprint)),
        Tender::Sbp { payer, .. } => payer.as_ref().map(|p| p.fingerprint(&st.keys.fingerprint)),
    };
    let terms = Terms {
        price: bill.amount.minor(),
        rate,
        paid,
        method,
        from_card: from_card.clone(),
        fingerprint: fingerprint.clone(),
        client: client.0.clone(),
        quantity: sale.link.map_or(1, |l| l.quantity),
        booking: booked,
    };
    begin(st, bill, &payment_id, &terms).await?;
    let step = asked(st.acquirer.charge(ChargeRequest {
        reference: payment_id.as_str(),
        method,
        amount: paid,
        currency: bill.currency,
        card,
    }))
    .await
    .map_err(|why| unanswered(&payment_id, why))?;
    match step {
        ChargeStep::Done(result) => terms
            .record(st, sale, payment_id, result)
            .await
            .map(|p| Step::Paid(Box::new(p))),
        ChargeStep::Challenge { acs_url, request } => {
            // No money is taken until the payer is back from the issuer: the bill is free
            // meanwhile, and held again (the charge begun again) for the completion.
            let mut plan = ended(bill, &payment_id);
            if let Some(l) = sale.link {
                // The payer is at the issuer: the link's operation waits for the answer.
                plan.writes.push(decide::permanent_link::waiting(
                    l.link,
                    payment_id.clone(),
                    paid,
                    l.quantity,
                    bill.currency,
                    from_card.clone(),
                    st.now(),
                ));
            }
            apply_through_outage(st, plan, CLAIM_PATIENCE).await?;
            let pending = Pending {
                payment_id,
                price: bill.amount.minor(),
                rate,
                paid,
                from_card,
                fingerprint: fingerprint.unwrap_or_default(),
                request: request.clone(),
                expires_at: st.now() + CHALLENGE_TTL_MS,
            };
            Ok(Step::Challenge {
                acs_url,
                request,
                state: pending.seal(st, bill),
            })
        }
    }
}

/// Finishes a challenged card payment with the issuer's `answer` (`PaRes`) and the sealed
/// `state` (`MD`). State that does not open, or has expired, is refused; so is a bill that
/// can no longer be paid (the attempt was counted against card testing when it began).
pub async fn complete(
    st: &AppState,
    sale: Sale<'_>,
    state: &str,
    answer: &str,
    client: &ClientAddr,
) -> Result<Payment, OpError> {
    let (st, sale, client) = (st.clone(), OwnedSale::of(sale), client.clone());
    let (state, answer) = (state.to_string(), answer.to_string());
    detached(async move { complete_now(&st, sale.sale(), &state, &answer, &client).await }).await
}

async fn complete_now(
    st: &AppState,
    sale: Sale<'_>,
    state: &str,
    answer: &str,
    client: &ClientAddr,
) -> Result<Payment, OpError> {
    let pending = Pending::open(st, sale.bill, sale.shop, state).ok_or(DomainError::Invalid {
        field: "MD",
        kind: Rule::NotValid,
    })?;
    if let Some(done) = st.store.payment(&pending.payment_id).await? {
        return Ok(done);
    }
    if st.now() > pending.expires_at {
        return Err(DomainError::Invalid {
            field: "MD",
            kind: Rule::Expired,
        }
        .into());
    }
    // The bill as it was priced when the charge began.
    let priced = Bill {
        amount: Amount::from_minor(pending.price).ok_or(DomainError::InvalidAmount)?,
        ..sale.bill.clone()
    };
    let mut sale = Sale {
        bill: &priced,
        ..sale
    };
    if let Some(l) = sale.link.as_mut() {
        if let Some(op) = st.store.operation(&pending.payment_id).await? {
            l.quantity = op.quantity;
        }
    }
    sale.check(Some(PaymentMethod::BankCard), st.now())?;
    payable_on(st, &sale)?;
    let booked = booking(st, sale.bill, sale.shop).await?;
    let terms = Terms {
        price: pending.price,
        rate: pending.rate,
        paid: pending.paid,
        method: PaymentMethod::BankCard,
        from_card: pending.from_card,
        fingerprint: (!pending.fingerprint.is_empty()).then_some(pending.fingerprint),
        client: client.0.clone(),
        quantity: sale.link.map_or(1, |l| l.quantity),
        booking: booked,
    };
    begin(st, sale.bill, &pending.payment_id, &terms).await?;
    let result: ChargeResult = asked(st.acquirer.complete(&pending.request, answer))
        .await
        .map_err(|why| unanswered(&pending.payment_id, why))?;
    terms.record(st, sale, pending.payment_id, result).await
}

/// A P2Pin link's money is paid on to its recipient card in the payment's own plan: a card
/// that cannot be read (a seal key retired) is refused before any money is taken, not after.
fn payable_on(st: &AppState, sale: &Sale<'_>) -> Result<(), OpError> {
    match &sale.link {
        Some(l) if l.link.flow == LinkFlow::P2pIn => {
            crate::ops::permanent_links::recipient(st, l.link).map(drop)
        }
        _ => Ok(()),
    }
}

/// How long a charge holds a NORMAL bill, and is its asker's before the money worker may ask
/// about it: longer than its request can take (its hold's write, the acquirer, its record), so
/// the worker never asks about a charge still being recorded (a holder that died lets it go
/// then).
const CHARGE_HOLD_MS: Millis = 180_000;

/// How long a charge's record is retried while the database is out of reach: longer than a
/// failover takes, within the bill's hold (so no other payer's charge is taken meanwhile).
const RECORD_PATIENCE: Duration = Duration::from_secs(90);

/// How long a bill's hold (or its release) is retried: no money is taken yet, so no longer
/// than a failover takes.
const CLAIM_PATIENCE: Duration = Duration::from_secs(30);

/// How long the acquirer has to answer: past it, its answer is [`Unsure`].
const ACQUIRER_TIMEOUT: Duration = Duration::from_secs(30);

const _: () = assert!(
    CLAIM_PATIENCE.as_millis()
        + ACQUIRER_TIMEOUT.as_millis()
        + RECORD_PATIENCE.as_millis()
        + 15_000
        <= CHARGE_HOLD_MS as u128
);

/// The acquirer's answer to `call`, or [`Unsure`] when none came within [`ACQUIRER_TIMEOUT`].
async fn asked<T>(call: impl Future<Output = Result<T, Unsure>>) -> Result<T, Unsure> {
    tokio::time::timeout(ACQUIRER_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(Unsure(format!("no answer in {ACQUIRER_TIMEOUT:?}"))))
}

/// Applies `plan`, retrying while the database is out of reach (or a commit's outcome is
/// unknown) for up to `patience`. Only for plans that a second apply cannot make twice: one
/// that already took effect is refused by its own guard or key.
async fn apply_through_outage(
    st: &AppState,
    plan: Plan,
    patience: Duration,
) -> Result<(), StoreError> {
    let deadline = Instant::now() + patience;
    let mut wait = Duration::from_millis(100);
    loop {
        match st.store.apply(plan.clone()).await {
            Err(e) if e.is_transient() && Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, "the database is out of reach: a payment's write is retried");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            done => return done,
        }
    }
}

/// Begins `payment_id`'s charge: kept with its `terms` until its answer is recorded (the
/// worker asks about one left over, [`recover`]), and, for a NORMAL bill, holding the bill so
/// that a second payer's charge is refused before any money is taken
/// ([`DomainError::BillBusy`]), instead of being taken and then refused by the double-payment
/// guard. Other bills take every payment and are not held.
async fn begin(
    st: &AppState,
    bill: &Bill,
    payment_id: &PaymentId,
    terms: &Terms,
) -> Result<(), OpError> {
    let now = st.now();
    let mut plan = Plan::default();
    if bill.bill_type == BillType::Normal {
        plan.writes.push(Write::ClaimBill {
            bill_id: bill.id.clone(),
            payment_id: payment_id.clone(),
            until: now + CHARGE_HOLD_MS,
            now,
        });
    }
    plan.writes.push(Write::BeginCharge(ChargeIntent {
        payment_id: payment_id.clone(),
        bill_id: bill.id.clone(),
        terms: terms.write(),
        process_at: now + CHARGE_HOLD_MS,
        created_at: now,
    }));
    // Both name the payment: made again after an unknown commit, they find their own rows.
    match apply_through_outage(st, plan, CLAIM_PATIENCE).await {
        Ok(()) => Ok(()),
        Err(StoreError::GuardFailed(_)) => {
            // Paid, switched off or expired meanwhile; else another payer's charge holds it.
            let current = st
                .store
                .bill(&bill.id)
                .await?
                .ok_or(DomainError::BillNotFound)?;
            current.check_open(now)?;
            Err(DomainError::BillBusy.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// What lets a charge go that took no money (a challenge, a refusal before any was taken) or
/// whose end is recorded otherwise: the bill's hold and the kept charge.
fn ended(bill: &Bill, payment_id: &PaymentId) -> Plan {
    let mut plan = Plan::one(Write::EndCharge {
        payment_id: payment_id.clone(),
    });
    if bill.bill_type == BillType::Normal {
        plan.writes.push(Write::ReleaseBill {
            bill_id: bill.id.clone(),
            payment_id: payment_id.clone(),
        });
    }
    plan
}

/// The acquirer's answer to a charge never came: the money may be taken. The charge is kept
/// (its bill held) and the worker asks about it once the hold runs out; the client is told
/// the request may have been carried out, as after a commit whose answer was lost.
fn unanswered(payment_id: &PaymentId, why: Unsure) -> OpError {
    tracing::warn!(payment = %payment_id, why = why.0, "the acquirer's answer to a charge did not arrive: the money worker asks again");
    OpError::Store(StoreError::CommitUnknown(format!(
        "the acquirer's answer to payment {payment_id} did not arrive"
    )))
}

/// What a charge's record needs besides its bill and the acquirer's answer, kept with the
/// charge while it is asked ([`ChargeIntent::terms`]).
struct Terms {
    /// The bill's amount as the charge was priced (a permanent link's payer chose it).
    price: i64,
    rate: Rate,
    paid: i64,
    method: PaymentMethod,
    from_card: String,
    fingerprint: Option<String>,
    client: Option<String>,
    /// A permanent link's quantity (1 for bills).
    quantity: i64,
    booking: Booking,
}

impl Terms {
    fn write(&self) -> String {
        let b = &self.booking;
        form_urlencoded::Serializer::new(String::new())
            .append_pair("price", &self.price.to_string())
            .append_pair("rate", &self.rate.bps().to_string())
            .append_pair("paid", &self.paid.to_string())
            .append_pair("method", self.method.as_str())
            .append_pair("card", &self.from_card)
            .append_pair("fp", self.fingerprint.as_deref().unwrap_or(""))
            .append_pair("client", self.client.as_deref().unwrap_or(""))
            .append_pair("quantity", &self.quantity.to_string())
            .append_pair("currency", b.balance_currency.code())
            .append_pair(
                "fx",
                &b.fx_rate.map_or(String::new(), |r| r.e8().to_string()),
            )
            .append_pair("settle_after", &b.settle_after.to_string())
            .finish()
    }

    fn read(text: &str) -> Option<Terms> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let some = |v: String| (!v.is_empty()).then_some(v);
        Some(Terms {
            price: get("price")?.parse().ok()?,
            rate: Rate::from_bps(get("rate")?.parse().ok()?)?,
            paid: get("paid")?.parse().ok()?,
            method: get("method")?.parse().ok()?,
            from_card: get("card")?,
            fingerprint: some(get("fp")?),
            client: some(get("client")?),
            quantity: get("quantity")?.parse().ok()?,
            booking: Booking {
                balance_currency: get("currency")?.parse().ok()?,
                fx_rate: match some(get("fx")?) {
                    Some(e8) => Some(FxRate::from_e8(e8.parse().ok()?)?),
                    None => None,
                },
                settle_after: get("settle_after")?.parse().ok()?,
            },
        })
    }

    /// Records the acquirer's `result` for `payment_id`.
    async fn record(
        self,
        st: &AppState,
        sale: Sale<'_>,
        payment_id: PaymentId,
        result: ChargeResult,
    ) -> Result<Payment, OpError> {
        let charge = Charge {
            method: self.method,
            paid: self.paid,
            from_card: self.from_card,
            card_fingerprint: self.fingerprint,
            result,
            client_addr: self.client,
        };
        record(st, sale, charge, payment_id, self.booking, self.rate).await
    }
}

/// How long the worker holds a charge it asks about (and its bill).
const RECOVERY_LEASE_MS: Millis = 60_000;

/// Asks the acquirer about charges whose answer was never recorded (its asker died, the answer
/// never came, the database was out of reach for longer than the record waits) and records
/// it, with its postback: money taken is never left unrecorded. Each is leased to one worker.
pub async fn recover(st: &AppState) -> Result<usize, StoreError> {
    let mut done = 0;
    for intent in st.store.due_charges(st.now(), 64).await? {
        // Each leased from when it is taken: the one before may have taken a while.
        let now = st.now();
        let claim = Plan::one(Write::ClaimCharge {
            payment_id: intent.payment_id.clone(),
            now,
            until: now + RECOVERY_LEASE_MS,
        });
        match st.store.apply(claim).await {
            Ok(()) => {}
            Err(StoreError::GuardFailed(_)) => continue,
            Err(e) => return Err(e),
        }
        match recover_one(st, &intent, now).await {
            Ok(()) => done += 1,
            Err(e) => {
                tracing::error!(payment = %intent.payment_id, error = %e, "a charge left unrecorded could not be recorded yet")
            }
        }
    }
    Ok(done)
}

async fn recover_one(st: &AppState, intent: &ChargeIntent, now: Millis) -> Result<(), OpError> {
    let end = || Plan {
        writes: vec![
            Write::EndCharge {
                payment_id: intent.payment_id.clone(),
            },
            Write::ReleaseBill {
                bill_id: intent.bill_id.clone(),
                payment_id: intent.payment_id.clone(),
            },
        ],
    };
    // Recorded after all (the record ends the charge in its own plan; this is a belt).
    if st.store.payment(&intent.payment_id).await?.is_some() {
        return Ok(st.store.apply(end()).await?);
    }
    let (Some(terms), Some(c)) = (
        Terms::read(&intent.terms),
        st.store.checkout(&intent.bill_id).await?,
    ) else {
        tracing::error!(payment = %intent.payment_id, bill = %intent.bill_id, "a charge left unrecorded names no bill, or terms that cannot be read: ask the acquirer by hand");
        return Ok(st.store.apply(end()).await?);
    };
    let priced = Bill {
        amount: Amount::from_minor(terms.price).ok_or(DomainError::InvalidAmount)?,
        ..c.bill.clone()
    };
    let mut sale = Sale::of(&c);
    sale.bill = &priced;
    if let Some(l) = sale.link.as_mut() {
        l.quantity = terms.quantity;
    }
    if priced.bill_type == BillType::Normal {
        // Held again for this charge, so no other payer's is taken while it is asked about; a
        // bill paid or held by another meanwhile is left as it is (the record then says so).
        let hold = Write::ClaimBill {
            bill_id: priced.id.clone(),
            payment_id: intent.payment_id.clone(),
            until: now + RECOVERY_LEASE_MS,
            now,
        };
        match st.store.apply(Plan::one(hold)).await {
            Ok(()) | Err(StoreError::GuardFailed(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let result = match asked(
        st.acquirer
            .status(intent.payment_id.as_str(), &terms.from_card),
    )
    .await
    {
        Ok(result) => result,
        Err(Unsure(why)) => {
            tracing::warn!(payment = %intent.payment_id, why, "the acquirer's answer about a charge did not arrive: asked again in a minute");
            return Ok(());
        }
    };
    terms
        .record(st, sale, intent.payment_id.clone(), result)
        .await
        .map(drop)
}

/// Refuses a card attempt once the bill, or the client's address, has had as many declined
/// card payments within the window as the limits allow. A bill many payers pay (MULTI, a
/// permanent link) counts only the client's own declines on it: a stranger's five wrong cards
/// must not shut it for every other payer. Attempts racing each other may each pass the count
/// before any is declined: the limit bounds card testing, it is not a ledger.
async fn card_attempts_left(
    st: &AppState,
    bill: &Bill,
    client: &ClientAddr,
) -> Result<(), OpError> {
    let limits = st.settings.checkout.card_attempts;
    if limits.is_off() {
        return Ok(());
    }
    let since = st.now().saturating_sub(limits.window);
    let cap = limits.per_bill.max(limits.per_client);
    let (by_bill, by_client) = st
        .store
        .failed_card_payments(
            &bill.id,
            client.0.as_deref(),
            bill.bill_type != BillType::Normal,
            since,
            cap,
        )
        .await?;
    Ok(limits.check(by_bill, by_client)?)
}

/// Where a payment of `bill` is booked: the shop's balance currency at the operator's rate.
pub async fn booking(st: &AppState, bill: &Bill, shop: &Shop) -> Result<Booking, OpError> {
    let balance_currency = shop.balance_currency.unwrap_or(bill.currency);
    let fx_rate = if bill.currency == balance_currency {
        None
    } else {
        st.store.fx_rate(bill.currency, balance_currency).await?
    };
    let booking = Booking {
        balance_currency,
        fx_rate,
        settle_after: st.money_rules().settle_after_ms,
    };
    booking.check(bill.currency)?;
    Ok(booking)
}

/// The shop's commission, or the instance's default.
fn commission(st: &AppState, shop: &Shop) -> Rate {
    shop.commission.unwrap_or(st.settings.default_commission)
}

/// Records an answered charge (and its postback; a link's operation and callback) in one plan
/// that ends the kept charge, booked as `booking` decided before the charge, through a
/// database outage. A record that still fails (an outage longer than [`RECORD_PATIENCE`])
/// leaves the charge kept, for the worker to record ([`recover`]). Money taken that cannot be
/// recorded at all (the bill paid by another payer once this charge's hold lapsed) is logged
/// as an error with what the acquirer must give back.
async fn record(
    st: &AppState,
    sale: Sale<'_>,
    charge: Charge,
    payment_id: PaymentId,
    mut booking: Booking,
    rate: Rate,
) -> Result<Payment, OpError> {
    let Sale { bill, shop, .. } = sale;
    let approved = matches!(charge.result, ChargeResult::Approved);
    let paid = charge.paid;
    let now = st.now();
    let unrecorded = |why: &dyn std::fmt::Display| {
        if approved {
            tracing::error!(
                payment = %payment_id,
                bill = %bill.id,
                amount = paid,
                currency = %bill.currency,
                error = %why,
                "an approved charge could not be recorded: the acquirer must give it back"
            );
        }
    };
    let release = || async {
        let plan = ended(bill, &payment_id);
        if let Err(e) = apply_through_outage(st, plan, CLAIM_PATIENCE).await {
            tracing::warn!(error = %e, bill = %bill.id, "a bill's hold is left to lapse");
        }
    };
    // A P2Pin link's money is paid on to its recipient card in the same plan: booked straight
    // to available (no settlement), where the payout's lock takes it.
    let recipient = match sale.link {
        Some(l) if l.link.flow == LinkFlow::P2pIn => {
            booking.settle_after = 0;
            Some((
                PayoutId::random(&mut rand::thread_rng()),
                crate::ops::permanent_links::recipient(st, l.link)?,
            ))
        }
        _ => None,
    };
    let p2p = recipient.is_some();
    let (payment, mut plan) = match decide::payment::settle(
        bill,
        rate,
        charge,
        payment_id.clone(),
        shop.result_url.as_deref(),
        booking,
        now,
    ) {
        Ok(decided) => decided,
        Err(e) => {
            unrecorded(&e);
            release().await;
            return Err(e.into());
        }
    };
    if let Some(l) = sale.link {
        plan.writes.extend(decide::permanent_link::finished(
            l.link,
            &payment,
            l.quantity,
            l.callback_url,
            recipient,
            now,
        ));
    }
    plan.writes.push(Write::EndCharge {
        payment_id: payment_id.clone(),
    });
    // Money is taken: its record waits out a database outage (a failover) rather than leave
    // a charge unrecorded. Made again after an unknown commit, the plan is refused by the
    // payment's own row, and that payment is returned.
    match apply_through_outage(st, plan, RECORD_PATIENCE).await {
        Ok(()) => {
            if p2p {
                st.payouts_due.notify_one();
            }
            Ok(payment)
        }
        Err(StoreError::GuardFailed(_)) | Err(StoreError::Conflict(_)) => {
            // A twin submit (or the worker) recorded this very payment; else another payer's
            // payment finished the NORMAL bill once this charge's hold had lapsed.
            if let Some(done) = st.store.payment(&payment.id).await? {
                if approved && !done.status.brings_money() {
                    unrecorded(&format!(
                        "the payment was recorded {} meanwhile",
                        done.status.as_str()
                    ));
                }
                // A twin's own kept charge and hold, begun again after the record.
                release().await;
                return Ok(done);
            }
            unrecorded(&"another payment finished the bill");
            release().await;
            Err(DomainError::BillIsFinished.into())
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(payment = %payment_id, error = %e, "a charge's record failed: the money worker records it");
            Err(e.into())
        }
        Err(e) => {
            tracing::error!(payment = %payment_id, error = %e, "a charge's record failed: the money worker tries again");
            Err(e.into())
        }
    }
}
