//! Paying a bill: the one operation behind the sandbox API and the hosted payment page.
//! A payment's id is chosen before the charge, so a form submitted twice (or a 3-D Secure
//! answer replayed) finds the payment the first submit made instead of making another.
//! Card attempts are limited against card testing: declined card payments are counted per bill
//! and per client address in the database, so the limit holds across processes and costs no
//! memory.

use crate::acquirer::{ChargeRequest, ChargeStep};
use crate::client::ClientAddr;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::bill::{Bill, BillType};
use paylink_core::card::CardNumber;
use paylink_core::decide;
use paylink_core::error::Rule;
use paylink_core::id::PaymentId;
use paylink_core::id::PayoutId;
use paylink_core::merchant::Shop;
use paylink_core::money::{Amount, Rate};
use paylink_core::payment::{self, Booking, Charge, ChargeResult, Payment, PaymentMethod};
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
    hold(st, bill, &payment_id).await?;
    let step = st
        .acquirer
        .charge(ChargeRequest {
            reference: payment_id.as_str(),
            method,
            amount: paid,
            currency: bill.currency,
            card,
        })
        .await;
    let from_card = card.map(CardNumber::masked).unwrap_or_default();
    let fingerprint = match &tender {
        Tender::Card(c) => Some(c.fingerprint(&st.keys.fingerprint)),
        Tender::Sbp { payer, .. } => payer.as_ref().map(|p| p.fingerprint(&st.keys.fingerprint)),
    };
    match step {
        ChargeStep::Done(result) => {
            let charge = Charge {
                method,
                paid,
                from_card,
                card_fingerprint: fingerprint,
                result,
                client_addr: client.0.clone(),
            };
            record(st, sale, charge, payment_id, booked, rate)
                .await
                .map(|p| Step::Paid(Box::new(p)))
        }
        ChargeStep::Challenge { acs_url, request } => {
            // No money is taken until the payer is back from the issuer: the bill is free
            // meanwhile, and held again for the completion.
            let release = Write::ReleaseBill {
                bill_id: bill.id.clone(),
                payment_id: payment_id.clone(),
            };
            if bill.bill_type == BillType::Normal {
                st.store.apply(Plan::one(release)).await?;
            }
            if let Some(l) = sale.link {
                // The payer is at the issuer: the link's operation waits for the answer.
                let waiting = decide::permanent_link::waiting(
                    l.link,
                    payment_id.clone(),
                    paid,
                    l.quantity,
                    bill.currency,
                    from_card.clone(),
                    st.now(),
                );
                st.store.apply(Plan::one(waiting)).await?;
            }
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
    hold(st, sale.bill, &pending.payment_id).await?;
    let result: ChargeResult = st.acquirer.complete(&pending.request, answer).await;
    let charge = Charge {
        method: PaymentMethod::BankCard,
        paid: pending.paid,
        from_card: pending.from_card,
        card_fingerprint: (!pending.fingerprint.is_empty()).then_some(pending.fingerprint),
        result,
        client_addr: client.0.clone(),
    };
    record(st, sale, charge, pending.payment_id, booked, pending.rate).await
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

/// How long a charge holds a NORMAL bill: longer than an acquirer takes to answer (a holder
/// that died lets it go then).
const CHARGE_HOLD_MS: Millis = 120_000;

/// How long a charge's record is retried while the database is out of reach: longer than a
/// failover takes, within the bill's hold (so no other payer's charge is taken meanwhile).
const RECORD_PATIENCE: Duration = Duration::from_secs(90);

/// How long a bill's hold (or its release) is retried: no money is taken yet, so no longer
/// than a failover takes.
const CLAIM_PATIENCE: Duration = Duration::from_secs(30);

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

/// Holds a NORMAL bill for `payment_id`'s charge, so that a second payer's charge is refused
/// before any money is taken ([`DomainError::BillBusy`]), instead of being taken and then
/// refused by the double-payment guard. The payment's record lets it go. Other bills take
/// every payment and are not held.
async fn hold(st: &AppState, bill: &Bill, payment_id: &PaymentId) -> Result<(), OpError> {
    if bill.bill_type != BillType::Normal {
        return Ok(());
    }
    let now = st.now();
    let claim = Write::ClaimBill {
        bill_id: bill.id.clone(),
        payment_id: payment_id.clone(),
        until: now + CHARGE_HOLD_MS,
        now,
    };
    // The claim names its payment: made again after an unknown commit, it finds its own hold.
    match apply_through_outage(st, Plan::one(claim), CLAIM_PATIENCE).await {
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

/// Records an answered charge (and its postback; a link's operation and callback) in one plan,
/// booked as `booking` decided before the charge, through a database outage. Money taken that
/// cannot be recorded (the bill paid by another payer once this charge's hold lapsed, an
/// outage longer than [`RECORD_PATIENCE`]) is logged as an error with what
/// the acquirer must give back; a NORMAL bill's hold is let go whatever the outcome.
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
        if bill.bill_type == BillType::Normal {
            let write = Write::ReleaseBill {
                bill_id: bill.id.clone(),
                payment_id: payment_id.clone(),
            };
            if let Err(e) = apply_through_outage(st, Plan::one(write), CLAIM_PATIENCE).await {
                tracing::warn!(error = %e, bill = %bill.id, "a bill's hold is left to lapse");
            }
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
            // A twin submit recorded this very payment; else another payer's payment finished
            // the NORMAL bill once this charge's hold had lapsed.
            if let Some(done) = st.store.payment(&payment.id).await? {
                return Ok(done);
            }
            unrecorded(&"another payment finished the bill");
            Err(DomainError::BillIsFinished.into())
        }
        Err(e) => {
            unrecorded(&e);
            release().await;
            Err(e.into())
        }
    }
}
