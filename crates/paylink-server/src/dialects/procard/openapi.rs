//! The OpenAPI 3.1 document of the Procard permanent-links API and the sandbox's
//! `POST /sandbox/permanent-links/pay`, generated from the handlers' `#[utoipa::path]`
//! attributes and the wire types' `ToSchema`.
//!
//! As for Cardlink, the parameter types below only describe requests: handlers read fields by
//! name through [`super::Params`], which takes a JSON object (numbers, strings, booleans; `null`
//! is an omitted field) or a form body. Handlers document a JSON body; [`document`] adds its
//! form-urlencoded twin. Every answer of a handler is HTTP 200 with the success shape or
//! Procard's `Failure`, so each 200 is described as `oneOf` the two.

// Schema-only types: never built, only described (so their size does not matter either).
#![allow(dead_code, clippy::large_enum_variant)]

use paylink_api::procard as wire;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{IntoResponses, OpenApi, ToSchema};

/// Where this document is served (docs/openapi/procard.json is a copy).
pub const SPEC_PATH: &str = "/openapi/procard.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paylink: Procard permanent-links API",
        description = "The Procard permanent-links API as paylink serves it, and the sandbox's \
            way to pay a link without a browser. Bodies are JSON objects or form-urlencoded; \
            in JSON, numeric fields may be numbers or strings, flags numbers, strings or \
            booleans, and `null` is an omitted field. Requests are authenticated by `signature`, \
            the lowercase hex HMAC-SHA512 of the fields each operation names joined by `;` under \
            the merchant's secret key (docs/procard-api.md). Every answer is HTTP 200: the \
            success shape with `result` 0, or `{\"code\": <negative>, \"message\": ...}` (a \
            request past the server's deadline too: `-1`). Other methods answer 405 with \
            `{\"code\": -15, \"message\": [...]}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(super::list, super::create, super::update, super::operations, super::sandbox_pay),
    components(schemas(wire::Failure)),
    tags(
        (name = "permanent-links", description = "Permanent links: create, change, list, and their operations."),
        (name = "sandbox", description = "Paying a link without a browser (sandbox mode)."),
    ),
)]
struct ProcardApi;

/// The document as served and committed.
pub fn document() -> Value {
    let mut doc = ProcardApi::openapi();
    for item in doc.paths.paths.values_mut() {
        if let Some(body) = item.post.as_mut().and_then(|p| p.request_body.as_mut()) {
            if let Some(json) = body.content.get("application/json").cloned() {
                body.content
                    .insert("application/x-www-form-urlencoded".into(), json);
            }
        }
    }
    let mut doc = serde_json::to_value(doc).expect("an OpenAPI document serializes");
    add_links(&mut doc);
    doc
}

/// The document as pretty JSON, ending in a newline (the committed copy's form).
pub fn document_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&document()).expect("an OpenAPI document serializes");
    text.push('\n');
    text
}

/// A created link's id is what `update`, `operations` and the sandbox take (for readers and
/// stateful testing).
fn add_links(doc: &mut Value) {
    let Some(ok) = doc.pointer_mut("/paths/~1permanent-links~1create/post/responses/200") else {
        return;
    };
    for (name, target) in [
        ("Update", "procard_update"),
        ("Operations", "procard_operations"),
        ("SandboxPay", "procard_sandbox_pay"),
    ] {
        ok["links"][name] = json!({
            "operationId": target,
            "requestBody": {"id": "$response.body#/id"},
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// `list`: the links, or a refusal.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum ListAnswer {
    Links(wire::Links),
    Failure(wire::Failure),
}

/// `create`: the new link, or a refusal.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum CreateAnswer {
    Created(wire::Created),
    Failure(wire::Failure),
}

/// `update`: done, or a refusal.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum UpdateAnswer {
    Done(wire::Done),
    Failure(wire::Failure),
}

/// `operations`: a page of operations, or a refusal.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum OperationsAnswer {
    Operations(wire::Operations),
    Failure(wire::Failure),
}

/// The sandbox's payment: the operation (`APPROVED`, or `DECLINED` for a declined card), or a
/// refusal.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum PayAnswer {
    Operation(wire::Operation),
    Failure(wire::Failure),
}

/// What the server answers on these routes besides the handler's HTTP 200, in Procard's
/// shape (`{"code": -15, "message": [...]}`).
pub struct Around;

impl IntoResponses for Around {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [("405", "A method other than POST.")]
            .into_iter()
            .map(|(status, description)| {
                (
                    status.to_string(),
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                Content::new(Some(Ref::from_schema_name("Failure"))),
                            )
                            .build(),
                    ),
                )
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

fn described(types: &[Type], description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types.iter().cloned()))
        .description(Some(description))
}

/// One amount's text: up to 8 digits, up to 2 decimals.
const AMOUNT: &str = r"[0-9]{1,8}(\.[0-9]{1,2})?";

/// An amount list: `;`-separated positive amounts with at most two decimals.
fn amount_list() -> Object {
    described(
        &[Type::String, Type::Number],
        "Kind 0: one amount or up to 20 separated by `;` (`100.00;250.50`), each from 0.01 to \
         99999999.99 with at most two decimals, shown to the payer as choices. Kind 1: empty, or \
         suggested amounts. A JSON number is read as the shortest text of its value (`100.50` as \
         `100.5`). Present even when empty. Zero and more than two decimals are refused.",
    )
    .pattern(Some(format!("^({AMOUNT}(;{AMOUNT}){{0,19}})?$")))
    .exclusive_minimum(Some(0))
    .maximum(Some(99_999_999.99))
    .build()
}

/// The sandbox's unit amount: one positive amount.
fn unit_amount() -> Object {
    described(
        &[Type::String, Type::Number],
        "The unit amount. Kind 0: one of the link's amounts (may be omitted when it has only \
         one); kind 1: required, any amount from 0.01 to 99999999.99 with at most two decimals. \
         A string or a number.",
    )
    .pattern(Some(format!("^{AMOUNT}$")))
    .exclusive_minimum(Some(0))
    .maximum(Some(99_999_999.99))
    .build()
}

/// A money field of `create`/`update`: at least 0, at most two decimals.
fn money(description: &'static str) -> impl Fn() -> Object {
    move || {
        described(
            &[Type::Number, Type::String],
            &format!(
                "{description} From 0 to 99999999.99, at most two decimals; a number or its \
                 text. Empty or omitted: 0 on create, unchanged on update."
            ),
        )
        .pattern(Some(format!("^({AMOUNT})?$")))
        .minimum(Some(0))
        .maximum(Some(99_999_999.99))
        .build()
    }
}

fn custom_amount() -> Object {
    money("Added to the accumulated amount (e.g. money collected elsewhere).")()
}

fn target_amount() -> Object {
    money("The amount the link collects towards; 0 means no target.")()
}

/// A 0/1 flag.
fn flag(description: &'static str) -> impl Fn() -> Object {
    move || {
        described(
            &[Type::Integer, Type::String],
            &format!(
                "{description} `0` or `1`, as a number or a string (a JSON body may also send \
                 `false`/`true`; a form body only `0`/`1`). Empty or omitted: 0 on create, \
                 unchanged on update."
            ),
        )
        .enum_values(Some([
            json!(0),
            json!(1),
            json!("0"),
            json!("1"),
            json!(""),
        ]))
        .build()
    }
}

fn enable_counter() -> Object {
    flag("The page has a quantity control (1 to 1000); the total is amount × quantity.")()
}

fn show_total_amount() -> Object {
    flag("The page shows the accumulated amount against `target_amount`.")()
}

fn kind() -> Object {
    described(
        &[Type::Integer, Type::String],
        "`0` fixed (the amounts of `amount` as choices, the default) or `1` arbitrary (the payer \
         types the amount), as a number or a string.",
    )
    .enum_values(Some([
        json!(0),
        json!(1),
        json!("0"),
        json!("1"),
        json!(""),
    ]))
    .build()
}

fn languages() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(LANGUAGES.iter().copied()))
        .description(Some("The page's language."))
        .build()
}

fn operation_types() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(OPERATIONS.iter().copied()))
        .description(Some(
            "`Purchase`: payments to the merchant; `P2Pin`: each payment is paid on to the card \
             `card_number2` (a payout). Another value answers -11.",
        ))
        .build()
}

fn signature() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Lowercase hex HMAC-SHA512 (128 characters; upper case is taken too) of the fields \
             this operation names, joined by `;`, under the merchant's secret key. Missing: -13; \
             wrong: -4.",
        ))
        .build()
}

fn whole(description: &'static str, max: Option<f64>) -> Object {
    described(
        &[Type::Integer, Type::String],
        &format!("{description} A number or its text."),
    )
    .pattern(Some("^[0-9]*$"))
    .minimum(Some(1))
    .maximum(max)
    .build()
}

fn per_page() -> Object {
    whole(
        "Operations per page, at least 1; default 100, larger values are cut to 1000.",
        None,
    )
}

fn page() -> Object {
    whole(
        "The page, from 1 (the default) to 1000000000.",
        Some(1_000_000_000.0),
    )
}

fn quantity() -> Object {
    whole(
        "With `enable_counter`: 1 (the default) to 1000; without it only 1.",
        Some(1000.0),
    )
}

pub(crate) const LANGUAGES: &[&str] = &["ukr", "en", "ru"];
pub(crate) const OPERATIONS: &[&str] = &["Purchase", "P2Pin"];

/// `list`: signed over `merchant_id`.
#[derive(ToSchema)]
#[schema(example = json!({
    "merchant_id": "TEST_TRADER_2",
    "signature": "48b703683479549e99c01ade60dc6b8d5207bd6001acab081e639dbed54a3c765982694008a3bcd025abff600e0cfc2c140f5461c322e0786db273e5e0d0d471",
}))]
pub struct ListParams {
    /// The merchant's Procard login (`paylink procard enable`). Missing: -2; unknown: -3.
    merchant_id: String,
    /// Over `merchant_id`.
    #[schema(schema_with = signature)]
    signature: String,
}

/// `create`: signed over `merchant_id;operation;amount;language`.
#[derive(ToSchema)]
#[schema(example = json!({
    "merchant_id": "TEST_TRADER_2",
    "signature": "<hex HMAC-SHA512 of TEST_TRADER_2;Purchase;100.00;200.00;en>",
    "operation": "Purchase",
    "name": "Tickets",
    "description": "Concert tickets",
    "kind": 0,
    "amount": "100.00;200.00",
    "language": "en",
    "enable_counter": 1,
    "target_amount": 10000,
    "show_total_amount": 1,
}))]
pub struct CreateParams {
    merchant_id: String,
    /// Over `merchant_id;operation;amount;language`, `amount` as sent or with each amount in
    /// its shortest form (`100.5;200`).
    #[schema(schema_with = signature)]
    signature: String,
    #[schema(schema_with = operation_types)]
    operation: String,
    /// Shown on the page, at most 255 characters, no control characters.
    #[schema(max_length = 255)]
    name: String,
    /// Shown on the page, at most 1024 characters, no control characters.
    #[schema(max_length = 1024)]
    description: String,
    #[schema(schema_with = amount_list)]
    amount: String,
    #[schema(schema_with = languages)]
    language: String,
    #[schema(schema_with = kind, required = false)]
    kind: i64,
    #[schema(schema_with = enable_counter, required = false)]
    enable_counter: i64,
    #[schema(schema_with = custom_amount, required = false)]
    custom_amount: f64,
    #[schema(schema_with = target_amount, required = false)]
    target_amount: f64,
    #[schema(schema_with = show_total_amount, required = false)]
    show_total_amount: i64,
    /// `P2Pin` only, and required there (-14): the recipient card, passing the Luhn check
    /// (else -6). Kept sealed; `list` shows it masked.
    #[schema(required = false)]
    card_number2: String,
    /// An http(s) URL the callback of each payment goes to (default: the merchant's, from
    /// `paylink procard enable --callback-url`). Signed, after the protocol's fields, when sent.
    #[schema(required = false, max_length = 2048)]
    callback_url: String,
}

/// `update`: signed over `merchant_id;id;amount;language`; omitted optional fields keep their
/// values. The kind and the operation of a link do not change.
#[derive(ToSchema)]
#[schema(example = json!({
    "merchant_id": "TEST_TRADER_2",
    "signature": "<hex HMAC-SHA512 of TEST_TRADER_2;<id>;150.00;ukr>",
    "id": "<id>",
    "name": "Tickets",
    "description": "Concert tickets",
    "amount": "150.00",
    "language": "ukr",
}))]
pub struct UpdateParams {
    merchant_id: String,
    /// Over `merchant_id;id;amount;language`.
    #[schema(schema_with = signature)]
    signature: String,
    /// The link (`id` of `create` or `list`); another merchant's or an unknown one: -16.
    id: String,
    /// At most 255 characters, no control characters.
    #[schema(max_length = 255)]
    name: String,
    /// At most 1024 characters, no control characters.
    #[schema(max_length = 1024)]
    description: String,
    #[schema(schema_with = amount_list)]
    amount: String,
    #[schema(schema_with = languages)]
    language: String,
    #[schema(schema_with = enable_counter, required = false)]
    enable_counter: i64,
    #[schema(schema_with = custom_amount, required = false)]
    custom_amount: f64,
    #[schema(schema_with = target_amount, required = false)]
    target_amount: f64,
    #[schema(schema_with = show_total_amount, required = false)]
    show_total_amount: i64,
    /// As for `create` (signed when sent); empty: the merchant's default again.
    #[schema(required = false, max_length = 2048)]
    callback_url: String,
}

/// `operations`: signed over `merchant_id;id`.
#[derive(ToSchema)]
#[schema(example = json!({
    "merchant_id": "TEST_TRADER_2",
    "signature": "<hex HMAC-SHA512 of TEST_TRADER_2;<id>>",
    "id": "<id>",
    "per_page": 100,
    "page": 1,
}))]
pub struct OperationsParams {
    merchant_id: String,
    /// Over `merchant_id;id`.
    #[schema(schema_with = signature)]
    signature: String,
    /// The link; another merchant's or an unknown one: -16.
    id: String,
    #[schema(schema_with = per_page, required = false)]
    per_page: i64,
    #[schema(schema_with = page, required = false)]
    page: i64,
}

/// `POST /sandbox/permanent-links/pay`: no merchant authentication (the payer's side).
#[derive(ToSchema)]
#[schema(example = json!({
    "id": "<id>",
    "amount": "100.00",
    "quantity": 2,
    "card_number": "4242424242424242",
}))]
pub struct SandboxPayParams {
    /// The link.
    id: String,
    #[schema(schema_with = unit_amount, required = false)]
    amount: String,
    #[schema(schema_with = quantity, required = false)]
    quantity: i64,
    /// A sandbox test card (README): `4242424242424242` is approved, `4000000000000002`
    /// declined, `4000000000003220` asks for 3-D Secure first. Not passing the Luhn check: -6.
    card_number: String,
    /// `fail` fails the 3-D Secure challenge of the 3-D Secure test card.
    #[schema(required = false)]
    three_ds: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use paylink_core::permanent_link::{Language, LinkFlow};

    /// The committed copy is what the code generates; `PAYLINK_UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn committed_copy_is_what_the_code_generates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/openapi/procard.json");
        let generated = document_json();
        if std::env::var_os("PAYLINK_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi/procard.json differs from what the code generates: regenerate it with \
             `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy` and \
             commit it"
        );
    }

    #[test]
    fn documented_choices_are_what_the_parsers_take() {
        for l in LANGUAGES {
            assert!(Language::parse(l).is_some(), "{l}");
        }
        for o in OPERATIONS {
            assert!(LinkFlow::parse(o).is_some(), "{o}");
        }
    }
}
