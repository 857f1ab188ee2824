//! The guards a plan's writes carry: conditions on concurrent state that the store checks in
//! SQL as it applies the plan (a balance that must not go negative, a bill paid once, a claim
//! still held). A guard that fails refuses the whole plan.

use crate::error::{DomainError, Rule};
use crate::issuing::IssuingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    /// No ledger balance goes below zero.
    BalanceNotEnough,
    /// An entry's postings sum to zero per currency (checked before any SQL).
    UnbalancedEntry,
    DailyPayoutLimitExceeded,
    MonthlyPayoutLimitExceeded,
    MerchantNotFound,
    ShopNotFound,
    PayoutAccountNotFound,
    SbpBankNotFound,
    NoticeNotFound,
    /// A finished NORMAL bill is not toggled.
    BillIsFinished,
    /// A NORMAL bill takes money once.
    BillNotPayable,
    /// A NORMAL bill is charged by one payment at a time.
    BillBusy,
    /// A settlement is settled once.
    AlreadySettled,
    /// A payout moves only from the statuses its move expects.
    PayoutMoved,
    /// A payout is leased to one processor at a time.
    PayoutClaimed,
    /// A refund is answered once.
    RefundMoved,
    /// A refund is leased to one processor at a time.
    RefundClaimed,
    /// A charge left unrecorded is leased to one worker at a time.
    ChargeClaimed,
    /// A payment's refunds stay within its amount.
    RefundExceedsPayment,
    /// A sealed value is resealed only while it is still the one read.
    SealedValueChanged,
    /// Another request holds the `Idempotency-Key`.
    RequestKeyTaken,
    /// The request's claim on its `Idempotency-Key` was taken over by a retry.
    RequestKeyLost,
    /// The merchant has no Procard access.
    ProcardNotEnabled,
    /// The permanent link does not exist.
    LinkNotFound,
    /// The partner does not exist.
    PartnerNotFound,
    /// The partner used the request id before.
    DuplicateRequestId,
    /// The client is not the partner's.
    ClientNotFound,
    /// The client was edited since it was read.
    ClientMoved,
    /// The card's status changed since it was read.
    CardMoved,
    /// The card was closed before the plan applied.
    CardClosed,
    /// The card was no longer active (blocked) when a plan spending from it applied.
    CardNotActive,
    /// The card belongs to another client.
    CardLinked,
    /// A clearing, reversal or refund would exceed the transaction.
    AmountExceedsAuthorized,
    /// The OTP was spent (used, replaced or out of attempts).
    OtpSpent,
    /// The one-time link was used or has expired.
    SecretGone,
    /// The web account does not exist.
    AccountNotFound,
    /// A one-time sign-in or reset link was used or has expired.
    LinkGone,
    /// The dispute's status changed since it was read.
    DisputeMoved,
    /// The second factor's code (its time step) was used already.
    CodeUsed,
    /// The saved money rules changed since they were read.
    RulesChanged,
    /// An operator change would leave no admin who can sign in.
    LastAdmin,
    /// The operator making an operator change is no longer an admin who can sign in: another
    /// change, written first, demoted or disabled them.
    NoLongerAdmin,
    /// A link payment's operation is no longer waiting for its 3-D Secure answer.
    OperationMoved,
}

impl Guard {
    /// The guard's name in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Guard::BalanceNotEnough => "balance_not_enough",
            Guard::UnbalancedEntry => "unbalanced_entry",
            Guard::DailyPayoutLimitExceeded => "daily_payout_limit_exceeded",
            Guard::MonthlyPayoutLimitExceeded => "monthly_payout_limit_exceeded",
            Guard::MerchantNotFound => "merchant_not_found",
            Guard::ShopNotFound => "shop_not_found",
            Guard::PayoutAccountNotFound => "payout_account_not_found",
            Guard::SbpBankNotFound => "sbp_bank_not_found",
            Guard::NoticeNotFound => "notice_not_found",
            Guard::BillIsFinished => "bill_is_finished",
            Guard::BillNotPayable => "bill_not_payable",
            Guard::BillBusy => "bill_busy",
            Guard::AlreadySettled => "already_settled",
            Guard::PayoutMoved => "payout_moved",
            Guard::PayoutClaimed => "payout_claimed",
            Guard::RefundMoved => "refund_moved",
            Guard::RefundClaimed => "refund_claimed",
            Guard::ChargeClaimed => "charge_claimed",
            Guard::RefundExceedsPayment => "refund_exceeds_payment",
            Guard::SealedValueChanged => "sealed_value_changed",
            Guard::RequestKeyTaken => "request_key_taken",
            Guard::RequestKeyLost => "request_key_lost",
            Guard::ProcardNotEnabled => "procard_not_enabled",
            Guard::LinkNotFound => "link_not_found",
            Guard::PartnerNotFound => "partner_not_found",
            Guard::DuplicateRequestId => "duplicate_request_id",
            Guard::ClientNotFound => "client_not_found",
            Guard::ClientMoved => "client_moved",
            Guard::CardMoved => "card_moved",
            Guard::CardClosed => "card_closed",
            Guard::CardNotActive => "card_not_active",
            Guard::CardLinked => "card_linked",
            Guard::AmountExceedsAuthorized => "amount_exceeds_authorized",
            Guard::OtpSpent => "otp_spent",
            Guard::SecretGone => "secret_gone",
            Guard::AccountNotFound => "account_not_found",
            Guard::LinkGone => "link_gone",
            Guard::DisputeMoved => "dispute_moved",
            Guard::CodeUsed => "code_used",
            Guard::RulesChanged => "rules_changed",
            Guard::LastAdmin => "last_admin",
            Guard::NoLongerAdmin => "no_longer_admin",
            Guard::OperationMoved => "operation_moved",
        }
    }

    /// The refusal the guard stands for when it stops a request's plan: the state changed
    /// between the read the decision was made on and the write. `None` where the failure is
    /// not the request's answer: a lost claim on its `Idempotency-Key` (a retry answers), a
    /// worker's lease taken by another, or a plan that should never have been made.
    pub fn refusal(self) -> Option<DomainError> {
        match self {
            Guard::BalanceNotEnough => Some(DomainError::BalanceNotEnough),
            Guard::DailyPayoutLimitExceeded => Some(DomainError::DailyPayoutLimitExceeded),
            Guard::MonthlyPayoutLimitExceeded => Some(DomainError::MonthlyPayoutLimitExceeded),
            Guard::MerchantNotFound => Some(DomainError::MerchantNotFound),
            Guard::ShopNotFound => Some(DomainError::ShopNotFound),
            Guard::PayoutAccountNotFound => Some(DomainError::PayoutAccountNotFound),
            Guard::SbpBankNotFound => Some(DomainError::Invalid {
                field: "bank",
                kind: Rule::Unknown,
            }),
            Guard::BillIsFinished | Guard::BillNotPayable => Some(DomainError::BillIsFinished),
            Guard::BillBusy => Some(DomainError::BillBusy),
            Guard::PayoutMoved | Guard::PayoutClaimed => Some(DomainError::PayoutNotCancelable),
            Guard::RefundMoved | Guard::RefundClaimed => Some(DomainError::TransactionRejected),
            Guard::RefundExceedsPayment => Some(DomainError::InvalidAmount),
            Guard::ProcardNotEnabled => Some(DomainError::ProcardNotEnabled),
            Guard::LinkNotFound => Some(DomainError::LinkNotFound),
            Guard::UnbalancedEntry
            | Guard::ChargeClaimed
            | Guard::NoticeNotFound
            | Guard::AlreadySettled
            | Guard::SealedValueChanged
            | Guard::RequestKeyTaken
            | Guard::RequestKeyLost
            | Guard::PartnerNotFound
            | Guard::DuplicateRequestId
            | Guard::ClientNotFound
            | Guard::ClientMoved
            | Guard::CardMoved
            | Guard::CardClosed
            | Guard::CardNotActive
            | Guard::CardLinked
            | Guard::AmountExceedsAuthorized
            | Guard::OtpSpent
            | Guard::SecretGone
            | Guard::OperationMoved => None,
            Guard::AccountNotFound | Guard::CodeUsed => Some(DomainError::Unauthorized),
            Guard::RulesChanged => Some(DomainError::Invalid {
                field: "rules",
                kind: Rule::Refused {
                    reason: "the money rules changed meanwhile".into(),
                },
            }),
            Guard::LinkGone => Some(DomainError::Invalid {
                field: "link",
                kind: Rule::Expired,
            }),
            Guard::DisputeMoved => Some(DomainError::Invalid {
                field: "dispute",
                kind: Rule::Refused {
                    reason: "the dispute changed meanwhile".into(),
                },
            }),
            Guard::LastAdmin => Some(DomainError::Invalid {
                field: "operator",
                kind: Rule::Refused {
                    reason: "the last admin cannot be demoted or disabled".into(),
                },
            }),
            Guard::NoLongerAdmin => Some(DomainError::NotPermitted),
        }
    }

    /// The Card API's refusal the guard stands for (see [`Guard::refusal`]).
    pub fn issuing_refusal(self) -> Option<IssuingError> {
        match self {
            Guard::BalanceNotEnough => Some(IssuingError::InsufficientFunds),
            Guard::PartnerNotFound => Some(IssuingError::PartnerNotFound),
            Guard::DuplicateRequestId => Some(IssuingError::DuplicateRequestId),
            Guard::ClientNotFound => Some(IssuingError::ClientNotFound),
            // Only once the edit was read again and lost again a few times.
            Guard::ClientMoved => Some(IssuingError::Invalid {
                field: "client_id",
                kind: Rule::Refused {
                    reason: "the client is being edited by other requests; try again".into(),
                },
            }),
            // Another request changed the card first: what it answers now is what the partner
            // sees when it asks again.
            Guard::CardMoved => Some(IssuingError::Invalid {
                field: "card_id",
                kind: Rule::Refused {
                    reason: "the card changed meanwhile; read it and try again".into(),
                },
            }),
            Guard::CardClosed => Some(IssuingError::CardClosed),
            // Closed is checked first: what else ends an active card while it is read is a block.
            Guard::CardNotActive => Some(IssuingError::CardBlocked),
            Guard::CardLinked => Some(IssuingError::Invalid {
                field: "card_id",
                kind: Rule::Refused {
                    reason: "the card belongs to another client".into(),
                },
            }),
            Guard::AmountExceedsAuthorized => Some(IssuingError::AmountExceedsAuthorized),
            Guard::OtpSpent => Some(IssuingError::OtpExpired),
            Guard::SecretGone => Some(IssuingError::SecretGone),
            _ => None,
        }
    }
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
