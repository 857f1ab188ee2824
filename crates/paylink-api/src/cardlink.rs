//! The Cardlink merchant API (`/api/v1`): response bodies.

use crate::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `bill/create`: `success` is the string `"true"` here (a Go client requires it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillCreated {
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^true$"))]
    pub success: serde_json::Value,
    pub link_url: String,
    pub link_page_url: String,
    pub bill_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bill {
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub order_id: Option<String>,
    pub shop_id: String,
    pub active: bool,
    pub status: String,
    pub amount: Decimal,
    #[serde(rename = "type")]
    pub bill_type: String,
    pub currency_in: String,
    pub created_at: String,
    /// Seconds the bill lives after creation, or null.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub ttl: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub custom: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub payment_method: Option<String>,
    pub payer_pays_commission: bool,
    pub link_url: String,
    pub link_page_url: String,
    /// Present on single-object answers (`bill/status`, `bill/toggle_activity`), absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    pub id: String,
    pub bill_id: String,
    pub status: String,
    pub payment_method: String,
    pub amount: Decimal,
    pub amount_received: Decimal,
    pub commission: Decimal,
    pub account_amount: Decimal,
    pub account_currency_code: String,
    pub refunded_amount: Decimal,
    /// Masked card (`424242******4242`); empty for SBP, never null.
    pub from_card: String,
    pub currency_in: String,
    pub created_at: String,
    /// ISO 8583 response code of a declined charge; an integer, as clients parse it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub error_code: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub error_message: Option<String>,
    /// The payment's refunds (`refunds=1`), as `refund/status` shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Refund>>))]
    pub refunds: Option<Vec<serde_json::Value>>,
    /// `chargeback=1`: always empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub chargeback: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

/// Laravel's cursor paginator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CursorPage<T> {
    pub success: bool,
    pub data: Vec<T>,
    pub links: PageLinks,
    pub meta: PageMeta,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageLinks {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub prev: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageMeta {
    pub path: String,
    pub per_page: u32,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_cursor: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub prev_cursor: Option<String>,
}

/// Every failure: `success` is the boolean false; validation failures carry `errors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub success: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// On a 500 only: the request's id, which every log line of it carries (quote it when
    /// reporting the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `bill/create` parameters (what a typed client sends; the server accepts every spelling).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateBill {
    pub amount: String,
    pub shop_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub bill_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_pays_commission: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// Filters and paging of `bill/search`, `payment/search` and `bill/payments`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Search {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `POST /sandbox/pay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SandboxPay {
    pub bill_id: String,
    /// `BANK_CARD` or `SBP`.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// `merchant/balance`: `success` is the string `"true"`, balances are decimal strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balances {
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^true$"))]
    pub success: serde_json::Value,
    pub balances: Vec<Balance>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    pub currency: String,
    pub balance_available: String,
    pub balance_locked: String,
    pub balance_hold: String,
}

/// `{"success": true, "data": [...]}`: payout creation and the SBP banks dictionary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataList<T> {
    pub success: bool,
    pub data: Vec<T>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payout {
    pub id: String,
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub order_id: Option<String>,
    pub account_identifier: String,
    pub amount: Decimal,
    pub account_amount: Decimal,
    pub commission: Decimal,
    pub account_commission: Decimal,
    pub currency: String,
    pub account_currency: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SbpBank {
    pub member_id: i64,
    pub name: String,
    pub name_en: String,
    pub bic: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub bill_id: String,
    pub status: String,
    pub amount: Decimal,
    pub currency: String,
    pub account_amount: Decimal,
    pub account_currency: String,
    pub created_at: String,
    /// Why the acquirer refused it (status FAIL only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
}
