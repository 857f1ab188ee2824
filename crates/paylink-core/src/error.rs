use thiserror::Error;

/// Every way a domain operation can refuse. Dialects map each to their own wire error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("merchant not found")]
    MerchantNotFound,
    #[error("merchant is banned")]
    MerchantBanned,
    #[error("merchant subscription is inactive")]
    SubscriptionInactive,
    #[error("merchant has no subscription")]
    SubscriptionNotFound,
    #[error("shop not found")]
    ShopNotFound,
    #[error("shop is not enabled")]
    ShopNotEnabled,
    #[error("the shop belongs to another merchant")]
    AccessDenied,
    #[error("bill not found")]
    BillNotFound,
    #[error("payment not found")]
    PaymentNotFound,
    #[error("dispute not found")]
    DisputeNotFound,
    #[error("permanent link not found")]
    LinkNotFound,
    #[error("the merchant has no Procard access")]
    ProcardNotEnabled,
    #[error("the bill is finished")]
    BillIsFinished,
    #[error("the bill is not active")]
    BillInactive,
    #[error("the bill has expired")]
    BillExpired,
    /// Another payer's charge of the NORMAL bill is under way.
    #[error("a payment of the bill is under way")]
    BillBusy,
    #[error("invalid amount")]
    InvalidAmount,
    #[error("merchant is not verified")]
    MerchantNotVerified,
    #[error("not enough balance")]
    BalanceNotEnough,
    #[error("daily payout limit exceeded")]
    DailyPayoutLimitExceeded,
    #[error("monthly payout limit exceeded")]
    MonthlyPayoutLimitExceeded,
    #[error("payout account not found")]
    PayoutAccountNotFound,
    #[error("payout account is banned")]
    PayoutAccountBanned,
    #[error("payouts in this direction are not available")]
    DirectionNotAvailable,
    #[error("no payouts in this currency")]
    NoPayout,
    #[error("payout not found")]
    PayoutNotFound,
    #[error("the payout can no longer move that way")]
    PayoutNotCancelable,
    #[error("no exchange rate for the conversion")]
    RateNotFound,
    #[error("refund not found")]
    RefundNotFound,
    #[error("the transaction cannot be refunded")]
    TransactionRejected,
    #[error("this action is unauthorized")]
    Unauthorized,
    /// An operator whose role does not allow the action.
    #[error("the operator's role does not allow this")]
    NotPermitted,
    /// Card testing: too many declined card payments on the bill or from the client address
    /// lately.
    #[error("too many declined card payments; try again later")]
    TooManyFailedAttempts,
    /// A field that parsed but breaks a rule; each surface words it (Cardlink: as Laravel).
    #[error("{field} {kind}")]
    Invalid { field: &'static str, kind: Rule },
}

/// The rule a field breaks. The Display is a neutral predicate after the field's name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rule {
    #[error("is required")]
    Required,
    #[error("may not contain control characters")]
    ControlCharacter,
    #[error("may not be longer than {max} characters")]
    TooLong { max: usize },
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be an http(s) URL")]
    Url,
    #[error("must be an email address")]
    Email,
    #[error("must be between {min} and {max} seconds")]
    SecondsRange { min: i64, max: i64 },
    /// Another object already has this value.
    #[error("is already taken")]
    Taken,
    /// Names nothing among the values it is chosen from (a dictionary, a list).
    #[error("is unknown")]
    Unknown,
    /// The object takes one payment method only: `method`'s code.
    #[error("must be {method}")]
    OnlyMethod { method: &'static str },
    #[error("is not valid")]
    NotValid,
    #[error("has expired")]
    Expired,
    /// A list with more than `max` elements.
    #[error("may not have more than {max} elements")]
    TooMany { max: usize },
    /// A whole number outside `min..=max`.
    #[error("must be between {min} and {max}")]
    Between { min: i64, max: i64 },
    /// Refused for `reason` (an address paylink will not call, ...).
    #[error("is refused: {reason}")]
    Refused { reason: String },
}
