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
    #[error("the bill is finished")]
    BillIsFinished,
    #[error("the bill is not active")]
    BillInactive,
    #[error("the bill has expired")]
    BillExpired,
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
    /// Card testing: too many declined card payments on the bill or from the client address
    /// lately.
    #[error("too many declined card payments; try again later")]
    TooManyFailedAttempts,
    /// A field that parsed but breaks a rule; rendered as a validation error on `field`.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            message: message.into(),
        }
    }
}
