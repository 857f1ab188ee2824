//! The Cardlink error shapes: `{"success": false, "message": "api:error.<key>"}` with the
//! documented status; Laravel's 422 with an `errors` map; the bare 401.

use crate::ops::OpError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use paylink_api::cardlink::ErrorBody;
use paylink_core::error::Rule;
use paylink_core::DomainError;
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    /// A documented `api:error.<key>`.
    Key(StatusCode, &'static str),
    /// Field → messages, rendered as Laravel's 422.
    Validation(BTreeMap<String, Vec<String>>),
    /// An HTTP-level refusal (unknown route, body too large, ...) with a plain message.
    Http(StatusCode, &'static str),
    /// Logged where it happened; the client learns nothing more.
    Internal,
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        use DomainError as D;
        let forbidden = |key| ApiError::Key(StatusCode::FORBIDDEN, key);
        let unprocessable = |key| ApiError::Key(StatusCode::UNPROCESSABLE_ENTITY, key);
        let bad = |key| ApiError::Key(StatusCode::BAD_REQUEST, key);
        match e {
            D::MerchantNotFound => forbidden("merchant_not_found"),
            D::MerchantBanned => forbidden("merchant_banned"),
            D::SubscriptionInactive => forbidden("merchant_subscription_inactive"),
            D::SubscriptionNotFound => forbidden("merchant_subscription_not_found"),
            D::ShopNotFound => forbidden("shop_not_found"),
            D::ShopNotEnabled => forbidden("shop_not_enabled"),
            D::AccessDenied | D::NotPermitted => forbidden("access_denied"),
            D::BillIsFinished => forbidden("bill_is_finished"),
            D::BillBusy => forbidden("bill_busy"),
            D::BillInactive => forbidden("bill_inactive"),
            D::BillExpired => forbidden("bill_expired"),
            D::InvalidAmount => forbidden("invalid_amount"),
            // A permanent link is a bill; Cardlink knows no Procard access.
            D::BillNotFound | D::LinkNotFound => unprocessable("bill_not_found"),
            D::ProcardNotEnabled => forbidden("merchant_not_found"),
            // The Cardlink API has no disputes; a dispute is about a payment.
            D::PaymentNotFound | D::DisputeNotFound => unprocessable("payment_not_found"),
            D::PayoutNotFound => unprocessable("payout_not_found"),
            D::RefundNotFound => unprocessable("refund_not_found"),
            D::MerchantNotVerified => bad("merchant_not_verified"),
            D::BalanceNotEnough => bad("balance_not_enough"),
            D::DailyPayoutLimitExceeded => bad("daily_payout_limit_exceeded"),
            D::MonthlyPayoutLimitExceeded => bad("monthly_payout_limit_exceeded"),
            D::PayoutAccountNotFound => bad("payout_account_not_found"),
            D::PayoutAccountBanned => bad("payout_account_banned"),
            D::DirectionNotAvailable => bad("direction_not_available"),
            D::PayoutNotCancelable | D::TransactionRejected => bad("transaction_rejected"),
            D::NoPayout => forbidden("no_payout"),
            D::RateNotFound => forbidden("rate-not-found"),
            D::TooManyFailedAttempts => {
                ApiError::Key(StatusCode::TOO_MANY_REQUESTS, "too_many_failed_attempts")
            }
            D::Unauthorized => {
                ApiError::Http(StatusCode::FORBIDDEN, "This action is unauthorized.")
            }
            D::Invalid { field, kind } => ApiError::field(field, message(field, &kind)),
        }
    }
}

/// How Laravel names a field in its messages: its key with spaces.
pub(super) fn label(key: &str) -> String {
    key.replace('_', " ")
}

/// Laravel's wording of the rule `field` breaks, as the real service answers it.
pub fn message(field: &str, rule: &Rule) -> String {
    // A custom attribute name where the key means nothing to a reader.
    let name = match field {
        "MD" => "3-D Secure session".to_string(),
        f => label(f),
    };
    wording(&name, rule)
}

/// The message for a field Laravel calls `name` breaking `rule`.
pub(super) fn wording(name: &str, rule: &Rule) -> String {
    match rule {
        Rule::Required => format!("The {name} field is required."),
        Rule::ControlCharacter => format!("The {name} may not contain control characters."),
        Rule::TooLong { max } => format!("The {name} may not be greater than {max} characters."),
        Rule::TooShort { min } => format!("The {name} must be at least {min} characters."),
        Rule::Url => format!("The {name} must be a valid http(s) URL."),
        Rule::Email => format!("The {name} must be a valid email address."),
        Rule::SecondsRange { min, max } => {
            format!("The {name} must be between {min} and {max} seconds.")
        }
        Rule::Taken => format!("The {name} has already been taken."),
        Rule::Unknown => format!("The selected {name} is invalid."),
        Rule::OnlyMethod { method } => format!("This bill accepts only {method}."),
        Rule::NotValid => format!("The {name} is not valid."),
        Rule::Expired => format!("The {name} has expired."),
        Rule::Refused { reason } => format!("The {name} is refused: {reason}."),
        Rule::TooMany { max } => format!("The {name} may not have more than {max} items."),
        Rule::Between { min, max } => format!("The {name} must be between {min} and {max}."),
    }
}

impl From<paylink_store::StoreError> for ApiError {
    fn from(e: paylink_store::StoreError) -> Self {
        OpError::Store(e).into()
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Domain(d) => d.into(),
            // The request ran past its claim on its Idempotency-Key, and a retry took it over:
            // that one answers (this one made no effect).
            OpError::Store(paylink_store::StoreError::GuardFailed(g))
                if crate::ops::idempotency::lost(g) =>
            {
                ApiError::Http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The request took too long; retry it with the same Idempotency-Key.",
                )
            }
            // The database is out of reach for a moment (a failover) and nothing was written.
            OpError::Store(s @ paylink_store::StoreError::Unavailable(_)) => {
                tracing::warn!(error = %s, "storage unavailable");
                ApiError::Http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable; retry the request.",
                )
            }
            // The connection was lost during the commit: the write may have been made.
            OpError::Store(s @ paylink_store::StoreError::CommitUnknown(_)) => {
                tracing::warn!(error = %s, "storage lost during a commit");
                ApiError::Http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The request may have been carried out; check its status, or retry it \
                     with the same Idempotency-Key.",
                )
            }
            OpError::Store(s) => {
                tracing::error!(error = %s, "storage failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        (status, Json(body)).into_response()
    }
}

impl ApiError {
    /// The status and body this error answers with.
    pub fn parts(self) -> (StatusCode, ErrorBody) {
        match self {
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    success: false,
                    message: "Unauthenticated.".into(),
                    errors: None,
                    request_id: None,
                },
            ),
            ApiError::Key(status, key) => (
                status,
                ErrorBody {
                    success: false,
                    message: format!("api:error.{key}"),
                    errors: None,
                    request_id: None,
                },
            ),
            ApiError::Validation(errors) => {
                let mut all = errors.values().flatten();
                let first = all
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "The given data was invalid.".into());
                let more = all.count();
                let message = match more {
                    0 => first,
                    1 => format!("{first} (and 1 more error)"),
                    n => format!("{first} (and {n} more errors)"),
                };
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorBody {
                        success: false,
                        message,
                        errors: Some(errors),
                        request_id: None,
                    },
                )
            }
            ApiError::Http(status, message) => (
                status,
                ErrorBody {
                    success: false,
                    message: message.into(),
                    errors: None,
                    request_id: None,
                },
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    success: false,
                    message: "api:error.general_error".into(),
                    errors: None,
                    request_id: None,
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_worded_as_the_real_service_words_it() {
        let cases = [
            ("name", Rule::Required, "The name field is required."),
            (
                "order_id",
                Rule::ControlCharacter,
                "The order id may not contain control characters.",
            ),
            (
                "order_id",
                Rule::TooLong { max: 255 },
                "The order id may not be greater than 255 characters.",
            ),
            (
                "password",
                Rule::TooShort { min: 10 },
                "The password must be at least 10 characters.",
            ),
            (
                "success_url",
                Rule::Url,
                "The success url must be a valid http(s) URL.",
            ),
            (
                "payer_email",
                Rule::Email,
                "The payer email must be a valid email address.",
            ),
            (
                "ttl",
                Rule::SecondsRange {
                    min: 1,
                    max: 31_622_400,
                },
                "The ttl must be between 1 and 31622400 seconds.",
            ),
            (
                "order_id",
                Rule::Taken,
                "The order id has already been taken.",
            ),
            (
                "account_bank",
                Rule::Unknown,
                "The selected account bank is invalid.",
            ),
            (
                "method",
                Rule::OnlyMethod { method: "SBP" },
                "This bill accepts only SBP.",
            ),
            ("MD", Rule::NotValid, "The 3-D Secure session is not valid."),
            ("MD", Rule::Expired, "The 3-D Secure session has expired."),
            (
                "result_url",
                Rule::Refused {
                    reason: "a private address".into(),
                },
                "The result url is refused: a private address.",
            ),
        ];
        for (field, rule, text) in cases {
            let (status, body) = ApiError::from(DomainError::Invalid {
                field,
                kind: rule.clone(),
            })
            .parts();
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{rule:?}");
            assert_eq!(body.message, text, "{rule:?}");
            assert_eq!(
                body.errors,
                Some(BTreeMap::from([(
                    field.to_string(),
                    vec![text.to_string()]
                )])),
                "{rule:?}"
            );
        }
    }
}
