//! The API contract for people and tools: `GET /openapi/cardlink.json`,
//! `GET /openapi/procard.json` and `GET /openapi/cardapi.json` (the OpenAPI documents generated
//! from the code) and `GET /docs`,
//! the Cardlink document rendered into one offline HTML page on the server (no scripts, no CDN),
//! linking the Procard one.

use crate::dialects::cardlink::{self, SPEC_PATH};
use crate::dialects::{cardapi, procard};
use crate::state::AppState;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Both are built once: the document depends on the code only.
static SPEC: LazyLock<String> = LazyLock::new(cardlink::document_json);
static PROCARD_SPEC: LazyLock<String> = LazyLock::new(procard::document_json);
static CARDAPI_SPEC: LazyLock<String> = LazyLock::new(cardapi::document_json);
static PAGE: LazyLock<Result<String, askama::Error>> =
    LazyLock::new(|| DocsPage::from_document(&cardlink::document()).render());

pub fn router() -> Router<AppState> {
    Router::new()
        .route(SPEC_PATH, get(spec))
        .route(procard::SPEC_PATH, get(procard_spec))
        .route(cardapi::SPEC_PATH, get(cardapi_spec))
        .route("/docs", get(docs))
}

async fn spec() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], SPEC.as_str()).into_response()
}

async fn procard_spec() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        PROCARD_SPEC.as_str(),
    )
        .into_response()
}

async fn cardapi_spec() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        CARDAPI_SPEC.as_str(),
    )
        .into_response()
}

async fn docs() -> Response {
    match PAGE.as_ref() {
        Ok(html) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html.as_str(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the API docs page");
            (StatusCode::INTERNAL_SERVER_ERROR, "The docs page failed.").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    title: String,
    version: String,
    description: String,
    spec_path: &'static str,
    /// The other dialect's document, linked from the page.
    procard_spec_path: &'static str,
    cardapi_spec_path: &'static str,
    endpoints: Vec<Endpoint>,
    models: Vec<Model>,
    responses: Vec<Answer>,
}

struct Endpoint {
    anchor: String,
    methods: String,
    path: String,
    tag: String,
    description: String,
    authenticated: bool,
    fields: Vec<Field>,
    answers: Vec<Answer>,
}

struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

struct Answer {
    status: String,
    description: String,
    body: String,
}

struct Model {
    name: String,
    description: String,
    fields: Vec<Field>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn ref_name(v: &Value) -> Option<&str> {
    v.get("$ref")?.as_str()?.rsplit('/').next()
}

/// A JSON schema in a few words: `string`, `array of Bill`, `one of: RUB, USD`.
fn kind(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return name.to_string();
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = schema.get(combinator).and_then(Value::as_array) {
            return items.iter().map(kind).collect::<Vec<_>>().join(" or ");
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect();
        return format!("one of: {}", values.join(", "));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let mut words: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => format!(
                "array of {}",
                schema.get("items").map_or_else(|| "any".into(), kind)
            ),
            "object" => match schema.get("additionalProperties") {
                Some(extra) if extra.is_object() => format!("map of {}", kind(extra)),
                _ => "object".into(),
            },
            other => other.to_string(),
        })
        .collect();
    if words.is_empty() {
        words.push("any".into());
    }
    let mut text = words.join(" or ");
    let mut limits = Vec::new();
    for (key, label) in [
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("maxLength", "length ≤"),
        ("pattern", "matching"),
    ] {
        if let Some(v) = schema.get(key) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            limits.push(format!("{label} {v}"));
        }
    }
    if !limits.is_empty() {
        text = format!("{text} ({})", limits.join(", "));
    }
    text
}

fn object_fields(object: &Value) -> Vec<Field> {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    object
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .iter()
        .map(|(name, schema)| Field {
            name: name.clone(),
            kind: kind(schema),
            required: required.contains(&name.as_str()),
            description: text(schema, "description"),
        })
        .collect()
}

impl DocsPage {
    fn from_document(doc: &Value) -> DocsPage {
        let info = &doc["info"];
        let schemas = &doc["components"]["schemas"];
        let resolve = |v: &Value| -> Value {
            match ref_name(v) {
                Some(name) => schemas[name].clone(),
                None => v.clone(),
            }
        };
        let shared = &doc["components"]["responses"];
        let answer = |status: &str, r: &Value| {
            let r = match ref_name(r) {
                Some(name) => &shared[name],
                None => r,
            };
            Answer {
                status: status.to_string(),
                description: text(r, "description"),
                body: r["content"]["application/json"]
                    .get("schema")
                    .map(kind)
                    .unwrap_or_default(),
            }
        };
        let mut endpoints = Vec::new();
        let empty = Map::new();
        for (path, item) in doc["paths"].as_object().unwrap_or(&empty) {
            let methods: Vec<&str> = ["get", "post"]
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .collect();
            // GET and POST of one path are one operation in two forms: describe it once.
            let Some(op) = item.get("post").or_else(|| item.get("get")) else {
                continue;
            };
            let body = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
            let fields = if body.is_null() {
                Vec::new()
            } else {
                object_fields(&resolve(body))
            };
            endpoints.push(Endpoint {
                anchor: path.trim_start_matches('/').replace('/', "-"),
                methods: methods
                    .iter()
                    .map(|m| m.to_uppercase())
                    .collect::<Vec<_>>()
                    .join(" · "),
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or("").to_string(),
                description: text(op, "description"),
                authenticated: op.get("security").is_some(),
                fields,
                answers: op["responses"]
                    .as_object()
                    .unwrap_or(&empty)
                    .iter()
                    .map(|(status, r)| answer(status, r))
                    .collect(),
            });
        }
        let models = schemas
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .filter(|(name, _)| !name.ends_with("Params"))
            .map(|(name, schema)| Model {
                name: name.clone(),
                description: text(schema, "description"),
                fields: object_fields(schema),
            })
            .collect();
        DocsPage {
            title: text(info, "title"),
            version: text(info, "version"),
            description: text(info, "description"),
            spec_path: SPEC_PATH,
            procard_spec_path: procard::SPEC_PATH,
            cardapi_spec_path: cardapi::SPEC_PATH,
            endpoints,
            models,
            responses: shared
                .as_object()
                .unwrap_or(&empty)
                .iter()
                .map(|(name, r)| answer(name, r))
                .collect(),
        }
    }
}
