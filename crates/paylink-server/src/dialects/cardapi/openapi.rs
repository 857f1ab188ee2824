//! The OpenAPI 3.1 document of the Card API v5 as paylink serves it (issue 12;
//! `../shared/compat/card-api.md` and the wire notes of issue 12), for readers and for contract
//! fuzzing (`tests/fuzz/cardapi_hooks.py`).
//!
//! Written by hand with `serde_json::json!`: the handlers read their bodies field by field and
//! carry no utoipa attributes, so there is nothing to derive the document from. Each method is
//! one row of [`methods`]; [`document`] turns the rows into paths and named schemas.
//!
//! Every call is a POST of a JSON object signed in `X-JWS-Signature`. Business refusals and
//! validation failures answer HTTP 200 with `"status": "error"`, so every 200 is `oneOf` the
//! method's success shape and the error envelope (they differ in `status`). A body that is not
//! a JSON object answers 400 and a failed signature 401, both with the error envelope. Gift
//! cards (`/v5/cards/...`) use the older envelope: `datetime` and an integer `status`.

use serde_json::{json, Map, Value};

/// Where this document is served (docs/openapi/cardapi.json is a copy).
pub const SPEC_PATH: &str = "/openapi/cardapi.json";

/// Every `error_code` the dialect answers.
pub(crate) const ERROR_CODES: &[&str] = &[
    "invalid_signature",
    "unknown_auth_id",
    "uri_method_mismatch",
    "duplicate_request_id",
    "validation_error",
    "client_not_found",
    "card_not_found",
    "card_inactive",
    "card_blocked",
    "card_closed",
    "insufficient_funds",
    "limit_exceeded",
    "product_not_available",
    "otp_invalid",
    "otp_expired",
    "transaction_not_found",
    "amount_exceeds_authorized",
    "request_not_found",
    "internal_error",
];

/// The codes of a 401: the signature's.
pub(crate) const AUTH_ERROR_CODES: &[&str] = &[
    "invalid_signature",
    "unknown_auth_id",
    "uri_method_mismatch",
];

pub(crate) const CURRENCIES: &[&str] = &["KZT", "USD", "EUR", "RUB"];

/// Client products: wallet, instant and electron card.
pub(crate) const PRODUCTS: &[u32] = &[1000, 2000, 3000];

/// Card statuses: inactive, active, blocked, closed (final), expired.
pub(crate) const CARD_STATUSES: &[u8] = &[0, 1, 2, 3, 4];

pub(crate) const CARD_TYPES: &[&str] = &["virtual", "gift"];

pub(crate) const TRANSACTION_TYPES: &[&str] = &["credit", "debit", "authorization", "refund"];

pub(crate) const TRANSACTION_STATUSES: &[&str] =
    &["process", "success", "error", "refunded", "reversed"];

/// A request id: what `check_request_id` in core takes.
pub(crate) const REQUEST_ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";

/// An amount as sent: up to 8 digits, up to 2 decimals.
const AMOUNT_PATTERN: &str = r"^[0-9]{1,8}(\.[0-9]{1,2})?$";

/// An amount as answered: always two decimals.
const MONEY_PATTERN: &str = r"^[0-9]+\.[0-9]{2}$";

/// The envelope's `dt`: RFC 3339 with a numeric offset, whole seconds.
const DT_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$";

/// `YYYY-MM-DD HH:MM:SS` (UTC): `created_at`, and the gift envelope's `datetime`.
const DATETIME_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$";

const DESCRIPTION: &str = "The Card API v5 as paylink serves it: clients (cardholders), virtual \
    cards, card transactions, cardholder validation and gift cards, for partners \
    (`paylink partner create`). Every call is a POST of a JSON object, signed in the \
    `X-JWS-Signature` header (see the `jws` security scheme), and every body carries a \
    `request_id` (1 to 64 characters of `A-Z a-z 0-9 . _ : -`, normally a UUID) that is unique \
    per partner: a repeat answers `duplicate_request_id` and does nothing, and failed requests \
    use up their id too. The status lookups (`request/status`, `transaction/request/status`) \
    take the id of the ORIGINAL request instead. Amounts are decimal strings in major units \
    (`\"1500.00\"`; up to two decimals on input, always two on output); currencies are KZT, \
    USD, EUR and RUB (any case on input, upper case on output).\n\n\
    Under `/v5/card-api/` (and `/v5/partner/`) an answer is the envelope \
    `{\"status\": \"ok\", \"request_status\": \"success\" | \"process\", \"dt\": \
    \"2026-12-05T14:05:45+00:00\", ...}` with the method's fields, or, for a refusal, \
    `{\"status\": \"error\", \"request_status\": \"error\", \"dt\": ..., \"error_code\": ..., \
    \"error_description\": ...}`. Refusals answer HTTP 200; a body that is not a JSON object \
    400 (`validation_error`); a signature that does not verify 401 (`invalid_signature`, \
    `unknown_auth_id`, `uri_method_mismatch`). Gift cards under `/v5/cards/` answer the older \
    envelope `{\"datetime\": \"2026-12-05 14:05:45\", \"status\": 0, ...}`, with `status` 1, \
    `error_code` and `error_description` for a refusal, on the same HTTP statuses.";

const JWS_DESCRIPTION: &str = "A detached JWS (RFC 7515, HS512): \
    `<b64url(header)>..<b64url(signature)>`, the compact form with its payload part left empty (a \
    payload part holding the base64url body is taken too). The protected header is the compact \
    JSON `{\"uri\":\"/v5/card-api/request/status\",\"auth_id\":\"<partner \
    id>\",\"method\":\"POST\",\"params\":\"\",\"alg\":\"HS512\"}`: `uri` the request path, \
    `auth_id` the partner's id, `method` the HTTP method, `params` the raw query string (empty \
    when there is none), `alg` exactly `HS512`. The signature is HMAC-SHA512 under the partner's \
    secret key over `b64url(header) + \".\" + b64url(body)`, over the exact body bytes sent; \
    base64url is without padding. The server checks the header segment as received, so a signer \
    may order or space the header as it likes, but partners' signers write it compactly in the \
    order above (`/` not escaped), which reproduces the seed's example: key `secret`, auth_id \
    `123456`, body `{\"request_id\":\"828cf71d-a447-4a67-a149-c1df8bc197ca\"}` sign to \
    `eyJ1cmkiOiIvdjUvY2FyZC1hcGkvcmVxdWVzdC9zdGF0dXMiLCJhdXRoX2lkIjoiMTIzNDU2IiwibWV0aG9kIjoiUE9TVCIsInBhcmFtcyI6IiIsImFsZyI6IkhTNTEyIn0..\
    f1sQoeIpX_ZjOaykQzSeylvvKaVrEQV4gNM2ACFbEMkFDUV9Zk5WO1yQGEWez-vnQMVHodLBDVEyh5Xm2-3MjQ`. \
    A missing or wrong signature answers 401 `invalid_signature`, an unknown partner \
    `unknown_auth_id`, a header naming another path, method or query `uri_method_mismatch`.";

const TAGS: &[(&str, &str)] = &[
    ("requests", "What became of an earlier request."),
    (
        "clients",
        "Clients: the people (or companies) cards are issued to.",
    ),
    ("cards", "Virtual cards: issue, link, change status, read."),
    ("cardholders", "Whether a person is the holder of a card."),
    (
        "transactions",
        "Money onto and off cards: funding, debits, clearings, refunds.",
    ),
    (
        "sandbox",
        "Card payments as a merchant's acquirer would make them (sandbox mode only).",
    ),
    (
        "gift-cards",
        "Gift cards: prepaid cards activated with a code sent by SMS (the older envelope).",
    ),
];

/// The document as served and committed.
pub fn document() -> Value {
    let methods = methods();
    let mut schemas = shared_schemas();
    let mut paths = Map::new();
    for m in &methods {
        let name = m.name;
        // The alias of cardholder validation shares the schemas of the main path.
        if !schemas.contains_key(&format!("{name}Request")) {
            schemas.insert(format!("{name}Request"), m.request.clone());
            schemas.insert(format!("{name}Ok"), m.success.clone());
        }
        paths.insert(m.path.to_string(), json!({ "post": operation(m) }));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "paylink: Card API v5",
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "version": env!("CARGO_PKG_VERSION"),
        },
        "tags": TAGS
            .iter()
            .map(|(name, description)| json!({"name": name, "description": description}))
            .collect::<Vec<_>>(),
        "security": [{"jws": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "jws": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-JWS-Signature",
                    "description": JWS_DESCRIPTION,
                },
            },
            "responses": shared_responses(),
            "schemas": schemas,
        },
    })
}

/// The document as pretty JSON, ending in a newline (the committed copy's form).
pub fn document_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&document()).expect("an OpenAPI document serializes");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/// One method: its path and what it takes and answers.
struct Method {
    path: &'static str,
    /// The operationId.
    id: &'static str,
    /// The base of its schemas' names (`{name}Request`, `{name}Ok`).
    name: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: &'static str,
    /// The body's schema.
    request: Value,
    /// The success answer's schema.
    success: Value,
    /// The older envelope (gift cards).
    gift: bool,
    /// OpenAPI links of the 200 answer: name -> (operationId, requestBody).
    links: Vec<(&'static str, &'static str, Value)>,
}

fn operation(m: &Method) -> Value {
    let error = if m.gift { "GiftError" } else { "Error" };
    let mut ok = json!({
        "description": "The answer, or a refusal (`error_code`).",
        "content": {"application/json": {"schema": {"oneOf": [
            schema_ref(&format!("{}Ok", m.name)),
            schema_ref(error),
        ]}}},
    });
    if !m.links.is_empty() {
        let links: Map<String, Value> = m
            .links
            .iter()
            .map(|(name, target, body)| {
                (
                    name.to_string(),
                    json!({"operationId": target, "requestBody": body}),
                )
            })
            .collect();
        ok["links"] = Value::Object(links);
    }
    let (bad, unauthenticated) = if m.gift {
        ("GiftBadRequest", "GiftUnauthenticated")
    } else {
        ("BadRequest", "Unauthenticated")
    };
    json!({
        "tags": [m.tag],
        "operationId": m.id,
        "summary": m.summary,
        "description": m.description,
        "requestBody": {
            "required": true,
            "content": {"application/json": {"schema": schema_ref(&format!("{}Request", m.name))}},
        },
        "responses": {
            "200": ok,
            "400": {"$ref": format!("#/components/responses/{bad}")},
            "401": {"$ref": format!("#/components/responses/{unauthenticated}")},
        },
    })
}

fn shared_responses() -> Value {
    let with = |description: &str, schema: Value| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": schema}},
        })
    };
    json!({
        "BadRequest": with(
            "The body is not a JSON object (`validation_error`).",
            schema_ref("Error"),
        ),
        "Unauthenticated": with(
            "The signature does not verify: `invalid_signature`, `unknown_auth_id` or \
             `uri_method_mismatch`. Nothing was done and the request_id is not used up.",
            schema_ref("AuthError"),
        ),
        "GiftBadRequest": with(
            "The body is not a JSON object (`validation_error`), in the gift envelope.",
            schema_ref("GiftError"),
        ),
        "GiftUnauthenticated": with(
            "The signature does not verify, in the gift envelope: `invalid_signature`, \
             `unknown_auth_id` or `uri_method_mismatch`.",
            schema_ref("GiftAuthError"),
        ),
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// Text of at most `max` characters (trimmed; empty is absent, control characters are
/// refused).
fn text(description: &str, max: u32) -> Value {
    json!({"type": "string", "maxLength": max, "description": description})
}

/// Text a method needs: present and not empty.
fn required_text(description: &str, max: u32) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "description": description})
}

/// A person's name part: letters of any alphabet, spaces, `-`, `'`, `.`.
fn name_part() -> Value {
    required_text(
        "Letters of any alphabet, spaces, hyphens, apostrophes and dots.",
        MAX_NAME,
    )
}

/// The longest name part (first, last): as the cardholder rules bound them.
const MAX_NAME: u32 = 64;

/// An object id the partner got from an earlier answer.
fn id_field(description: &str) -> Value {
    required_text(
        &format!(
            "{description} An opaque id from an earlier answer; another partner's id answers \
             like an unknown one."
        ),
        64,
    )
}

/// A request body: `request_id` and `fields`, the `required` ones besides `request_id`.
fn request(description: &str, fields: Value, required: &[&str], example: Value) -> Value {
    let mut properties = Map::new();
    properties.insert("request_id".into(), schema_ref("RequestId"));
    if let Value::Object(fields) = fields {
        properties.extend(fields);
    }
    let mut all = vec!["request_id"];
    all.extend_from_slice(required);
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": all,
        "additionalProperties": true,
        "example": example,
    })
}

/// A success answer under `/v5/card-api/`: the envelope with `request_status` (a `const` or an
/// `enum` schema) and the method's `fields`.
fn answer(description: &str, request_status: Value, fields: Value, required: &[&str]) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "status".into(),
        json!({"const": "ok", "description": "`ok`: the request was answered."}),
    );
    properties.insert("request_status".into(), request_status);
    properties.insert("dt".into(), schema_ref("Dt"));
    if let Value::Object(fields) = fields {
        properties.extend(fields);
    }
    let mut all = vec!["status", "request_status", "dt"];
    all.extend_from_slice(required);
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": all,
    })
}

/// The success answer of most methods: done at once.
fn done(description: &str, fields: Value, required: &[&str]) -> Value {
    answer(
        description,
        json!({"const": "success", "description": "`success`: done."}),
        fields,
        required,
    )
}

/// A success answer of a gift-card method: the older envelope.
fn gift_answer(description: &str, fields: Value, required: &[&str]) -> Value {
    let mut properties = Map::new();
    properties.insert("datetime".into(), schema_ref("GiftDatetime"));
    properties.insert(
        "status".into(),
        json!({"const": 0, "description": "0: done."}),
    );
    if let Value::Object(fields) = fields {
        properties.extend(fields);
    }
    let mut all = vec!["datetime", "status"];
    all.extend_from_slice(required);
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": all,
    })
}

/// Phones: a string or a number (partners' systems send both).
fn phone(description: &str) -> Value {
    json!({
        "oneOf": [
            {
                "type": "string",
                "maxLength": 32,
                "pattern": "^[-+() ]*([0-9][-+() ]*){10,15}$",
            },
            {"type": "integer", "minimum": 1_000_000_000_i64, "maximum": 999_999_999_999_999_i64},
        ],
        "description": format!(
            "{description} 10 to 15 digits with the country code, as a string (`+`, spaces, \
             dashes and brackets are ignored: `+7 (701) 123-45-67`) or a number \
             (`77011234567`)."
        ),
    })
}

fn optional_amount(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": AMOUNT_PATTERN,
        "description": description,
    })
}

fn card_status(description: &str) -> Value {
    json!({
        "type": "integer",
        "enum": CARD_STATUSES,
        "description": format!(
            "{description} 0 inactive, 1 active, 2 blocked, 3 closed (final), 4 expired."
        ),
    })
}

fn transaction_status() -> Value {
    json!({
        "type": "string",
        "enum": TRANSACTION_STATUSES,
        "description": "`process` (an authorization still holding money), `success`, `error`, \
            `refunded` (a debit given back in full), `reversed` (an authorization released).",
    })
}

/// The schemas shared by the methods: field types, envelopes, nested objects.
fn shared_schemas() -> Map<String, Value> {
    let mut s = Map::new();
    s.insert(
        "RequestId".into(),
        json!({
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": REQUEST_ID_PATTERN,
            "description": "The partner's id of this request, normally a UUID: unique per partner \
                (a repeat answers `duplicate_request_id` and does nothing; failed requests use \
                their id up too). In `request/status` and `transaction/request/status`: the id \
                of the original request.",
            "example": "828cf71d-a447-4a67-a149-c1df8bc197ca",
        }),
    );
    s.insert(
        "Amount".into(),
        json!({
            "type": "string",
            "pattern": AMOUNT_PATTERN,
            "description": "A positive amount in major units as a decimal string: up to 8 digits \
                and up to two decimals (`\"1500.00\"`, `\"12.5\"`). More decimals than the \
                currency has, or zero, answer `validation_error`.",
            "example": "1500.00",
        }),
    );
    s.insert(
        "Money".into(),
        json!({
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "An amount in major units, always with two decimals (`\"1500.00\"`).",
            "example": "1500.00",
        }),
    );
    s.insert(
        "Currency".into(),
        json!({
            "type": "string",
            "enum": CURRENCIES,
            "description": "ISO 4217 code; any case on input (`kzt`), upper case on output. The \
                partner must be allowed the currency (`paylink partner create --currencies`).",
        }),
    );
    s.insert(
        "ProductId".into(),
        json!({
            "type": "integer",
            "enum": PRODUCTS,
            "description": "The client product: 1000 wallet card, 2000 instant card, 3000 \
                electron card. One the partner may not issue answers `product_not_available`.",
        }),
    );
    s.insert(
        "Page".into(),
        json!({
            "type": "integer",
            "minimum": 1,
            "maximum": 1_000_000_000,
            "description": "The page, from 1 (the default).",
        }),
    );
    s.insert(
        "Limit".into(),
        json!({
            "type": "integer",
            "minimum": 1,
            "maximum": 100,
            "description": "Items per page, 1 to 100 (default 20).",
        }),
    );
    s.insert(
        "Dt".into(),
        json!({
            "type": "string",
            "pattern": DT_PATTERN,
            "description": "When the answer was made: RFC 3339 with a numeric offset, whole \
                seconds (`2026-12-05T14:05:45+00:00`).",
            "example": "2026-12-05T14:05:45+00:00",
        }),
    );
    s.insert(
        "Datetime".into(),
        json!({
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "`YYYY-MM-DD HH:MM:SS`, UTC.",
            "example": "2026-12-05 14:05:45",
        }),
    );
    s.insert(
        "GiftDatetime".into(),
        json!({
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "When the answer was made: `YYYY-MM-DD HH:MM:SS`, UTC.",
            "example": "2026-12-05 14:05:45",
        }),
    );
    s.insert(
        "ErrorCode".into(),
        json!({
            "type": "string",
            "enum": ERROR_CODES,
            "description": "Why the request was refused.",
        }),
    );
    s.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "A refusal: HTTP 200 for business rules and validation, 400 for a \
                body that is not a JSON object, 401 for the signature.",
            "properties": {
                "status": {"const": "error"},
                "request_status": {"const": "error"},
                "dt": schema_ref("Dt"),
                "error_code": schema_ref("ErrorCode"),
                "error_description": {"type": "string", "description": "For people; may change."},
            },
            "required": ["status", "request_status", "dt", "error_code", "error_description"],
            "example": {
                "status": "error",
                "request_status": "error",
                "dt": "2026-12-05T14:05:45+00:00",
                "error_code": "card_not_found",
                "error_description": "card not found",
            },
        }),
    );
    s.insert(
        "AuthError".into(),
        json!({
            "description": "The error envelope of a signature that does not verify.",
            "allOf": [
                schema_ref("Error"),
                {"properties": {"error_code": {"enum": AUTH_ERROR_CODES}}},
            ],
        }),
    );
    s.insert(
        "GiftError".into(),
        json!({
            "type": "object",
            "description": "A refusal in the gift cards' older envelope: `status` 1.",
            "properties": {
                "datetime": schema_ref("GiftDatetime"),
                "status": {"const": 1},
                "error_code": schema_ref("ErrorCode"),
                "error_description": {"type": "string", "description": "For people; may change."},
            },
            "required": ["datetime", "status", "error_code", "error_description"],
            "example": {
                "datetime": "2026-12-05 14:05:45",
                "status": 1,
                "error_code": "otp_invalid",
                "error_description": "the code is not valid",
            },
        }),
    );
    s.insert(
        "GiftAuthError".into(),
        json!({
            "description": "The gift envelope of a signature that does not verify.",
            "allOf": [
                schema_ref("GiftError"),
                {"properties": {"error_code": {"enum": AUTH_ERROR_CODES}}},
            ],
        }),
    );
    s.insert("Client".into(), client(true));
    s.insert("ClientChanges".into(), client(false));
    s.insert(
        "Card".into(),
        json!({
            "type": "object",
            "description": "A card. Its number, expiry date and CVV are never in JSON (see \
                `card/secret`).",
            "properties": {
                "card_id": {"type": "string"},
                "card_token": {
                    "type": "string",
                    "description": "What `external/cardholder_validate` takes.",
                },
                "client_id": {
                    "type": ["string", "null"],
                    "description": "null for a card not linked to a client.",
                },
                "product_id": {"type": "integer"},
                "card_mask": {
                    "type": "string",
                    "description": "`first6******last4`.",
                },
                "expiry": {
                    "type": "string",
                    "pattern": "^[0-9]{2}/[0-9]{2}$",
                    "description": "`MM/YY`: valid through that month.",
                },
                "currency": schema_ref("Currency"),
                "card_status": card_status("The card's status."),
                "type": {"type": "string", "enum": CARD_TYPES},
                "created_at": schema_ref("Datetime"),
            },
            "required": [
                "card_id", "card_token", "client_id", "product_id", "card_mask", "expiry",
                "currency", "card_status", "type", "created_at",
            ],
        }),
    );
    s.insert(
        "Operation".into(),
        json!({
            "type": "object",
            "description": "A line of a card's statement: one movement of the card's money, \
                at the time it was booked. `success` lines sum to the change of the card's \
                balance over the period (credit and refund onto it, debit and authorization \
                off it); `process` is an authorization's hold and `reversed` a hold given back.",
            "properties": {
                "transaction_id": {
                    "type": ["string", "null"],
                    "description": "The transaction the movement belongs to; null for what a \
                        close returned to the partner's prepaid balance.",
                },
                "type": {"type": "string", "enum": TRANSACTION_TYPES},
                "amount": {
                    "allOf": [schema_ref("Money")],
                    "description": "What this movement moved (of an authorization: what was \
                        held, captured or released), not the transaction's amount.",
                },
                "currency": schema_ref("Currency"),
                "status": {
                    "type": "string",
                    "enum": ["success", "process", "reversed"],
                    "description": "`success`: money moved; `process`: put on hold; \
                        `reversed`: a hold given back.",
                },
                "description": {"type": ["string", "null"]},
                "merchant_name": {"type": ["string", "null"]},
                "created_at": schema_ref("Datetime"),
            },
            "required": [
                "transaction_id", "type", "amount", "currency", "status", "description",
                "merchant_name", "created_at",
            ],
        }),
    );
    s.insert(
        "Transaction".into(),
        json!({
            "type": "object",
            "description": "A card transaction.",
            "properties": {
                "transaction_id": {"type": "string"},
                "card_id": {"type": "string"},
                "type": {"type": "string", "enum": TRANSACTION_TYPES},
                "amount": schema_ref("Money"),
                "currency": schema_ref("Currency"),
                "status": transaction_status(),
                "captured": {
                    "allOf": [schema_ref("Money")],
                    "description": "Of an authorization: what clearings took.",
                },
                "refunded": {
                    "allOf": [schema_ref("Money")],
                    "description": "Of a debit or a cleared authorization: what refunds gave back.",
                },
                "description": {"type": ["string", "null"]},
                "merchant_name": {"type": ["string", "null"]},
                "external_id": {"type": ["string", "null"]},
                "parent_id": {
                    "type": ["string", "null"],
                    "description": "Of a refund: the transaction it gives back.",
                },
                "created_at": schema_ref("Datetime"),
            },
            "required": [
                "transaction_id", "card_id", "type", "amount", "currency", "status", "captured",
                "refunded", "description", "merchant_name", "external_id", "parent_id",
                "created_at",
            ],
        }),
    );
    s
}

/// A client's particulars: all of the required ones to add a client, any of them to edit one.
fn client(adding: bool) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": if adding {
            "The client's particulars."
        } else {
            "The particulars to change; the others stay."
        },
        "properties": {
            "phone": phone("The client's mobile phone (gift and validation SMS go there)."),
            "type": {
                "type": "integer",
                "enum": [1, 2, 3],
                "description": "1 individual, 2 legal entity, 3 sole proprietor.",
            },
            "resident": {
                "type": "integer",
                "enum": [1, 2],
                "description": "1 resident, 2 non-resident.",
            },
            "first_name": name_part(),
            "last_name": name_part(),
            "middle_name": text("Letters, spaces, hyphens, apostrophes and dots.", MAX_NAME),
            "birthdate": {
                "type": "string",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "description": "`YYYY-MM-DD`.",
            },
            "email": text("An email address.", 254),
            "country": {
                "type": "string",
                "pattern": "^[A-Za-z]{2,3}$",
                "description": "ISO 3166-1 alpha-2 or alpha-3.",
            },
        },
        "additionalProperties": true,
    });
    if adding {
        schema["required"] = json!(["phone", "type", "resident", "first_name", "last_name"]);
    }
    schema
}

// ---------------------------------------------------------------------------------------------
// The methods
// ---------------------------------------------------------------------------------------------

const SEED_REQUEST_ID: &str = "828cf71d-a447-4a67-a149-c1df8bc197ca";
const EXAMPLE_REQUEST_ID: &str = "5b0f6f0e-3c1a-4f0e-9d53-2f1c8a7e4b21";
const EXAMPLE_CLIENT: &str = "Q3xT9LmA2b";
const EXAMPLE_CARD: &str = "K7pR2nX9cD";
const EXAMPLE_TRANSACTION: &str = "T4mW8qZ1eF";

/// Links from an answer naming a card (`card_id` at `pointer`) to what acts on a card.
fn card_links(pointer: &str) -> Vec<(&'static str, &'static str, Value)> {
    let card = json!({ "card_id": format!("$response.body#{pointer}") });
    [
        ("CardInfo", "cardapi_card_info"),
        ("CardBalance", "cardapi_card_balance"),
        ("CardActivate", "cardapi_card_activate"),
        ("CardBlock", "cardapi_card_block"),
        ("CardUnblock", "cardapi_card_unblock"),
        ("CardClose", "cardapi_card_close"),
        ("CardStatement", "cardapi_card_statement"),
        ("CardSecret", "cardapi_card_secret"),
        ("TransactionCreate", "cardapi_transaction_create"),
        ("SandboxAuthorize", "cardapi_sandbox_authorize"),
    ]
    .into_iter()
    .map(|(name, target)| (name, target, card.clone()))
    .collect()
}

/// Links from an answer naming a transaction to what acts on one.
fn transaction_links(
    targets: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str, Value)> {
    targets
        .iter()
        .map(|&(name, target)| {
            (
                name,
                target,
                json!({"transaction_id": "$response.body#/transaction_id"}),
            )
        })
        .collect()
}

/// The status lookup of the request just made.
fn status_link(name: &'static str, target: &'static str) -> (&'static str, &'static str, Value) {
    (
        name,
        target,
        json!({"request_id": "$request.body#/request_id"}),
    )
}

/// `card/activate`, `card/block`, `card/unblock`, `card/close`: the same body and answer.
fn card_status_change(
    path: &'static str,
    id: &'static str,
    name: &'static str,
    summary: &'static str,
    description: &'static str,
) -> Method {
    Method {
        path,
        id,
        name,
        tag: "cards",
        summary,
        description,
        request: request(
            summary,
            json!({
                "card_id": id_field("The card."),
                "description": text("Why, for the partner's records.", 255),
            }),
            &["card_id"],
            json!({
                "request_id": EXAMPLE_REQUEST_ID,
                "card_id": EXAMPLE_CARD,
                "description": "lost phone",
            }),
        ),
        success: done(
            "The card and its new status.",
            json!({"card_id": {"type": "string"}, "card_status": card_status("The new status.")}),
            &["card_id", "card_status"],
        ),
        gift: false,
        links: vec![],
    }
}

/// A body naming one card and nothing else.
fn card_request(description: &str) -> Value {
    request(
        description,
        json!({"card_id": id_field("The card.")}),
        &["card_id"],
        json!({"request_id": EXAMPLE_REQUEST_ID, "card_id": EXAMPLE_CARD}),
    )
}

/// A body naming one transaction and, optionally, an amount.
fn transaction_amount_request(description: &str, amount: &str) -> Value {
    request(
        description,
        json!({
            "transaction_id": id_field("The transaction."),
            "amount": optional_amount(amount),
        }),
        &["transaction_id"],
        json!({
            "request_id": EXAMPLE_REQUEST_ID,
            "transaction_id": EXAMPLE_TRANSACTION,
            "amount": "100.00",
        }),
    )
}

fn transaction_done(description: &str) -> Value {
    done(
        description,
        json!({"transaction_id": {"type": "string"}, "transaction_status": transaction_status()}),
        &["transaction_id", "transaction_status"],
    )
}

fn cardholder_validate(path: &'static str, id: &'static str, alias: bool) -> Method {
    Method {
        path,
        id,
        name: "CardholderValidate",
        tag: "cardholders",
        summary: if alias {
            "Cardholder validation (the same method at its other path)."
        } else {
            "Cardholder validation."
        },
        description: "How well the person named matches the client the card is linked to: \
            names compared by sound, the phone by its digits. `score` is a percentage with two \
            decimals; `fishy` is 1 for a poor match (below 50%). `card_not_found` for an \
            unknown token.",
        request: request(
            "The person to compare with the card's client.",
            json!({
                "user_phone": phone("The person's phone."),
                "first_name": name_part(),
                "last_name": name_part(),
                "card_token": required_text(
                    "The card's `card_token` (`card/info`), never its number.",
                    64,
                ),
            }),
            &["user_phone", "first_name", "last_name", "card_token"],
            json!({
                "request_id": EXAMPLE_REQUEST_ID,
                "user_phone": "+77011234567",
                "first_name": "Aigerim",
                "last_name": "Nurlanova",
                "card_token": "ctok_8f3a0c2e9b7d4e1f",
            }),
        ),
        success: done(
            "The match.",
            json!({
                "score": {
                    "type": "string",
                    "pattern": r"^[0-9]{1,3}\.[0-9]{2}%$",
                    "description": "`\"87.50%\"`.",
                },
                "fishy": {"type": "integer", "enum": [0, 1]},
            }),
            &["score", "fishy"],
        ),
        gift: false,
        links: vec![],
    }
}

/// `fields` with `more` added (both JSON objects).
fn merged(mut fields: Value, more: Value) -> Value {
    if let (Value::Object(f), Value::Object(m)) = (&mut fields, more) {
        f.extend(m);
    }
    fields
}

/// The paging fields of a request.
fn paging() -> Value {
    json!({"page": schema_ref("Page"), "limit": schema_ref("Limit")})
}

/// The paging fields of an answer: the page and the limit used.
fn paged() -> Value {
    json!({
        "page": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    })
}

/// A statement's bound: a day or a moment, UTC.
fn statement_bound(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?$",
        "description": description,
    })
}

fn methods() -> Vec<Method> {
    let mut all = vec![
        Method {
            path: "/v5/card-api/request/status",
            id: "cardapi_request_status",
            name: "RequestStatus",
            tag: "requests",
            summary: "What became of an earlier request.",
            description: "`request_id` names the ORIGINAL request (this lookup uses up no id). \
                `request_status` is the original's: `success`, `process` (a bulk issue still \
                working) or `error` (then with its `error_code` and `error_description`, while \
                the top-level `status` stays `ok`). The ids it produced come with it. An id \
                the partner never used answers `request_not_found`.",
            request: request(
                "The original request's id.",
                json!({}),
                &[],
                json!({"request_id": SEED_REQUEST_ID}),
            ),
            success: answer(
                "The original request's outcome.",
                json!({
                    "type": "string",
                    "enum": ["success", "process", "error"],
                    "description": "The original request's.",
                }),
                json!({
                    "method": string("The original's method, e.g. `card/issue`."),
                    "client_id": {"type": "string"},
                    "card_id": {"type": "string"},
                    "transaction_id": {"type": "string"},
                    "cards": {
                        "type": "array",
                        "description": "A bulk issue's cards.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "card_id": {"type": "string"},
                                "card_mask": {"type": "string"},
                            },
                            "required": ["card_id", "card_mask"],
                        },
                    },
                    "error_code": schema_ref("ErrorCode"),
                    "error_description": {"type": "string"},
                }),
                &["method"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/client/add",
            id: "cardapi_client_add",
            name: "ClientAdd",
            tag: "clients",
            summary: "Adds a client.",
            description: "A client (cardholder) of the partner, in one client product. \
                `validation_error` for missing or invalid particulars, \
                `product_not_available` for a product the partner may not issue.",
            request: request(
                "The client.",
                json!({"product_id": schema_ref("ProductId"), "client": schema_ref("Client")}),
                &["product_id", "client"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "product_id": 1000,
                    "client": {
                        "phone": "+77011234567",
                        "type": 1,
                        "resident": 1,
                        "first_name": "Aigerim",
                        "last_name": "Nurlanova",
                        "birthdate": "1990-04-17",
                        "email": "aigerim@example.com",
                        "country": "KZ",
                    },
                }),
            ),
            success: done(
                "The new client.",
                json!({"client_id": {"type": "string"}}),
                &["client_id"],
            ),
            gift: false,
            links: [
                ("CardIssue", "cardapi_card_issue"),
                ("CardLink", "cardapi_card_link"),
                ("ClientEdit", "cardapi_client_edit"),
                ("CardList", "cardapi_card_list"),
            ]
            .into_iter()
            .map(|(name, target)| {
                (
                    name,
                    target,
                    json!({"client_id": "$response.body#/client_id"}),
                )
            })
            .collect(),
        },
        Method {
            path: "/v5/card-api/client/edit",
            id: "cardapi_client_edit",
            name: "ClientEdit",
            tag: "clients",
            summary: "Changes a client's particulars.",
            description: "Changes the particulars given in `client`; the others stay. Edits \
                sent at once all land, each over what the others wrote. `client_not_found` for \
                an unknown client.",
            request: request(
                "The client and what changes.",
                json!({
                    "client_id": id_field("The client."),
                    "client": schema_ref("ClientChanges"),
                }),
                &["client_id", "client"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "client_id": EXAMPLE_CLIENT,
                    "client": {"email": "a.nurlanova@example.com"},
                }),
            ),
            success: done(
                "The client.",
                json!({"client_id": {"type": "string"}}),
                &["client_id"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/card/issue",
            id: "cardapi_card_issue",
            name: "CardIssue",
            tag: "cards",
            summary: "Issues a virtual card to a client.",
            description: "A virtual card, issued active, in the client's product and the \
                currency given. `client_not_found`, `product_not_available`; \
                `validation_error` when `product_id` is not the client's.",
            request: request(
                "The client and the card's product and currency.",
                json!({
                    "product_id": schema_ref("ProductId"),
                    "client_id": id_field("The client."),
                    "currency": schema_ref("Currency"),
                }),
                &["product_id", "client_id", "currency"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "product_id": 1000,
                    "client_id": EXAMPLE_CLIENT,
                    "currency": "KZT",
                }),
            ),
            success: done(
                "The new card.",
                json!({
                    "card_id": {"type": "string"},
                    "card_mask": {"type": "string", "description": "`first6******last4`."},
                    "card_status": card_status("1: issued active."),
                }),
                &["card_id", "card_mask", "card_status"],
            ),
            gift: false,
            links: {
                let mut links = card_links("/card_id");
                links.push(status_link("RequestStatus", "cardapi_request_status"));
                links
            },
        },
        Method {
            path: "/v5/card-api/card/bulk_issue",
            id: "cardapi_card_bulk_issue",
            name: "CardBulkIssue",
            tag: "cards",
            summary: "Issues cards without a client, in bulk.",
            description: "Up to 100 cards, inactive (status 0) and linked to no client. The \
                answer is `request_status: process`; the cards (`card_id`, `card_mask`) come in \
                `request/status` of this request_id. Link them with `card/link`.",
            request: request(
                "How many cards, of which product and currency.",
                json!({
                    "product_id": schema_ref("ProductId"),
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
                    "currency": schema_ref("Currency"),
                }),
                &["product_id", "quantity", "currency"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "product_id": 2000,
                    "quantity": 10,
                    "currency": "KZT",
                }),
            ),
            success: answer(
                "Accepted: poll `request/status`.",
                json!({"const": "process", "description": "`process`: see `request/status`."}),
                json!({}),
                &[],
            ),
            gift: false,
            links: vec![status_link("RequestStatus", "cardapi_request_status")],
        },
        Method {
            path: "/v5/card-api/card/link",
            id: "cardapi_card_link",
            name: "CardLink",
            tag: "cards",
            summary: "Links a card to a client.",
            description: "Links a card issued without a client (bulk issue) to a client of \
                the card's product. `card_not_found`, `client_not_found`; `validation_error` \
                for a card of another product than the client's, or a gift card (never \
                linked).",
            request: request(
                "The client and the card.",
                json!({"client_id": id_field("The client."), "card_id": id_field("The card.")}),
                &["client_id", "card_id"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "client_id": EXAMPLE_CLIENT,
                    "card_id": EXAMPLE_CARD,
                }),
            ),
            success: done(
                "The card and its client.",
                json!({"card_id": {"type": "string"}, "client_id": {"type": "string"}}),
                &["card_id", "client_id"],
            ),
            gift: false,
            links: vec![],
        },
        card_status_change(
            "/v5/card-api/card/activate",
            "cardapi_card_activate",
            "CardActivate",
            "Activates a card.",
            "An inactive card becomes active; an active one answers success as it is. A gift \
             card is activated only with its code (`/v5/cards/activate_card`), and a card without \
             a client (bulk-issued) only once linked to one with `card/link` (else \
             `validation_error`). Blocked, closed and expired cards are refused \
             (`card_blocked`, `card_closed`, `card_inactive`).",
        ),
        card_status_change(
            "/v5/card-api/card/block",
            "cardapi_card_block",
            "CardBlock",
            "Blocks a card.",
            "An active card becomes blocked and refuses debits and authorizations until \
             unblocked (it can still be funded); a blocked one answers success as it is. \
             Inactive, closed and expired cards are refused.",
        ),
        card_status_change(
            "/v5/card-api/card/unblock",
            "cardapi_card_unblock",
            "CardUnblock",
            "Unblocks a card.",
            "A blocked card becomes active again; an active one answers success as it is. \
             Inactive, closed and expired cards are refused.",
        ),
        card_status_change(
            "/v5/card-api/card/close",
            "cardapi_card_close",
            "CardClose",
            "Closes a card.",
            "Any card but a closed one becomes closed, expired ones too. Final: everything on \
             a closed card is refused (`card_closed`), closing it again too.",
        ),
        Method {
            path: "/v5/card-api/card/info",
            id: "cardapi_card_info",
            name: "CardInfo",
            tag: "cards",
            summary: "A card.",
            description: "The card, without its number, expiry date or CVV. `card_not_found`.",
            request: card_request("The card."),
            success: done("The card.", json!({"card": schema_ref("Card")}), &["card"]),
            gift: false,
            links: vec![
                (
                    "CardholderValidate",
                    "cardapi_cardholder_validate",
                    json!({"card_token": "$response.body#/card/card_token"}),
                ),
                (
                    "CardList",
                    "cardapi_card_list",
                    json!({"client_id": "$response.body#/card/client_id"}),
                ),
            ],
        },
        Method {
            path: "/v5/card-api/card/balance",
            id: "cardapi_card_balance",
            name: "CardBalance",
            tag: "cards",
            summary: "A card's balance.",
            description: "`balance` is what the card holds, `hold` what authorizations \
                reserve, `available` what can be spent (`balance - hold`).",
            request: card_request("The card."),
            success: done(
                "The balance.",
                json!({
                    "card_id": {"type": "string"},
                    "balance": schema_ref("Money"),
                    "hold": schema_ref("Money"),
                    "available": schema_ref("Money"),
                    "currency": schema_ref("Currency"),
                }),
                &["card_id", "balance", "hold", "available", "currency"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/card/list",
            id: "cardapi_card_list",
            name: "CardList",
            tag: "cards",
            summary: "The partner's cards, or a client's.",
            description: "A page of the partner's cards (with `client_id`, that client's).",
            request: request(
                "Which cards and which page.",
                merged(
                    json!({"client_id": id_field("Only this client's cards.")}),
                    paging(),
                ),
                &[],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "client_id": EXAMPLE_CLIENT,
                    "page": 1,
                    "limit": 20,
                }),
            ),
            success: done(
                "A page of cards.",
                merged(
                    json!({"cards": {"type": "array", "items": schema_ref("Card")}}),
                    paged(),
                ),
                &["cards", "page", "limit"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/card/statement",
            id: "cardapi_card_statement",
            name: "CardStatement",
            tag: "cards",
            summary: "A card's operations in a period.",
            description: "A page of the movements of the card's money booked from \
                `date_from` to `date_to` inclusive (UTC), oldest first: credits, debits, \
                refunds, an authorization's hold, its captures and releases, each on the day \
                it happened. `validation_error` for dates that do not parse.",
            request: request(
                "The card, the period and the page.",
                merged(
                    json!({
                        "card_id": id_field("The card."),
                        "date_from": statement_bound(
                            "From (UTC): `YYYY-MM-DD` (its start) or `YYYY-MM-DD HH:MM:SS`.",
                        ),
                        "date_to": statement_bound(
                            "To (UTC), inclusive: `YYYY-MM-DD` (the whole day) or \
                             `YYYY-MM-DD HH:MM:SS`.",
                        ),
                    }),
                    paging(),
                ),
                &["card_id", "date_from", "date_to"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "card_id": EXAMPLE_CARD,
                    "date_from": "2026-12-01",
                    "date_to": "2026-12-05 23:59:59",
                    "page": 1,
                    "limit": 20,
                }),
            ),
            success: done(
                "A page of operations.",
                merged(
                    json!({"operations": {"type": "array", "items": schema_ref("Operation")}}),
                    paged(),
                ),
                &["operations", "page", "limit"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/card/secret",
            id: "cardapi_card_secret",
            name: "CardSecret",
            tag: "cards",
            summary: "A one-time link to the card's number, expiry date and CVV.",
            description: "The partner hands the URL to the cardholder: the page shows the \
                number, expiry date and CVV once and expires 10 minutes after this answer. \
                The number is never in JSON.",
            request: card_request("The card."),
            success: done(
                "The one-time page.",
                json!({
                    "url": string("The one-time page (shown once)."),
                    "expires_at": string("When the page expires (10 minutes from now)."),
                }),
                &["url", "expires_at"],
            ),
            gift: false,
            links: vec![],
        },
        cardholder_validate(
            "/v5/card-api/external/cardholder_validate",
            "cardapi_cardholder_validate",
            false,
        ),
        cardholder_validate(
            "/v5/partner/external/cardholder_validate",
            "cardapi_partner_cardholder_validate",
            true,
        ),
        Method {
            path: "/v5/card-api/transaction/create",
            id: "cardapi_transaction_create",
            name: "TransactionCreate",
            tag: "transactions",
            summary: "Funds a card or takes money off it.",
            description: "`credit` moves `amount` from the partner's prepaid balance onto the \
                card (`insufficient_funds` when the partner's balance is short); `debit` takes \
                it off the card (`insufficient_funds` beyond `available`). The currency must \
                be the card's (`validation_error`); the card must be active (`card_inactive`, \
                `card_blocked`, `card_closed`).",
            request: request(
                "The card, the direction and the amount.",
                json!({
                    "card_id": id_field("The card."),
                    "type": {
                        "type": "string",
                        "enum": ["credit", "debit"],
                        "description": "`credit` funds the card, `debit` takes money off it.",
                    },
                    "amount": schema_ref("Amount"),
                    "currency": schema_ref("Currency"),
                    "description": text("Shown in the statement.", 255),
                    "external_id": text(
                        "The partner's own reference, shown back in `transaction/info`.",
                        64,
                    ),
                }),
                &["card_id", "type", "amount", "currency", "description"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "card_id": EXAMPLE_CARD,
                    "type": "credit",
                    "amount": "1500.00",
                    "currency": "KZT",
                    "description": "Top-up",
                    "external_id": "order-1042",
                }),
            ),
            success: done(
                "The transaction.",
                json!({
                    "transaction_id": {"type": "string"},
                    "transaction_status": transaction_status(),
                }),
                &["transaction_id", "transaction_status"],
            ),
            gift: false,
            links: {
                let mut links = transaction_links(&[
                    ("TransactionInfo", "cardapi_transaction_info"),
                    ("TransactionRefund", "cardapi_transaction_refund"),
                ]);
                links.push(status_link(
                    "TransactionRequestStatus",
                    "cardapi_transaction_request_status",
                ));
                links
            },
        },
        Method {
            path: "/v5/card-api/transaction/clearing",
            id: "cardapi_transaction_clearing",
            name: "TransactionClearing",
            tag: "transactions",
            summary: "Clears (captures) an authorization.",
            description: "Takes `amount` (all of it when absent) of a held authorization off \
                the card; the rest of the hold is released. `amount_exceeds_authorized` above \
                the authorized amount, `transaction_not_found`.",
            request: transaction_amount_request(
                "The authorization and the amount to take.",
                "At most the authorized amount; absent: all of it.",
            ),
            success: transaction_done("The authorization and its new status."),
            gift: false,
            links: transaction_links(&[
                ("TransactionInfo", "cardapi_transaction_info"),
                ("TransactionRefund", "cardapi_transaction_refund"),
            ]),
        },
        Method {
            path: "/v5/card-api/transaction/refund",
            id: "cardapi_transaction_refund",
            name: "TransactionRefund",
            tag: "transactions",
            summary: "Gives a debit back to the card.",
            description: "Refunds a debit or a cleared authorization, in part or (no `amount`) \
                all that is left; a new transaction of type `refund`. The money goes onto the \
                card, or, when the card is closed, to the partner's prepaid balance \
                (`refunded_to`). `amount_exceeds_authorized` above what is left, \
                `transaction_not_found`.",
            request: transaction_amount_request(
                "The transaction and the amount to give back.",
                "At most what is left to refund; absent: all of it.",
            ),
            success: done(
                "The refund.",
                json!({
                    "transaction_id": string("The refund's own id."),
                    "refunded_transaction_id": string("The transaction refunded."),
                    "refunded_to": {
                        "type": "string",
                        "enum": ["card", "prepaid_balance"],
                        "description": "Where the money went: `card`, or `prepaid_balance` \
                            (the partner's, in the card's currency) when the card is closed.",
                    },
                }),
                &["transaction_id", "refunded_transaction_id"],
            ),
            gift: false,
            links: transaction_links(&[("TransactionInfo", "cardapi_transaction_info")]),
        },
        Method {
            path: "/v5/card-api/transaction/info",
            id: "cardapi_transaction_info",
            name: "TransactionInfo",
            tag: "transactions",
            summary: "A card transaction.",
            description: "`transaction_not_found` for an unknown one.",
            request: request(
                "The transaction.",
                json!({"transaction_id": id_field("The transaction.")}),
                &["transaction_id"],
                json!({"request_id": EXAMPLE_REQUEST_ID, "transaction_id": EXAMPLE_TRANSACTION}),
            ),
            success: done(
                "The transaction.",
                json!({"transaction": schema_ref("Transaction")}),
                &["transaction"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/transaction/request/status",
            id: "cardapi_transaction_request_status",
            name: "TransactionRequestStatus",
            tag: "transactions",
            summary: "What became of an earlier transaction request.",
            description: "As `request/status`, for a transaction request: its outcome and the \
                transaction it made. `request_not_found` for an id the partner never used.",
            request: request(
                "The original request's id.",
                json!({}),
                &[],
                json!({"request_id": SEED_REQUEST_ID}),
            ),
            success: answer(
                "The original request's outcome.",
                json!({
                    "type": "string",
                    "enum": ["success", "process", "error"],
                    "description": "The original request's.",
                }),
                json!({
                    "transaction_id": {
                        "type": ["string", "null"],
                        "description": "The transaction it made; null when it made none.",
                    },
                    "error_code": schema_ref("ErrorCode"),
                    "error_description": {"type": "string"},
                }),
                &["transaction_id"],
            ),
            gift: false,
            links: vec![],
        },
        Method {
            path: "/v5/card-api/sandbox/authorize",
            id: "cardapi_sandbox_authorize",
            name: "SandboxAuthorize",
            tag: "sandbox",
            summary: "A merchant's authorization on a card (sandbox).",
            description: "What a card payment at a merchant does first: a transaction of type \
                `authorization`, status `process`, holding `amount` on the card until cleared \
                (`transaction/clearing`, `sandbox/clearing`) or reversed (`sandbox/reverse`). \
                Sandbox mode only.",
            request: request(
                "The card, the amount and the merchant.",
                json!({
                    "card_id": id_field("The card."),
                    "amount": schema_ref("Amount"),
                    "currency": schema_ref("Currency"),
                    "description": text("Shown in the statement.", 255),
                    "merchant_name": text("The merchant, shown in the statement.", 128),
                }),
                &["card_id", "amount", "currency", "description"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "card_id": EXAMPLE_CARD,
                    "amount": "250.00",
                    "currency": "KZT",
                    "description": "Coffee",
                    "merchant_name": "Coffee Boom",
                }),
            ),
            success: done(
                "The authorization.",
                json!({
                    "transaction_id": {"type": "string"},
                    "transaction_status": transaction_status(),
                }),
                &["transaction_id"],
            ),
            gift: false,
            links: transaction_links(&[
                ("TransactionClearing", "cardapi_transaction_clearing"),
                ("SandboxClearing", "cardapi_sandbox_clearing"),
                ("SandboxReverse", "cardapi_sandbox_reverse"),
                ("TransactionInfo", "cardapi_transaction_info"),
            ]),
        },
        Method {
            path: "/v5/card-api/sandbox/clearing",
            id: "cardapi_sandbox_clearing",
            name: "SandboxClearing",
            tag: "sandbox",
            summary: "A merchant's clearing of an authorization (sandbox).",
            description: "As `transaction/clearing`, made as the merchant's acquirer would. \
                Sandbox mode only.",
            request: transaction_amount_request(
                "The authorization and the amount to take.",
                "At most the authorized amount; absent: all of it.",
            ),
            success: transaction_done("The authorization and its new status."),
            gift: false,
            links: transaction_links(&[("TransactionInfo", "cardapi_transaction_info")]),
        },
        Method {
            path: "/v5/card-api/sandbox/reverse",
            id: "cardapi_sandbox_reverse",
            name: "SandboxReverse",
            tag: "sandbox",
            summary: "A merchant's reversal of an authorization (sandbox).",
            description: "Releases `amount` (all that is held when absent) of an \
                authorization back to the card. Sandbox mode only.",
            request: transaction_amount_request(
                "The authorization and the amount to release.",
                "At most what is held; absent: all of it.",
            ),
            success: transaction_done("The authorization and its new status."),
            gift: false,
            links: transaction_links(&[("TransactionInfo", "cardapi_transaction_info")]),
        },
        Method {
            path: "/v5/cards/products",
            id: "cardapi_gift_products",
            name: "GiftProducts",
            tag: "gift-cards",
            summary: "The gift cards the partner can issue.",
            description: "Each product's code, names, currency and face value (`balance`).",
            request: request(
                "Nothing besides the request id.",
                json!({}),
                &[],
                json!({"request_id": EXAMPLE_REQUEST_ID}),
            ),
            success: gift_answer(
                "The products.",
                json!({"products": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "code": string("What `issue` takes as `product_code`."),
                        "name": {"type": "string"},
                        "name_en": {"type": "string"},
                        "currency": schema_ref("Currency"),
                        "balance": schema_ref("Money"),
                    },
                    "required": ["code", "name", "name_en", "currency", "balance"],
                }}}),
                &["products"],
            ),
            gift: true,
            links: vec![],
        },
        Method {
            path: "/v5/cards/issue",
            id: "cardapi_gift_issue",
            name: "GiftIssue",
            tag: "gift-cards",
            summary: "Issues a gift card.",
            description: "The card's face value is drawn from the partner's prepaid balance \
                (`insufficient_funds`); the card stays inactive (status 0) until \
                `activate_card` with the 6-digit code sent by SMS to `phone`. \
                `product_not_available` for an unknown `product_code`.",
            request: request(
                "The holder and the product.",
                json!({
                    "cardholder_name": required_text("The holder's name.", 128),
                    "phone": phone("Where the activation code goes by SMS."),
                    "product_code": required_text("A product's `code` (`products`).", 64),
                }),
                &["cardholder_name", "phone", "product_code"],
                json!({
                    "request_id": EXAMPLE_REQUEST_ID,
                    "cardholder_name": "Aigerim Nurlanova",
                    "phone": "+77011234567",
                    "product_code": "GIFT-KZT-5000",
                }),
            ),
            success: gift_answer(
                "The new, inactive card.",
                json!({
                    "card_id": {"type": "string"},
                    "card_status": {"const": 0, "description": "0: inactive until activated."},
                }),
                &["card_id", "card_status"],
            ),
            gift: true,
            links: vec![(
                "GiftActivateCard",
                "cardapi_gift_activate_card",
                json!({"card_id": "$response.body#/card_id"}),
            )],
        },
        Method {
            path: "/v5/cards/activate_card",
            id: "cardapi_gift_activate_card",
            name: "GiftActivateCard",
            tag: "gift-cards",
            summary: "Activates a gift card with its code.",
            description: "The code sent by SMS at issue: `otp_invalid` for a wrong one, \
                `otp_expired` after 10 minutes or 5 wrong tries.",
            request: request(
                "The card and its code.",
                json!({
                    "card_id": id_field("The gift card."),
                    "otp": {
                        "type": "string",
                        "pattern": "^[0-9]{6}$",
                        "description": "The 6-digit code sent by SMS.",
                    },
                }),
                &["card_id", "otp"],
                json!({"request_id": EXAMPLE_REQUEST_ID, "card_id": EXAMPLE_CARD, "otp": "482913"}),
            ),
            success: gift_answer(
                "The active card.",
                json!({
                    "card_id": {"type": "string"},
                    "card_status": {"const": 1, "description": "1: active."},
                    "card_currency": schema_ref("Currency"),
                    "card_balance": schema_ref("Money"),
                    "card_mask": {"type": "string", "description": "`first6******last4`."},
                }),
                &[
                    "card_id",
                    "card_status",
                    "card_currency",
                    "card_balance",
                    "card_mask",
                ],
            ),
            gift: true,
            links: vec![],
        },
    ];
    all.sort_by_key(|m| m.path);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every path of the wire notes (issue 12).
    const WIRE_PATHS: &[&str] = &[
        "/v5/card-api/request/status",
        "/v5/card-api/client/add",
        "/v5/card-api/client/edit",
        "/v5/card-api/card/issue",
        "/v5/card-api/card/bulk_issue",
        "/v5/card-api/card/link",
        "/v5/card-api/card/activate",
        "/v5/card-api/card/block",
        "/v5/card-api/card/unblock",
        "/v5/card-api/card/close",
        "/v5/card-api/card/info",
        "/v5/card-api/card/balance",
        "/v5/card-api/card/list",
        "/v5/card-api/card/statement",
        "/v5/card-api/card/secret",
        "/v5/card-api/external/cardholder_validate",
        "/v5/partner/external/cardholder_validate",
        "/v5/card-api/transaction/create",
        "/v5/card-api/transaction/clearing",
        "/v5/card-api/transaction/refund",
        "/v5/card-api/transaction/info",
        "/v5/card-api/transaction/request/status",
        "/v5/card-api/sandbox/authorize",
        "/v5/card-api/sandbox/clearing",
        "/v5/card-api/sandbox/reverse",
        "/v5/cards/products",
        "/v5/cards/issue",
        "/v5/cards/activate_card",
    ];

    /// The committed copy is what the code generates; `PAYLINK_UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn committed_copy_is_what_the_code_generates() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/openapi/cardapi.json");
        let generated = document_json();
        if std::env::var_os("PAYLINK_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi/cardapi.json differs from what the code generates: regenerate it with \
             `PAYLINK_UPDATE_OPENAPI=1 cargo test -p paylink-server --lib committed_copy` and \
             commit it"
        );
    }

    /// Collects every `$ref` under `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_whole() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");

        let mut targets = Vec::new();
        refs(&doc, &mut targets);
        assert!(targets.len() > 100, "{} refs", targets.len());
        for target in targets {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{target}: only local refs"));
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }

        let paths = doc["paths"].as_object().expect("paths");
        let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
        let wire: BTreeSet<&str> = WIRE_PATHS.iter().copied().collect();
        assert_eq!(documented, wire);

        let tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| t["name"].as_str().expect("a tag's name"))
            .collect();
        let mut ids = BTreeSet::new();
        for (path, item) in paths {
            let item = item.as_object().expect("a path item");
            assert_eq!(
                item.keys().collect::<Vec<_>>(),
                ["post"],
                "{path}: every call is a POST"
            );
            let op = &item["post"];
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: no operationId"));
            assert!(ids.insert(id), "{id} twice");
            for tag in op["tags"].as_array().expect("tags") {
                assert!(tags.contains(tag.as_str().expect("a tag")), "{path}: {tag}");
            }
            let statuses: Vec<&String> = op["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            assert_eq!(statuses, ["200", "400", "401"], "{path}");

            let body = op
                .pointer("/requestBody/content/application~1json/schema/$ref")
                .and_then(Value::as_str)
                .and_then(|r| doc.pointer(r.strip_prefix('#')?))
                .unwrap_or_else(|| panic!("{path}: no JSON body schema"));
            assert_eq!(body["type"], "object", "{path}");
            assert_eq!(body["additionalProperties"], true, "{path}");
            let required = body["required"].as_array().expect("required");
            assert_eq!(required.first(), Some(&json!("request_id")), "{path}");
            for name in required {
                let name = name.as_str().expect("a name");
                assert!(
                    body["properties"].get(name).is_some(),
                    "{path}: {name} is required but not described"
                );
            }
        }

        // Links name operations that exist.
        for item in paths.values() {
            if let Some(links) = item["post"]["responses"]["200"]["links"].as_object() {
                for link in links.values() {
                    let target = link["operationId"].as_str().expect("a link's target");
                    assert!(ids.contains(target), "a link to {target}");
                }
            }
        }
    }

    /// The examples are what the schemas describe, as far as the request id and the required
    /// fields go (a mistyped example would send schemathesis's examples phase astray).
    #[test]
    fn examples_have_the_required_fields() {
        let doc = document();
        for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
            if !name.ends_with("Request") {
                continue;
            }
            let example = &schema["example"];
            for field in schema["required"].as_array().expect("required") {
                let field = field.as_str().expect("a name");
                assert!(example.get(field).is_some(), "{name}: {field}");
            }
        }
    }

    #[test]
    fn the_request_id_pattern_is_what_core_takes() {
        use paylink_core::issued::check_request_id;
        let pattern_takes = |text: &str| {
            (1..=64).contains(&text.len())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
        };
        assert_eq!(REQUEST_ID_PATTERN, "^[A-Za-z0-9._:-]+$");
        for text in [
            "828cf71d-a447-4a67-a149-c1df8bc197ca",
            "a",
            "a.b_c:d-e",
            "",
            "with space",
            "ünicode",
            "slash/",
            &"x".repeat(64),
            &"x".repeat(65),
        ] {
            assert_eq!(pattern_takes(text), check_request_id(text), "{text:?}");
        }
    }

    #[test]
    fn documented_choices_are_what_core_and_the_signature_use() {
        use paylink_core::issued::{TransactionKind, TransactionStatus, PRODUCTS as CORE_PRODUCTS};
        use paylink_core::issuing::{CardStatus, CardType, IssuingError};
        use paylink_core::money::Currency;

        assert_eq!(PRODUCTS, CORE_PRODUCTS);
        let currencies: BTreeSet<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(currencies, CURRENCIES.iter().copied().collect());
        let kinds: Vec<&str> = TransactionKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, TRANSACTION_TYPES);
        let statuses: Vec<&str> = TransactionStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(statuses, TRANSACTION_STATUSES);
        let codes: Vec<u8> = CardStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, CARD_STATUSES);
        for t in CARD_TYPES {
            assert!(CardType::parse(t).is_some(), "{t}");
        }
        for e in [
            IssuingError::CardInactive,
            IssuingError::CardBlocked,
            IssuingError::CardClosed,
            IssuingError::CardExpired,
            IssuingError::InsufficientFunds,
            IssuingError::AmountExceedsAuthorized,
            IssuingError::OtpInvalid,
            IssuingError::OtpExpired,
            IssuingError::OtpAttemptsExhausted,
            IssuingError::LimitExceeded,
        ] {
            assert!(ERROR_CODES.contains(&e.code()), "{}", e.code());
        }
        use super::super::jws::JwsError;
        for e in [
            JwsError::Missing,
            JwsError::TooLong,
            JwsError::NotDetached,
            JwsError::HeaderEncoding,
            JwsError::HeaderJson,
            JwsError::MissingClaim("uri"),
            JwsError::UnsupportedAlg,
            JwsError::Critical,
            JwsError::PayloadMismatch,
            JwsError::SignatureEncoding,
            JwsError::BadSignature,
            JwsError::UnknownAuthId,
            JwsError::UriMismatch,
            JwsError::MethodMismatch,
            JwsError::ParamsMismatch,
        ] {
            assert!(AUTH_ERROR_CODES.contains(&e.code()), "{}", e.code());
        }
        for code in AUTH_ERROR_CODES {
            assert!(ERROR_CODES.contains(code), "{code}");
        }
    }
}
