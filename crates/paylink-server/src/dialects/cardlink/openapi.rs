//! The OpenAPI 3.1 document of the Cardlink API, the sandbox helper and `/health`, generated
//! from the handlers' `#[utoipa::path]` attributes and the wire types' `ToSchema`.
//!
//! The parameter types below exist only to describe requests: handlers read parameters by name
//! through [`super::params::Fields`] (every spelling Cardlink clients use), so the documented
//! form is written here, next to the code, and a test checks every listed choice against the
//! parser that reads it. Handlers document a JSON body; [`document`] adds the form-urlencoded
//! twin of every body (the parameter extractor reads both), and, since every `/api/v1` route
//! answers GET and POST alike (compat 1), the GET operation with the same fields as query
//! parameters.

// Schema-only types: never built, only described.
#![allow(dead_code)]

use paylink_api::cardlink as wire;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// Where this document is served (docs/openapi/cardlink.json is a copy).
pub const SPEC_PATH: &str = "/openapi/cardlink.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paylink: Cardlink merchant API",
        description = "The Cardlink merchant API as paylink serves it, the sandbox payment helper \
            and the health check. Parameters are documented as form-urlencoded or JSON bodies on \
            POST and as query parameters on GET; the server also takes them in a multipart body \
            and merges query and body (see docs/cardlink-api.md). Every failure is JSON \
            `{\"success\": false, \"message\": ...}`; unknown paths answer 404 and other methods \
            405 in the same shape. The sandbox's HTML pages (3-D Secure, SBP bank) are for \
            browsers and are not described here.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::create_bill,
        super::toggle_activity,
        super::bill_status,
        super::bill_payments,
        super::bill_search,
        super::payment_status,
        super::payment_search,
        super::money::balance,
        super::money::personal_payout,
        super::money::regular_payout,
        super::money::payout_status,
        super::money::payout_search,
        super::money::payout_cancel,
        super::money::sbp_banks,
        super::money::full_refund,
        super::money::partial_refund,
        super::money::refund_status,
        super::money::refund_search,
        super::sandbox_pay,
        crate::app::health,
        crate::app::live,
        crate::app::ready,
    ),
    components(schemas(wire::ErrorBody)),
    modifiers(&Refusals),
    tags(
        (name = "bills", description = "Bills: what a payer pays."),
        (name = "payments", description = "Payments made on bills."),
        (name = "merchant", description = "The merchant's balances."),
        (name = "payouts", description = "Payouts from the merchant's balance."),
        (name = "refunds", description = "Refunds of payments."),
        (name = "sandbox", description = "Paying bills without a browser (sandbox mode)."),
        (name = "health", description = "Liveness and readiness."),
    ),
)]
struct CardlinkApi;

/// The document as served and committed: GET operations derived, links added.
pub fn document() -> Value {
    let mut doc = CardlinkApi::openapi();
    let schemas = doc
        .components
        .as_ref()
        .map(|c| c.schemas.clone())
        .unwrap_or_default();
    for (path, item) in doc.paths.paths.iter_mut() {
        if IDEMPOTENT.contains(&path.as_str()) {
            if let Some(post) = item.post.as_mut() {
                post.parameters
                    .get_or_insert_with(Vec::new)
                    .push(idempotency_key());
            }
        }
        if let Some(body) = item.post.as_mut().and_then(|p| p.request_body.as_mut()) {
            if let Some(json) = body.content.get("application/json").cloned() {
                body.content
                    .insert("application/x-www-form-urlencoded".into(), json);
            }
        }
        if path.starts_with("/api/v1/") {
            if let Some(post) = &item.post {
                item.get = Some(as_query(post, &schemas));
            }
        }
    }
    let mut doc = serde_json::to_value(doc).expect("an OpenAPI document serializes");
    add_links(&mut doc);
    doc
}

/// The writes that honour `Idempotency-Key` (docs/cardlink-api.md).
const IDEMPOTENT: &[&str] = &[
    "/api/v1/bill/create",
    "/api/v1/bill/toggle_activity",
    "/api/v1/payout/personal/create",
    "/api/v1/payout/regular/create",
    "/api/v1/payout/cancel",
    "/api/v1/refund/full/create",
    "/api/v1/refund/partial/create",
];

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Any 1 to 255 printable ASCII characters, unique per operation: the same key with \
             the same request replays the first answer byte for byte (with \
             `Idempotent-Replayed: true`) without doing the work again; with another request it \
             is refused with 422 `errors.idempotency_key`. Kept 24 hours by default.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[\\x20-\\x7E]+$")),
        ))
        .build()
}

/// The document as pretty JSON, ending in a newline (the committed copy's form).
pub fn document_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&document()).expect("an OpenAPI document serializes");
    text.push('\n');
    text
}

/// The GET twin of a POST operation: its body's fields as query parameters.
fn as_query(post: &Operation, schemas: &BTreeMap<String, RefOr<Schema>>) -> Operation {
    let mut get = post.clone();
    get.request_body = None;
    get.operation_id = post.operation_id.as_ref().map(|id| format!("{id}_get"));
    let body = post
        .request_body
        .as_ref()
        .and_then(|b| b.content.get("application/x-www-form-urlencoded"))
        .and_then(|c| c.schema.as_ref());
    let object = match body {
        Some(RefOr::Ref(r)) => r
            .ref_location
            .rsplit('/')
            .next()
            .and_then(|name| schemas.get(name)),
        Some(inline) => Some(inline),
        None => None,
    };
    let mut parameters: Vec<Parameter> = Vec::new();
    if let Some(RefOr::T(Schema::Object(object))) = object {
        for (name, schema) in &object.properties {
            let description = match schema {
                RefOr::T(Schema::Object(o)) => o.description.clone(),
                _ => None,
            };
            let required = if object.required.contains(name) {
                Required::True
            } else {
                Required::False
            };
            parameters.push(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(required)
                    .description(description)
                    .schema(Some(schema.clone()))
                    .build(),
            );
        }
    }
    get.parameters = (!parameters.is_empty()).then_some(parameters);
    get
}

/// Links for stateful testing and for readers: an object created by one operation is read by
/// the next through its id. (Written into the JSON: utoipa 5 spells a link's `operationId` as
/// `operation_id`.)
fn add_links(doc: &mut Value) {
    let links: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "/api/v1/bill/create",
            "post",
            "BillStatus",
            "bill_status_get",
            "id",
            "/bill_id",
        ),
        (
            "/api/v1/bill/create",
            "post",
            "BillPayments",
            "bill_payments_get",
            "id",
            "/bill_id",
        ),
        (
            "/api/v1/bill/create",
            "post",
            "ToggleActivity",
            "toggle_activity_get",
            "id",
            "/bill_id",
        ),
        (
            "/api/v1/bill/create",
            "get",
            "BillStatus",
            "bill_status_get",
            "id",
            "/bill_id",
        ),
        (
            "/api/v1/bill/create",
            "get",
            "BillPayments",
            "bill_payments_get",
            "id",
            "/bill_id",
        ),
        (
            "/api/v1/bill/create",
            "get",
            "PaymentSearch",
            "payment_search_get",
            "bill_id",
            "/bill_id",
        ),
        (
            "/sandbox/pay",
            "post",
            "PaymentStatus",
            "payment_status_get",
            "id",
            "/id",
        ),
        (
            "/sandbox/pay",
            "post",
            "FullRefund",
            "full_refund_get",
            "payment_id",
            "/id",
        ),
        (
            "/sandbox/pay",
            "post",
            "PartialRefund",
            "partial_refund_get",
            "payment_id",
            "/id",
        ),
        (
            "/sandbox/pay",
            "post",
            "RefundSearch",
            "refund_search_get",
            "payment_id",
            "/id",
        ),
        (
            "/api/v1/refund/full/create",
            "post",
            "RefundStatus",
            "refund_status_get",
            "id",
            "/id",
        ),
        (
            "/api/v1/refund/partial/create",
            "post",
            "RefundStatus",
            "refund_status_get",
            "id",
            "/id",
        ),
        (
            "/api/v1/payout/regular/create",
            "post",
            "PayoutStatus",
            "payout_status_get",
            "id",
            "/data/0/id",
        ),
        (
            "/api/v1/payout/regular/create",
            "post",
            "PayoutCancel",
            "payout_cancel_get",
            "id",
            "/data/0/id",
        ),
    ];
    for (path, method, name, target, parameter, pointer) in links {
        let Some(ok) = doc.pointer_mut(&format!(
            "/paths/{}/{method}/responses/200",
            path.replace('/', "~1")
        )) else {
            continue;
        };
        ok["links"][*name] = json!({
            "operationId": target,
            "parameters": {*parameter: format!("$response.body#{pointer}")},
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals: the answers every handler that reads parameters can give besides its success.
// ---------------------------------------------------------------------------------------------

const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "An unreadable body (malformed multipart), or a documented `api:error.<key>` of this \
         endpoint (`too_many_*` on lists; the payout refusals).",
    ),
    (
        "401",
        "Unauthenticated",
        "No `Authorization: Bearer <id>|<secret>`, or a wrong or revoked token: \
         `{\"success\": false, \"message\": \"Unauthenticated.\"}`.",
    ),
    (
        "403",
        "Forbidden",
        "A documented `api:error.<key>`: `merchant_banned`, `merchant_subscription_inactive`, \
         `merchant_subscription_not_found` on every endpoint; per endpoint `invalid_amount`, \
         `shop_not_found`, `shop_not_enabled`, `access_denied`, `bill_is_finished`, \
         `bill_inactive`, `bill_expired`, `bill_busy` (sandbox/pay: another payer's charge \
         holds the NORMAL bill), `bill_not_found` (bill/payments), `rate-not-found`, \
         `no_payout`, or the plain `This action is unauthorized.`",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than `body_limit_bytes` (64 KiB by default).",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "A body that is not JSON, form-urlencoded or multipart.",
    ),
    (
        "422",
        "Unprocessable",
        "Validation failed (Laravel's shape, with `errors`: field → messages), or the named \
         object is not the merchant's: `api:error.bill_not_found`, `payment_not_found`, \
         `payout_not_found`, `refund_not_found`.",
    ),
    (
        "429",
        "TooManyFailedAttempts",
        "`api:error.too_many_failed_attempts`: too many declined cards on this bill or from this \
         client address within the card-testing window (`[checkout]`); try again later.",
    ),
    (
        "503",
        "Unavailable",
        "The request did not finish within the server's deadline (30 s by default), or the \
         database was out of reach (a failover): retry with the same Idempotency-Key.",
    ),
];

/// Adds the shared refusal responses and the bearer scheme to the components.
struct Refusals;

impl Modify for Refusals {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        for (_, name, description) in REFUSALS {
            components
                .responses
                .insert(name.to_string(), RefOr::T(error_response(description)));
        }
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("<id>|<secret>")
                    .description(Some(
                        "The API token printed by `paylink merchant create` or \
                         `paylink token refresh`.",
                    ))
                    .build(),
            ),
        );
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

fn refusals(codes: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    REFUSALS
        .iter()
        .filter(|(code, _, _)| codes.contains(code))
        .map(|(code, name, _)| (code.to_string(), RefOr::Ref(Ref::from_response_name(*name))))
        .collect()
}

/// What a handler reading Cardlink parameters may answer besides success.
pub struct ParamRefusals;

impl IntoResponses for ParamRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refusals(&["400", "401", "403", "413", "415", "422", "503"])
    }
}

/// What `/sandbox/pay` may answer besides success: a handler's refusals and the card-testing
/// limit.
pub struct PayRefusals;

impl IntoResponses for PayRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refusals(&["400", "401", "403", "413", "415", "422", "429", "503"])
    }
}

/// What a handler without parameters may answer besides success.
pub struct AuthRefusals;

impl IntoResponses for AuthRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refusals(&["401", "403", "503"])
    }
}

/// What `/health` may answer besides success.
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refusals(&["503"])
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// A string among `values`; the server reads them in any letter case.
fn choice(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Each documented choice list, and the `schema_with` function that describes it.
macro_rules! choices {
    ($($list:ident, $schema:ident: [$($value:literal),* $(,)?];)*) => {$(
        pub(crate) const $list: &[&str] = &[$($value),*];
        fn $schema() -> Object {
            choice($list)
        }
    )*};
}

choices! {
    BILL_TYPES, bill_types: ["normal", "multi"];
    CURRENCIES, currencies: ["RUB", "USD", "EUR", "KZT"];
    PAYMENT_METHODS, payment_methods: ["BANK_CARD", "SBP"];
    LOCALES, locales: ["ru", "en"];
    ACCOUNT_TYPES, account_types: ["credit_card", "card", "bank_card", "sbp"];
    PAYOUT_STATUSES, payout_statuses: [
        "NEW", "MODERATING", "PROCESS", "SUCCESS", "FAIL", "ERROR", "DECLINED",
    ];
    REFUND_STATUSES, refund_statuses: ["PROCESS", "SUCCESS", "FAIL"];
}

/// A decimal amount: from 0.01 to 99,999,999.99 with at most two decimals (else 403
/// `invalid_amount`, 400 on payout creation). JSON bodies may send it as a number too.
fn amount() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[0-9]{1,8}(\.[0-9]{1,2})?$"))
        .description(Some(
            "A decimal from 0.01 to 99999999.99, at most two decimals (a JSON number too).",
        ))
        .build()
}

/// A filter date: `YYYY-MM-DD`, optionally with a time and an offset (UTC without one).
fn filter_date() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .examples([
            "2026-11-21",
            "2026-11-21 12:25:01",
            "2026-11-21T12:25:01+03:00",
        ])
        .description(Some(
            "`YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.ffffff]]` or the ISO `T` form, with an \
             optional `Z` or `±HH[:MM]` offset.",
        ))
        .build()
}

/// `bill/create`.
#[derive(ToSchema)]
pub struct BillCreateParams {
    #[schema(schema_with = amount)]
    amount: String,
    /// One of the merchant's shops.
    shop_id: String,
    /// `normal` (one payment, the default) or `multi`.
    #[schema(schema_with = bill_types, required = false)]
    r#type: String,
    /// Default: the shop's currency.
    #[schema(schema_with = currencies, required = false)]
    currency_in: String,
    #[schema(max_length = 255, required = false)]
    order_id: String,
    #[schema(max_length = 1024, required = false)]
    description: String,
    #[schema(max_length = 255, required = false)]
    name: String,
    /// Comes back in postbacks.
    #[schema(max_length = 2048, required = false)]
    custom: String,
    /// The only method the payer may use.
    #[schema(schema_with = payment_methods, required = false)]
    payment_method: String,
    /// Seconds the bill accepts payments.
    #[schema(minimum = 1, maximum = 31622400, required = false)]
    ttl: i64,
    /// An http(s) URL; overrides the shop's.
    #[schema(max_length = 2048, required = false)]
    success_url: String,
    #[schema(max_length = 2048, required = false)]
    fail_url: String,
    #[schema(max_length = 2048, required = false)]
    return_url: String,
    /// The payer is charged the amount plus the fee.
    #[schema(required = false)]
    payer_pays_commission: bool,
    #[schema(schema_with = locales, required = false)]
    locale: String,
    #[schema(required = false)]
    payer_email: String,
}

/// `bill/toggle_activity`.
#[derive(ToSchema)]
pub struct ToggleParams {
    /// The bill.
    id: String,
    active: bool,
}

/// An object named by its id.
#[derive(ToSchema)]
pub struct IdParams {
    id: String,
}

/// `payment/status`.
#[derive(ToSchema)]
pub struct PaymentStatusParams {
    id: String,
    /// Adds the payment's refunds.
    #[schema(required = false)]
    refunds: bool,
    /// Adds a `chargeback` array (always empty).
    #[schema(required = false)]
    chargeback: bool,
}

/// `bill/payments`.
#[derive(ToSchema)]
pub struct BillPaymentsParams {
    /// The bill.
    id: String,
    #[schema(minimum = 1, maximum = 500, required = false)]
    per_page: i64,
    /// `next_cursor` or `prev_cursor` of a previous page.
    #[schema(required = false)]
    cursor: String,
}

/// `bill/search`.
#[derive(ToSchema)]
pub struct BillSearchParams {
    #[schema(schema_with = filter_date, required = false)]
    start_date: String,
    #[schema(schema_with = filter_date, required = false)]
    finish_date: String,
    #[schema(required = false)]
    shop_id: String,
    #[schema(required = false)]
    order_id: String,
    #[schema(minimum = 1, maximum = 500, required = false)]
    per_page: i64,
    #[schema(required = false)]
    cursor: String,
}

/// `payment/search`.
#[derive(ToSchema)]
pub struct PaymentSearchParams {
    #[schema(schema_with = filter_date, required = false)]
    start_date: String,
    #[schema(schema_with = filter_date, required = false)]
    finish_date: String,
    #[schema(required = false)]
    shop_id: String,
    #[schema(required = false)]
    bill_id: String,
    /// The bill's order id (`order_id` is taken as it too).
    #[schema(required = false)]
    bill_order_id: String,
    #[schema(minimum = 1, maximum = 500, required = false)]
    per_page: i64,
    #[schema(required = false)]
    cursor: String,
}

/// `payout/search`.
#[derive(ToSchema)]
pub struct PayoutSearchParams {
    #[schema(schema_with = filter_date, required = false)]
    start_date: String,
    #[schema(schema_with = filter_date, required = false)]
    finish_date: String,
    #[schema(required = false)]
    order_id: String,
    #[schema(schema_with = payout_statuses, required = false)]
    status: String,
    #[schema(minimum = 1, maximum = 500, required = false)]
    per_page: i64,
    #[schema(required = false)]
    cursor: String,
}

/// `refund/search`.
#[derive(ToSchema)]
pub struct RefundSearchParams {
    #[schema(schema_with = filter_date, required = false)]
    start_date: String,
    #[schema(schema_with = filter_date, required = false)]
    finish_date: String,
    #[schema(required = false)]
    payment_id: String,
    #[schema(schema_with = refund_statuses, required = false)]
    status: String,
    #[schema(minimum = 1, maximum = 500, required = false)]
    per_page: i64,
    #[schema(required = false)]
    cursor: String,
}

/// `payout/personal/create`.
#[derive(ToSchema)]
pub struct PersonalPayoutParams {
    /// What the recipient gets.
    #[schema(schema_with = amount)]
    amount: String,
    /// An account the operator registered for this merchant.
    payout_account_id: String,
    /// Default `RUB`.
    #[schema(schema_with = currencies, required = false)]
    currency: String,
    /// Unique per merchant.
    #[schema(required = false)]
    order_id: String,
}

/// `payout/regular/create`.
#[derive(ToSchema)]
pub struct RegularPayoutParams {
    /// What the recipient gets.
    #[schema(schema_with = amount)]
    amount: String,
    #[schema(schema_with = currencies)]
    currency: String,
    #[schema(schema_with = account_types)]
    account_type: String,
    /// A card number, or for SBP a Russian mobile number.
    account_identifier: String,
    /// Cards: the name on the card, at most 64 characters.
    #[schema(max_length = 64, required = false)]
    card_holder: String,
    /// SBP: the bank's `member_id` from `payout/dictionaries/sbp_banks`.
    #[schema(required = false)]
    account_bank: i64,
    /// Unique per merchant.
    #[schema(required = false)]
    order_id: String,
}

/// A payout named by `id` or by `order_id` (one of them is required).
#[derive(ToSchema)]
pub struct PayoutRefParams {
    #[schema(required = false)]
    id: String,
    #[schema(required = false)]
    order_id: String,
}

/// `refund/full/create`.
#[derive(ToSchema)]
pub struct FullRefundParams {
    payment_id: String,
}

/// `refund/partial/create`.
#[derive(ToSchema)]
pub struct PartialRefundParams {
    payment_id: String,
    /// In the payment's currency.
    #[schema(schema_with = amount)]
    amount: String,
}

/// `POST /sandbox/pay`.
#[derive(ToSchema)]
pub struct SandboxPayParams {
    bill_id: String,
    #[schema(schema_with = payment_methods)]
    method: String,
    /// `BANK_CARD`: a test card number (see docs/cardlink-api.md).
    #[schema(required = false)]
    card_number: String,
    /// `SBP`: the amount the payer sends (default: the bill's).
    #[schema(schema_with = amount, required = false)]
    amount: String,
    /// `SBP`: the payer's phone as their bank reports it (kept as a keyed fingerprint, so the
    /// payer can find the charge by it on "Find transactions").
    #[schema(required = false)]
    phone: String,
    /// `fail` fails the 3-D Secure challenge of the 3-D Secure test card.
    #[schema(required = false)]
    three_ds: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use paylink_core::bill::{BillType, Locale};
    use paylink_core::money::Currency;
    use paylink_core::payment::PaymentMethod;
    use paylink_core::payout::{AccountType, PayoutStatus};
    use paylink_core::refund::RefundStatus;
    use std::str::FromStr;

    fn all_parse<T: FromStr>(values: &[&str]) {
        for v in values {
            assert!(T::from_str(v).is_ok(), "{v} is documented but refused");
        }
    }

    /// The committed copy is what the code generates; `PAYLINK_UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn committed_copy_is_what_the_code_generates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/openapi/cardlink.json");
        let generated = document_json();
        if std::env::var_os("PAYLINK_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi/cardlink.json differs from what the code generates: regenerate it with \
             `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy` \
             (or `paylink openapi > docs/openapi/cardlink.json`) and commit it"
        );
    }

    #[test]
    fn documented_choices_are_what_the_parsers_take() {
        all_parse::<BillType>(BILL_TYPES);
        all_parse::<Currency>(CURRENCIES);
        all_parse::<PaymentMethod>(PAYMENT_METHODS);
        all_parse::<Locale>(LOCALES);
        all_parse::<AccountType>(ACCOUNT_TYPES);
        assert_eq!(
            PAYOUT_STATUSES,
            PayoutStatus::ALL.map(PayoutStatus::as_str).as_slice()
        );
        for s in REFUND_STATUSES {
            assert!(RefundStatus::parse(s).is_some(), "{s}");
        }
    }
}
