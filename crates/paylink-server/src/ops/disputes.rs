//! The payers' side of the web app: finding a charge by what is on their card statement, and
//! disputing it ("didn't buy anything?"); the merchant's answers. Every answer is emailed to
//! the payer through the outbox.

use crate::keys::InstanceKeys;
use crate::ops::accounts::Mailer;
use crate::ops::idempotency::Seal;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::audit::{Actor, Power};
use paylink_core::dispute::{
    check_text, Author, Dispute, DisputeDecision, DisputeMessage, DisputeStatus,
};
use paylink_core::error::Rule;
use paylink_core::id::{DisputeId, MerchantId, PaymentId, RefundId};
use paylink_core::money::{format_fixed, Amount};
use paylink_core::plan::{Plan, Write};
use paylink_core::refund::{Refund, RefundStatus};
use paylink_core::time::{format_datetime, parse_filter_date, DayEdge, Millis};
use paylink_core::DomainError;
use paylink_store::{FoundCharge, Store, StoreError};

/// Searches allowed per client address in [`SEARCH_WINDOW_MS`]: enough for a person, too few
/// to walk card numbers.
pub const SEARCHES_PER_ADDRESS: i64 = 10;
pub const SEARCH_WINDOW_MS: Millis = 15 * 60 * 1000;

const HOUR_MS: Millis = 60 * 60 * 1000;

/// What a payer types to find a charge: the card's first 6 and last 4 digits, or (an SBP
/// payment) the phone their bank knows.
pub struct ChargeQuery<'a> {
    pub first6: &'a str,
    pub last4: &'a str,
    pub phone: &'a str,
    /// `YYYY-MM-DD` (UTC).
    pub date: &'a str,
    /// Major units (`1500`, `1500.00`).
    pub amount: &'a str,
}

fn invalid(field: &'static str, kind: Rule) -> OpError {
    DomainError::Invalid { field, kind }.into()
}

fn digits(field: &'static str, text: &str, n: usize) -> Result<(), OpError> {
    if text.len() == n && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(field, Rule::NotValid))
    }
}

/// The charges that match every field exactly (none otherwise). Each search counts against the
/// client address, valid or not: [`DomainError::TooManyFailedAttempts`] past the limit.
pub async fn find_charges(
    store: &Store,
    fingerprint_key: &[u8],
    q: &ChargeQuery<'_>,
    address: &str,
    now: Millis,
) -> Result<Vec<FoundCharge>, OpError> {
    crate::ops::accounts::take_attempt(
        store,
        &[(format!("find:addr:{address}"), SEARCHES_PER_ADDRESS)],
        SEARCH_WINDOW_MS,
        now,
    )
    .await?;
    let day = q.date.trim();
    let (from, to) = match (
        (day.len() == 10)
            .then(|| parse_filter_date(day, DayEdge::Start))
            .flatten(),
        parse_filter_date(day, DayEdge::End),
    ) {
        // The statement's day wherever the payer is (UTC−12 to UTC+14); the card and the exact
        // amount narrow it enough.
        (Some(from), Some(to)) => (from - 14 * HOUR_MS, to + 12 * HOUR_MS),
        _ => return Err(invalid("date", Rule::NotValid)),
    };
    let amount = Amount::parse_written(q.amount)
        .map(|a| a.minor())
        .filter(|a| *a > 0)
        .ok_or_else(|| invalid("amount", Rule::NotValid))?;
    if !q.phone.trim().is_empty() {
        let phone = paylink_core::payout::Phone::parse(q.phone.trim())
            .ok_or_else(|| invalid("phone", Rule::NotValid))?;
        let fingerprint = phone.fingerprint(fingerprint_key);
        return Ok(store
            .find_sbp_charges(&fingerprint, amount, from, to)
            .await?);
    }
    digits("first6", q.first6, 6)?;
    digits("last4", q.last4, 4)?;
    let mask = format!("{}******{}", q.first6, q.last4);
    Ok(store.find_charges(&mask, amount, from, to).await?)
}

/// A dispute a payer opens: about a charge they found (by its payment id, with the search's
/// proof that they found it) or none.
pub struct NewDispute<'a> {
    pub payment_id: Option<&'a str>,
    pub proof: &'a str,
    pub email: &'a str,
    pub text: &'a str,
}

/// What a search result's dispute link carries besides the payment id: a keyed digest of it,
/// so that only a payer who found the charge by its card, day and amount can name it (a
/// payment id alone, seen in a URL or a postback, shows and disputes nothing).
pub fn charge_proof(keys: &InstanceKeys, payment_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&keys.forms).expect("HMAC takes any key");
    mac.update(b"charge-found\0");
    mac.update(payment_id.as_bytes());
    paylink_core::token::hex(&mac.finalize().into_bytes()[..16])
}

/// Whether `proof` is the search's for `payment_id` (in constant time).
pub fn proof_ok(keys: &InstanceKeys, payment_id: &str, proof: &str) -> bool {
    use subtle::ConstantTimeEq;
    !proof.is_empty()
        && bool::from(
            charge_proof(keys, payment_id)
                .as_bytes()
                .ct_eq(proof.as_bytes()),
        )
}

/// Disputes a client address may open within [`SEARCH_WINDOW_MS`] (each sends an email).
pub const DISPUTES_PER_ADDRESS: i64 = 5;

/// Opens a dispute; the payer is emailed its reference and when to expect an answer, and the
/// charge's merchant (its owner's account, once it has one) that a dispute waits for their
/// answer, with its deadline and page.
pub async fn open(
    store: &Store,
    keys: &InstanceKeys,
    mailer: &Mailer<'_>,
    d: NewDispute<'_>,
    address: &str,
    now: Millis,
) -> Result<Dispute, OpError> {
    let email = paylink_core::account::normalize_email(d.email)?;
    let text = check_text(d.text)?;
    crate::ops::accounts::take_attempt(
        store,
        &[(format!("dispute:addr:{address}"), DISPUTES_PER_ADDRESS)],
        SEARCH_WINDOW_MS,
        now,
    )
    .await?;
    let payment = match d.payment_id.filter(|p| !p.is_empty()) {
        Some(id) if !proof_ok(keys, id, d.proof) => return Err(DomainError::PaymentNotFound.into()),
        Some(id) => {
            let id = PaymentId::parse(id).ok_or(DomainError::PaymentNotFound)?;
            Some(
                store
                    .payment(&id)
                    .await?
                    .ok_or(DomainError::PaymentNotFound)?,
            )
        }
        None => None,
    };
    let dispute = Dispute {
        id: DisputeId::random(&mut rand::thread_rng()),
        merchant_id: payment.as_ref().map(|p| p.merchant_id.clone()),
        payment_id: payment.as_ref().map(|p| p.id.clone()),
        email: email.clone(),
        status: DisputeStatus::Open,
        decision: None,
        created_at: now,
        updated_at: now,
    };
    let about = payment
        .as_ref()
        .map(|p| {
            format!(
                " about the charge of {} {} on {}",
                format_fixed(p.amount),
                p.currency,
                format_datetime(p.created_at)
            )
        })
        .unwrap_or_default();
    let mail = mailer.notice(
        &email,
        &format!("Your request {}", dispute.id),
        format!(
            "We received your request{about}. Its reference is {}.\n\n\
             We will answer you within 48 hours, by email to this address.",
            dispute.id
        ),
        now,
    );
    let owner = match &dispute.merchant_id {
        Some(m) => store
            .merchant_account(m)
            .await?
            .filter(|a| a.disabled_at.is_none()),
        None => None,
    };
    let to_merchant = owner.map(|a| {
        mailer.notice(
            &a.email,
            &format!("A payer disputes a charge: {}", dispute.id),
            format!(
                "A payer disputes the charge of {about_charge}. Answer by {} UTC:\n{}/disputes/{}",
                format_datetime(dispute.answer_due()),
                mailer.public_url.trim_end_matches('/'),
                dispute.id,
                about_charge = about.trim_start_matches(" about the charge of "),
            ),
            now,
        )
    });
    store
        .apply(Plan {
            writes: [
                Write::InsertDispute(dispute.clone()),
                Write::AddDisputeMessage {
                    message: DisputeMessage {
                        dispute_id: dispute.id.clone(),
                        author: Author::Payer,
                        text,
                        created_at: now,
                    },
                    from: DisputeStatus::Open,
                    to: DisputeStatus::Open,
                },
                mail,
            ]
            .into_iter()
            .chain(to_merchant)
            .collect(),
        })
        .await?;
    Ok(dispute)
}

/// The merchant's dispute `id` with its messages; another merchant's reads as missing.
pub async fn merchant_dispute(
    store: &Store,
    merchant: &MerchantId,
    id: &str,
) -> Result<(Dispute, Vec<DisputeMessage>), OpError> {
    let id = DisputeId::parse(id).ok_or(DomainError::DisputeNotFound)?;
    let d = store
        .merchant_dispute(merchant, &id)
        .await?
        .ok_or(DomainError::DisputeNotFound)?;
    let messages = store.dispute_messages(&d.id).await?;
    Ok((d, messages))
}

/// The merchant's disputes, newest first (a page).
pub async fn merchant_disputes(
    store: &Store,
    merchant: &MerchantId,
    page: i64,
    per_page: i64,
) -> Result<Vec<Dispute>, OpError> {
    let offset = (page.max(1) - 1).saturating_mul(per_page);
    Ok(store.disputes_of(merchant, per_page, offset).await?)
}

/// Closes a dispute with an operator's last message (emailed to the payer); closed is final.
pub async fn close(
    store: &Store,
    mailer: &Mailer<'_>,
    actor: &Actor,
    dispute: &Dispute,
    text: &str,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Support)?;
    let text = check_text(text)?;
    dispute.reply(Author::Operator)?;
    let mail = mailer.notice(
        &dispute.email,
        &format!("Your request {} is closed", dispute.id),
        format!("{text}\n\n(Reference {}.)", dispute.id),
        now,
    );
    store
        .apply(Plan {
            writes: vec![
                Write::AddDisputeMessage {
                    message: DisputeMessage {
                        dispute_id: dispute.id.clone(),
                        author: Author::Operator,
                        text,
                        created_at: now,
                    },
                    from: dispute.status,
                    to: DisputeStatus::Closed,
                },
                mail,
                Write::Audit(actor.record(
                    "dispute.close",
                    dispute.id.as_str(),
                    dispute.status.as_str(),
                    DisputeStatus::Closed.as_str(),
                    now,
                )),
            ],
        })
        .await
        .map_err(OpError::of_store)?;
    Ok(())
}

/// A reply to a dispute by its merchant (`operator` `None`) or an operator (audited); emailed
/// to the payer.
pub async fn reply(
    store: &Store,
    mailer: &Mailer<'_>,
    dispute: &Dispute,
    operator: Option<&Actor>,
    text: &str,
    now: Millis,
) -> Result<DisputeStatus, OpError> {
    let author = match operator {
        Some(a) => {
            a.require(Power::Support)?;
            Author::Operator
        }
        None => Author::Merchant,
    };
    let text = check_text(text)?;
    let to = dispute.reply(author)?;
    let mail = mailer.notice(
        &dispute.email,
        &format!("Answer to your request {}", dispute.id),
        format!("{text}\n\n(Reference {}.)", dispute.id),
        now,
    );
    store
        .apply(Plan {
            writes: vec![
                Write::AddDisputeMessage {
                    message: DisputeMessage {
                        dispute_id: dispute.id.clone(),
                        author,
                        text,
                        created_at: now,
                    },
                    from: dispute.status,
                    to,
                },
                mail,
            ]
            .into_iter()
            .chain(operator.map(|a| {
                Write::Audit(a.record(
                    "dispute.reply",
                    dispute.id.as_str(),
                    dispute.status.as_str(),
                    to.as_str(),
                    now,
                ))
            }))
            .collect(),
        })
        .await
        .map_err(OpError::of_store)?;
    Ok(to)
}

/// An operator's decision on a dispute, told to the payer in `text`; it closes the dispute,
/// and is taken once (of two operators deciding at once, one wins). Refunds move money:
/// admins only; support may reject or point the payer to a chargeback.
///
/// A refund returns what is left of the charge from the merchant's balance. The decision (with
/// the refund it made), the closing message and the audit line go into the plan that takes the
/// refund's money, so of two operators only one refunds; the payer's email goes with the
/// acquirer's answer. Should the acquirer refuse the refund, the same plan that gives the money
/// back opens the dispute again without a decision (audited as `dispute.refund_failed`) and the
/// operator is told ([`DomainError::TransactionRejected`]). A refund whose asker died before
/// the answer is asked again by the money worker, which tells the payer (or opens the dispute
/// again) in the same way: the answer is the dispute's once, whoever records it.
pub async fn decide(
    st: &AppState,
    mailer: &Mailer<'_>,
    actor: &Actor,
    dispute: &Dispute,
    decision: DisputeDecision,
    text: &str,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(match decision {
        DisputeDecision::Refund => Power::Admin,
        DisputeDecision::Reject | DisputeDecision::Chargeback => Power::Support,
    })?;
    let text = check_text(text)?;
    dispute.reply(Author::Operator)?;
    let mail = decision_mail(mailer, dispute, &text, now);
    let closed = vec![
        Write::AddDisputeMessage {
            message: DisputeMessage {
                dispute_id: dispute.id.clone(),
                author: Author::Operator,
                text,
                created_at: now,
            },
            from: dispute.status,
            to: DisputeStatus::Closed,
        },
        Write::Audit(actor.record(
            "dispute.decide",
            dispute.id.as_str(),
            dispute.status.as_str(),
            format!("closed: {}", decision.as_str()),
            now,
        )),
    ];
    match decision {
        DisputeDecision::Refund => {
            let payment_id = dispute
                .payment_id
                .as_ref()
                .ok_or(DomainError::PaymentNotFound)?;
            let payment = st
                .store
                .payment(payment_id)
                .await?
                .ok_or(DomainError::PaymentNotFound)?;
            let seal = WithRefund {
                dispute: dispute.id.clone(),
                closed,
                mail,
                actor: actor.clone(),
                now,
            };
            let refund = crate::ops::refunds::create(st, &payment, None, &seal).await?;
            if refund.status == RefundStatus::Fail {
                return Err(DomainError::TransactionRejected.into());
            }
        }
        DisputeDecision::Reject | DisputeDecision::Chargeback => {
            let mut writes = vec![Write::DecideDispute {
                dispute_id: dispute.id.clone(),
                decision,
                refund_id: None,
                now,
            }];
            writes.extend(closed);
            writes.push(mail);
            st.store
                .apply(Plan { writes })
                .await
                .map_err(OpError::of_store)?;
        }
    }
    Ok(())
}

fn decision_mail(mailer: &Mailer<'_>, dispute: &Dispute, text: &str, now: Millis) -> Write {
    mailer.notice(
        &dispute.email,
        &format!("Decision on your request {}", dispute.id),
        format!("{text}\n\n(Reference {}.)", dispute.id),
        now,
    )
}

/// Puts a dispute's refund decision into the refund's plans: the decision with the plan that
/// takes the money, and with the acquirer's answer the payer's email or the dispute opened
/// again, taken once ([`Write::AnswerDisputeRefund`]).
struct WithRefund {
    dispute: DisputeId,
    /// The closing message and the decision's audit line.
    closed: Vec<Write>,
    mail: Write,
    /// Who a refused refund's reopening is recorded for.
    actor: Actor,
    /// When the decision was taken.
    now: Millis,
}

impl Seal<Refund> for WithRefund {
    fn answer(&self, _: &Refund) -> Vec<Write> {
        Vec::new()
    }
    fn bind(&self, reference: &str) -> Vec<Write> {
        let mut writes = vec![Write::DecideDispute {
            dispute_id: self.dispute.clone(),
            decision: DisputeDecision::Refund,
            refund_id: Some(RefundId::from_trusted(reference.to_string())),
            now: self.now,
        }];
        writes.extend(self.closed.iter().cloned());
        writes
    }
    fn answer_later(&self, refund: &Refund) -> Vec<Write> {
        let answered = |refused| Write::AnswerDisputeRefund {
            dispute_id: self.dispute.clone(),
            refund_id: refund.id.clone(),
            refused,
            now: refund.updated_at,
        };
        match refund.status {
            RefundStatus::Success => vec![answered(false), self.mail.clone()],
            RefundStatus::Fail => vec![
                answered(true),
                Write::Audit(self.actor.record(
                    "dispute.refund_failed",
                    self.dispute.as_str(),
                    "closed: refund",
                    "answered: the acquirer refused the refund",
                    refund.updated_at,
                )),
            ],
            RefundStatus::Process => Vec::new(),
        }
    }
}

/// What the money worker records with the answer to a refund it asked again: for a refund a
/// dispute's decision made, the payer's email (the decision's text) or the dispute opened
/// again; for any other, nothing.
pub(crate) async fn refund_seal(
    st: &AppState,
    refund: &Refund,
) -> Result<Option<Box<dyn Seal<Refund>>>, StoreError> {
    let Some(dispute) = st.store.dispute_awaiting(&refund.id).await? else {
        return Ok(None);
    };
    let text = st
        .store
        .dispute_messages(&dispute.id)
        .await?
        .into_iter()
        .rev()
        .find(|m| m.author == Author::Operator)
        .map(|m| m.text)
        .unwrap_or_default();
    let now = st.now();
    Ok(Some(Box::new(WithRefund {
        mail: decision_mail(&Mailer::of(st), &dispute, &text, now),
        dispute: dispute.id,
        closed: Vec::new(),
        actor: Actor::system("money-worker"),
        now,
    })))
}

/// Any dispute with its messages (operators see every merchant's).
pub async fn dispute(store: &Store, id: &str) -> Result<(Dispute, Vec<DisputeMessage>), OpError> {
    let id = DisputeId::parse(id).ok_or(DomainError::DisputeNotFound)?;
    let d = store
        .dispute(&id)
        .await?
        .ok_or(DomainError::DisputeNotFound)?;
    let messages = store.dispute_messages(&d.id).await?;
    Ok((d, messages))
}
