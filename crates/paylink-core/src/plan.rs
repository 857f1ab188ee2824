//! What a domain operation decided to write. The store applies a plan atomically; guards that
//! depend on concurrent state are part of each write's SQL.

use crate::account::{Account, OneTimeLink, Session};
use crate::audit::AuditEntry;
use crate::bill::{Bill, Locale};
use crate::dispute::{Dispute, DisputeDecision, DisputeMessage, DisputeStatus};
use crate::event::{AfterAttempt, Notice};
use crate::guard::Guard;
use crate::id::{
    AccountId, BillId, CardId, CardTransactionId, ClientId, DisputeId, MerchantId, PartnerId,
    PaymentId, PayoutAccountId, PayoutId, RefundId, ShopId,
};
use crate::issued::{CardClient, CardRequest, CardTransaction, IssuedCard, Partner};
use crate::issuing::{CardStatus, StoredOtp};
use crate::ledger::{Entry, FxRate};
use crate::merchant::{Merchant, Shop, Subscription};
use crate::money::Amount;
use crate::money::Currency;
use crate::payment::{BillTransition, Payment};
use crate::payout::{Payout, PayoutAccount, PayoutProfile, PayoutStatus};
use crate::permanent_link::{Operation, PermanentLink};
use crate::refund::{Refund, RefundStatus};
use crate::settlement::Settlement;
use crate::time::Millis;

/// Every column that holds a sealed value (see [`crate::seal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `api_tokens.sealed`, bound to the token id.
    ApiToken,
    /// `shops.webhook_key_sealed`, bound to the shop id.
    WebhookKey,
    /// `payout_accounts.sealed`, bound to the payee's fingerprint.
    PayoutAccount,
    /// `payouts.sealed`, bound to the payee's fingerprint.
    Payout,
    /// `procard_merchants.key_sealed`, bound to the merchant id.
    ProcardKey,
    /// `permanent_links.recipient_sealed` (a P2Pin link's card), bound to the link id.
    LinkRecipient,
    /// `partners.key_sealed`, bound to the partner id.
    PartnerKey,
    /// `cards.data_sealed` (PAN, expiry, CVV of an issued card), bound to the card id.
    CardData,
    /// `web_accounts.totp_sealed` (an operator's second factor), bound to the account id.
    TotpSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 9] = [
        SealedColumn::ApiToken,
        SealedColumn::WebhookKey,
        SealedColumn::PayoutAccount,
        SealedColumn::Payout,
        SealedColumn::ProcardKey,
        SealedColumn::LinkRecipient,
        SealedColumn::PartnerKey,
        SealedColumn::CardData,
        SealedColumn::TotpSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SealedColumn::ApiToken => "api_tokens.sealed",
            SealedColumn::WebhookKey => "shops.webhook_key_sealed",
            SealedColumn::PayoutAccount => "payout_accounts.sealed",
            SealedColumn::Payout => "payouts.sealed",
            SealedColumn::ProcardKey => "procard_merchants.key_sealed",
            SealedColumn::LinkRecipient => "permanent_links.recipient_sealed",
            SealedColumn::PartnerKey => "partners.key_sealed",
            SealedColumn::CardData => "cards.data_sealed",
            SealedColumn::TotpSecret => "web_accounts.totp_sealed",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Write {
    InsertMerchant(Merchant),
    SetMerchantBanned {
        merchant_id: MerchantId,
        banned: bool,
    },
    /// Guard: the merchant exists. Only verified merchants may pay out.
    SetMerchantVerified {
        merchant_id: MerchantId,
        verified: bool,
    },
    SetSubscription {
        merchant_id: MerchantId,
        subscription: Subscription,
    },
    InsertShop(Shop),
    UpdateShop(Shop),
    /// Revokes every live token of the merchant, then stores the new one's digest.
    ReplaceToken {
        merchant_id: MerchantId,
        token_id: i64,
        digest: String,
        /// The token sealed (see [`crate::seal`]): postbacks are signed with it.
        sealed: String,
        now: Millis,
    },
    /// Sets (or replaces) a shop's sealed Standard Webhooks key.
    SetWebhookKey {
        shop_id: ShopId,
        sealed: String,
    },
    /// Replaces one sealed value by the same secret sealed under another key. Guard: the value
    /// is still `old` (a concurrent change, such as a token refresh, wins).
    Reseal {
        column: SealedColumn,
        /// The row's key (a token id as text, a shop, payout account or payout id).
        id: String,
        /// What orders this write among others on the same rows (the token's merchant; else `id`).
        lock: String,
        old: String,
        new: String,
    },
    InsertBill(Bill),
    /// Turns the merchant's Procard access on (or changes its login, shop or default callback):
    /// `login` is unique among merchants (a conflict otherwise). `key_sealed` replaces the key
    /// is the merchant's key, sealed: the current one when it is kept.
    EnableProcard {
        merchant_id: MerchantId,
        login: String,
        shop_id: ShopId,
        key_sealed: String,
        callback_url: Option<String>,
        now: Millis,
    },
    /// A new Procard key; the old one stops working when the plan commits. Guard: Procard is
    /// enabled for the merchant.
    SetProcardKey {
        merchant_id: MerchantId,
        key_sealed: String,
        now: Millis,
    },
    /// A permanent link's terms, with its bill (inserted in the same plan).
    InsertPermanentLink(PermanentLink),
    /// New terms, name, description and headline amount of a link. Guard: the link exists.
    UpdatePermanentLink {
        link: PermanentLink,
        name: String,
        description: String,
        locale: Locale,
        amount: Amount,
    },
    /// Records a link payment as an operation, or moves it on (by payment id): a 3-D Secure
    /// challenge records it WAITING-AUTH, the payment's plan records its outcome.
    RecordOperation(Operation),
    /// Declines the operation of a link's payment whose 3-D Secure challenge was left
    /// unanswered. Guard: it is still WAITING-AUTH and was recorded before `before`
    /// ([`Guard::OperationMoved`] otherwise: its answer came, or another worker declined it).
    DeclineOperation {
        payment_id: PaymentId,
        before: Millis,
        now: Millis,
    },
    /// Brings the operation of a link's payment in line with the payment's refunds (with the
    /// payment's row locked, so refunds answered at once agree): `APPROVED` while some of the
    /// payment is not refunded, `REFUNDINPROC` once all of it is, some still with the
    /// acquirer, `REFUNDED` once all of it is refunded. A payment of no link has no operation.
    RefreshOperation {
        payment_id: PaymentId,
        now: Millis,
    },
    /// Guard: a finished NORMAL bill is not toggled.
    SetBillActive {
        bill_id: BillId,
        active: bool,
        now: Millis,
    },
    /// Holds a NORMAL bill for `payment_id`'s charge until `until` (bills of other types take
    /// every payment and are not held). Guard: the bill is a NORMAL one, active, not expired,
    /// not paid, and no other payment's charge holds it ([`Guard::BillBusy`]).
    ClaimBill {
        bill_id: BillId,
        payment_id: PaymentId,
        until: Millis,
        now: Millis,
    },
    /// Lets the bill go if `payment_id` holds it (a charge that asks the payer to
    /// authenticate first, or whose answer could not be recorded).
    ReleaseBill {
        bill_id: BillId,
        payment_id: PaymentId,
    },
    /// Lets the bill go if the payment held it. Guard: see [`BillTransition`].
    RecordPayment {
        payment: Payment,
        transition: BillTransition,
    },
    /// A notification to deliver, in the same transaction as the change it reports.
    EnqueueNotice(Notice),
    /// Leases the notices `ids` (found due by a read) to `owner` until `until`, each only if it
    /// is still pending and unleased (or its lease ran out: a dispatcher that died) at `now`.
    ClaimNotices {
        owner: String,
        ids: Vec<String>,
        now: Millis,
        until: Millis,
    },
    /// Records attempts and moves their notices on; a notice only moves while the attempt's
    /// `owner` still holds its lease (the attempt is recorded either way: it happened).
    FinishAttempts(Vec<Finished>),
    /// Makes a notice due now in a fresh round of the schedule. Guard: the notice exists.
    Redeliver {
        notice_id: String,
        now: Millis,
    },
    /// Retention (maintenance): of the notices `ids` (found by a read), those still in a final
    /// state (delivered, failed, kept) since before `before` are added to the daily summary
    /// `outbox_history` and removed with their attempts. `token` marks the rows this plan took,
    /// so that a concurrent pass taking the same rows counts none of them twice. At most 1000
    /// ids, so that the plan holds its locks briefly.
    PurgeNotices {
        token: String,
        ids: Vec<String>,
        before: Millis,
    },
    /// A balanced ledger transaction and its effect on the merchants' cached balances. Guard:
    /// no balance goes below zero ([`Guard::BalanceNotEnough`]).
    Post(Entry),
    /// Money waiting in hold until it is due.
    InsertSettlement(Settlement),
    /// Guard: not settled yet.
    MarkSettled {
        /// [`Settlement::id`].
        id: String,
        now: Millis,
    },
    InsertPayout(Payout),
    /// Counts `amount` towards the merchant's usage in `period`. Guard: usage stays within
    /// `limit`; fails with `guard`.
    UsePayoutLimit {
        merchant_id: MerchantId,
        period: String,
        currency: Currency,
        amount: i64,
        limit: i64,
        guard: Guard,
    },
    /// Gives back the usage of a payout that did not go out.
    ReleasePayoutLimit {
        merchant_id: MerchantId,
        periods: [String; 2],
        currency: Currency,
        amount: i64,
    },
    /// Guard: the payout is still in one of `from` ([`Guard::PayoutMoved`] otherwise).
    MovePayout {
        id: PayoutId,
        from: &'static [PayoutStatus],
        to: PayoutStatus,
        error_message: Option<String>,
        /// When a PROCESS payout is next looked at (its lease with the provider).
        process_at: Option<Millis>,
        now: Millis,
    },
    /// Leases a PROCESS payout to the processor until `until`. Guard: still PROCESS and due.
    ClaimPayout {
        id: PayoutId,
        now: Millis,
        until: Millis,
    },
    /// A refund in PROCESS, leased to its creator until `process_at`.
    InsertRefund {
        refund: Refund,
        process_at: Millis,
    },
    /// Guard: the refund is still in PROCESS ([`Guard::RefundMoved`]).
    FinishRefund {
        id: RefundId,
        status: RefundStatus,
        error_message: Option<String>,
        now: Millis,
    },
    /// A charge about to be asked of the acquirer, kept until its answer is recorded: one
    /// whose recorder died, or whose answer never came, is asked about again by the worker.
    /// Begun twice (a twin submit of one payment id), it is kept once, leased to the later.
    BeginCharge(crate::payment::ChargeIntent),
    /// A charge's answer is recorded, or it took no money: forgotten.
    EndCharge {
        payment_id: PaymentId,
    },
    /// Leases a charge whose lease ran out until `until`. Guard: still unleased
    /// ([`Guard::ChargeClaimed`]).
    ClaimCharge {
        payment_id: PaymentId,
        now: Millis,
        until: Millis,
    },
    /// Leases a refund in PROCESS whose lease ran out. Guard: still so.
    ClaimRefund {
        id: RefundId,
        now: Millis,
        until: Millis,
    },
    /// Adds `amount` (negative: a failed refund gives it back) to the payment's refunded
    /// amount. Guard: it stays within the payment's amount, and is still `was` when given
    /// ([`Guard::RefundExceedsPayment`]).
    AddRefunded {
        payment_id: PaymentId,
        amount: i64,
        was: Option<i64>,
        now: Millis,
    },
    SetFxRate {
        base: Currency,
        quote: Currency,
        rate: FxRate,
        now: Millis,
    },
    UpsertSbpBank {
        member_id: i64,
        name: String,
        name_en: String,
        bic: i64,
        now: Millis,
    },
    /// Guard: the bank is in the dictionary.
    SetSbpBankEnabled {
        member_id: i64,
        enabled: bool,
        now: Millis,
    },
    InsertPayoutAccount(PayoutAccount),
    /// Guard: the account exists.
    SetPayoutAccountBanned {
        id: PayoutAccountId,
        banned: bool,
    },
    /// Guard: the merchant exists.
    SetPayoutProfile {
        merchant_id: MerchantId,
        profile: PayoutProfile,
    },
    /// Claims the merchant's `Idempotency-Key` for the request `fingerprint` as `token` until
    /// `leased_until`: a new key, one remembered since before `expired_before` (it is
    /// forgotten), or one left running by a claimer whose lease ended before `now` (same
    /// request only). Guard: [`Guard::RequestKeyTaken`] otherwise.
    ClaimRequest {
        key: RequestKey,
        fingerprint: String,
        token: String,
        now: Millis,
        leased_until: Millis,
        expired_before: Millis,
    },
    /// Records that the effect of the request claimed as `token` is done, naming the object
    /// whose state answers it. Goes in the plan that makes the effect. Guard: the claim is
    /// still `token`'s ([`Guard::RequestKeyLost`]), so an effect is made under one claim only.
    BindRequest {
        key: RequestKey,
        token: String,
        reference: String,
    },
    /// Stores the answer of the request claimed as `token`: replayed from now on. In the plan
    /// that makes the effect (`must_hold`: [`Guard::RequestKeyLost`], as [`Write::BindRequest`]),
    /// or on its own after a refusal that changed nothing, or after an effect already bound.
    SettleRequest {
        key: RequestKey,
        token: String,
        answer: StoredAnswer,
        must_hold: bool,
    },
    /// Gives up the claim of `token` on a request that failed without an answer worth keeping
    /// (a 5xx): forgotten if it made no effect, else left for the next claimer to answer.
    ReleaseRequest {
        key: RequestKey,
        token: String,
    },
    /// Forgets at most `limit` idempotency keys remembered since before `before`.
    PurgeRequests {
        before: Millis,
        limit: i64,
    },
    InsertPartner(Partner),
    /// A new key; the old one stops working when the plan commits. Guard: the partner exists.
    SetPartnerKey {
        partner_id: PartnerId,
        key_sealed: String,
        now: Millis,
    },
    /// A partner's request with its outcome, in the plan of its effect. Guard: the partner has
    /// not used the request id before ([`Guard::DuplicateRequestId`]).
    RecordCardRequest(CardRequest),
    InsertCardClient(CardClient),
    /// New particulars, written over the version they were read at (and moving it on).
    /// Guard: the client is the partner's and still at `version` ([`Guard::ClientMoved`]), so
    /// an edit made from an older read never undoes one written meanwhile.
    UpdateCardClient(CardClient),
    /// Conflict (not a guard) when the PAN's fingerprint or the token is taken: the caller
    /// draws again.
    InsertCard(IssuedCard),
    /// Guard: the card is still `from` ([`Guard::CardMoved`]): of two concurrent changes, one.
    /// With `version`, also no money moved on it since it was read at that version (a close
    /// returns the balance it read).
    SetCardStatus {
        card_id: CardId,
        from: CardStatus,
        to: CardStatus,
        version: Option<i64>,
        now: Millis,
    },
    /// In every plan that moves a card's money: the card is not closed when the plan applies
    /// ([`Guard::CardClosed`]), and its version moves on, so a close decided before refuses.
    /// A plan that `spends` from the card (a debit, a hold) also needs it still active
    /// ([`Guard::CardNotActive`]): a block that came first stops it.
    MoveCardMoney {
        card_id: CardId,
        spends: bool,
    },
    /// Guard: the card has no client yet, or this one ([`Guard::CardLinked`]).
    LinkCard {
        card_id: CardId,
        client_id: ClientId,
        now: Millis,
    },
    InsertCardTransaction(CardTransaction),
    /// Settles part of an authorization: `capture` leaves the card, `release` goes back to it.
    /// Once all of it is settled its status is success (something captured) or reversed.
    /// Guard: the captures and releases stay within the authorization and it is still in
    /// process ([`Guard::AmountExceedsAuthorized`]).
    SettleAuthorization {
        id: CardTransactionId,
        capture: i64,
        release: i64,
        now: Millis,
    },
    /// Counts a refund of `amount` against the transaction; refunded in full, its status is
    /// refunded. Guard: refunds stay within what it took ([`Guard::AmountExceedsAuthorized`]).
    AddCardRefund {
        id: CardTransactionId,
        amount: i64,
        now: Millis,
    },
    /// A gift card's OTP (replacing an earlier one).
    SetCardOtp {
        card_id: CardId,
        otp: StoredOtp,
        now: Millis,
    },
    /// Counts a wrong code. Guard: the code is still the one checked and had attempts left
    /// ([`Guard::OtpSpent`]), so concurrent guesses cannot exceed the bound.
    CountOtpAttempt {
        card_id: CardId,
        digest: String,
        max: u32,
    },
    /// Spends the code that activated a card. Guard: it is still there, unspent.
    SpendOtp {
        card_id: CardId,
        digest: String,
    },
    /// A one-time link to a card's data: the digest of its token.
    InsertCardSecret {
        digest: String,
        card_id: CardId,
        expires_at: Millis,
        now: Millis,
    },
    /// Opens the link once. Guard: unused and not expired ([`Guard::SecretGone`]).
    UseCardSecret {
        digest: String,
        now: Millis,
    },
    /// Spends every one-time link of the card not used yet (a block or a close): a link handed
    /// out before shows nothing afterwards. A link opened concurrently is either opened first
    /// or finds itself spent ([`Guard::SecretGone`]).
    SpendCardSecrets {
        card_id: CardId,
        now: Millis,
    },
    /// Conflict (not a guard) when the kind's email is taken.
    InsertAccount(Account),
    /// Guard: the account exists ([`Guard::AccountNotFound`]).
    SetPassword {
        account_id: AccountId,
        hash: String,
        now: Millis,
    },
    /// Spends every one-time link of the account not used yet: a password chosen by the owner
    /// makes an earlier invitation or reset link void.
    SpendLinks {
        account_id: AccountId,
        now: Millis,
    },
    InsertSession(Session),
    /// Ends one session (signing out); a session already ended stays so.
    RevokeSession {
        digest: String,
        now: Millis,
    },
    /// Ends every live session of the account (a new password) but `except`.
    RevokeSessions {
        account_id: AccountId,
        except: Option<String>,
        now: Millis,
    },
    InsertLink {
        link: OneTimeLink,
        now: Millis,
    },
    /// Uses a one-time link. Guard: unused and not expired ([`Guard::LinkGone`]).
    UseLink {
        digest: String,
        now: Millis,
    },
    /// A rate-limited event (a sign-in, a payer's charge search) counted under `key`: recorded
    /// before the limit is checked, so that concurrent events all count.
    RecordAttempt {
        key: String,
        id: String,
        at: Millis,
    },
    /// Un-counts an event (a sign-in that succeeded: only failures count).
    ForgetAttempt {
        key: String,
        id: String,
    },
    /// Forgets counted events from before `before` (they left every window).
    PurgeAttempts {
        before: Millis,
    },
    InsertDispute(Dispute),
    /// A message, moving its dispute to `to`. Guard: the dispute is still `from`
    /// ([`Guard::DisputeMoved`]).
    AddDisputeMessage {
        message: DisputeMessage,
        from: DisputeStatus,
        to: DisputeStatus,
    },
    /// An operator's decision on a dispute (refund, reject, chargeback later), recorded once,
    /// with the refund a refund decision made (its answer is the payer's). Guard: no decision
    /// yet ([`Guard::DisputeMoved`]).
    DecideDispute {
        dispute_id: DisputeId,
        decision: DisputeDecision,
        refund_id: Option<RefundId>,
        now: Millis,
    },
    /// The acquirer's answer to a dispute's refund, taken once, whoever records it (the
    /// operator's request or, after a crash, the money worker). A `refused` refund opens the
    /// dispute again (answered), without a decision, so that an operator decides anew. Guard:
    /// the dispute still waits for `refund_id` ([`Guard::DisputeMoved`]).
    AnswerDisputeRefund {
        dispute_id: DisputeId,
        refund_id: RefundId,
        refused: bool,
        now: Millis,
    },
    /// A line of the audit log; the log is append-only.
    Audit(AuditEntry),
    /// The money rules every process uses from now on ([`crate::rules::MoneyRules::to_text`]);
    /// `None`: back to the configuration's. Guard: the saved rules are still `expected` (`None`:
    /// none saved) ([`Guard::RulesChanged`]): of two operators saving at once, one is told.
    SetMoneyRules {
        text: Option<String>,
        expected: Option<String>,
    },
    /// Turns an operator's second factor on (`sealed`: the TOTP secret sealed to the account)
    /// or off. Guard: the account exists ([`Guard::AccountNotFound`]).
    SetTotp {
        account_id: AccountId,
        sealed: Option<String>,
        now: Millis,
    },
    /// Spends a TOTP time step at sign-in. Guard: no later or equal step was used before
    /// ([`Guard::CodeUsed`]): a code works once, even when two sign-ins race with it.
    UseTotpStep {
        account_id: AccountId,
        step: i64,
    },
    /// An operator's role, or their access ended (`disabled`) or given back. Guards: the
    /// operator exists ([`Guard::AccountNotFound`]); an admin who can sign in is demoted or
    /// disabled only while another remains ([`Guard::LastAdmin`]).
    SetOperator {
        account_id: AccountId,
        role: String,
        disabled: bool,
        now: Millis,
    },
    /// First in an admin's plan that manages operators (make one, change one, a reset link,
    /// a second factor turned off): the console operator `email` is still an admin who can
    /// sign in, as the operator changes written before this plan left them (operator changes
    /// take turns on one row). Guard: [`Guard::NoLongerAdmin`].
    ActingAdmin {
        email: String,
    },
}

/// A merchant's `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub merchant_id: MerchantId,
    pub key: String,
}

/// An answer as it is replayed: HTTP status and body bytes (the dialects answer UTF-8 JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

/// An attempt, who made it, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub attempt: DeliveryAttempt,
    pub owner: String,
    pub next: AfterAttempt,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub notice_id: String,
    /// 1 for the notice's first attempt ever; redeliveries continue the count.
    pub number: i64,
    pub at: Millis,
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    /// Why no status came (timeout, refused address, connection error), or why the notice was
    /// not sent or given up early (an SMS whose code expired).
    pub error: Option<String>,
    /// The first bytes of the response body.
    pub excerpt: String,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub writes: Vec<Write>,
}

impl Plan {
    pub fn one(write: Write) -> Plan {
        Plan {
            writes: vec![write],
        }
    }
}
