//! The Procard permanent-links API (`/permanent-links/...`): response bodies and the callback.
//! Failures are `{"code": <negative>, "message": <text or list>}` with HTTP 200.

use serde::{Deserialize, Serialize};

/// A refusal (HTTP 200; 405 for a method other than POST): `code` negative, `message` a text
/// or per-field texts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    /// Negative: -1 to -18 (docs/procard-api.md).
    pub code: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = message_schema))]
    pub message: serde_json::Value,
}

/// `message`: a string or an array of strings.
#[cfg(feature = "openapi")]
fn message_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some("A text, or for -15 one text per invalid field."))
            .build(),
    )
}

/// `list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Links {
    pub result: i64,
    pub permanent_links: Vec<Link>,
}

/// A link as `list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    pub merchant_id: String,
    pub id: String,
    pub name: String,
    pub permanent_link: String,
    /// 0 fixed, 1 arbitrary.
    pub kind: i64,
    pub enable_counter: i64,
    /// The amounts joined by `;` (`100.00;200.00`); empty for an arbitrary link without any.
    pub amount: String,
    pub description: String,
    /// A number: `100.55`, `0`.
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub custom_amount: serde_json::Number,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub target_amount: serde_json::Number,
    pub show_total_amount: i64,
    pub language: String,
    /// `Purchase` or `P2Pin`.
    pub operation: String,
    /// P2Pin: the recipient card, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number2: Option<String>,
}

/// `create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Created {
    pub result: i64,
    pub id: String,
    pub permanent_link: String,
}

/// `update`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Done {
    pub result: i64,
}

/// `operations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operations {
    pub result: i64,
    pub operations: Vec<Operation>,
    pub per_page: i64,
    pub page: i64,
    pub total: i64,
}

/// A payment of a link.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Operation {
    pub merchant_id: String,
    pub id: i64,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    pub date: String,
    /// Decimal strings with two decimals.
    pub amount: String,
    /// `amount - fee`.
    pub total_amount: String,
    pub fee: String,
    /// `APPROVED`, `WAITING-AUTH` (listed), `DECLINED` (sandbox answers only).
    pub status: String,
    pub card_number: String,
    pub order_id: String,
    pub description: String,
    #[serde(rename = "STAN")]
    pub stan: String,
}

/// The callback paylink posts to a link's callback URL (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub operation: String,
    #[serde(rename = "merchant_id")]
    pub merchant_id: String,
    pub merchant_account: String,
    pub order_reference: String,
    /// Shortest decimal form (`100.5`).
    pub amount: String,
    pub currency: String,
    pub created_date: String,
    pub card_pan: String,
    pub card_type: String,
    pub fee: String,
    pub transaction_id: i64,
    pub transaction_status: String,
    pub reason: String,
    pub reason_code: i64,
    /// HMAC-SHA512 hex of `merchant_id;orderReference;amount;currency`.
    pub merchant_signature: String,
    /// The link the payment was made through.
    pub link_id: String,
}
