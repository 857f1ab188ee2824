//! Cardlink parameters arrive in the query, a JSON body, a form body or a multipart body, on
//! GET and POST alike (compat 1–5). They are merged into one JSON object (body over query) and
//! read through a [`Fields`] reader that collects Laravel-style validation errors.
//!
//! The parser is bounded: nesting depth, the number of parameters and key length are capped,
//! and no key or value may carry a control character (a NUL cannot even be stored in
//! PostgreSQL text), so whatever a client sends ends in a 422, never in a crash.

use super::error::{label, wording, ApiError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use paylink_core::error::Rule;
use paylink_core::money::Amount;
use paylink_core::text::has_control;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

/// How deep `a[b][c]` keys and JSON bodies may nest.
pub const MAX_DEPTH: usize = 8;
/// How many parameters (query, form and multipart pairs, JSON values) one request may carry.
pub const MAX_PARAMS: usize = 1000;
/// The longest parameter name, in bytes, brackets included.
pub const MAX_KEY_LEN: usize = 256;

#[derive(Debug, Default)]
pub struct Params {
    map: Map<String, Value>,
    /// Pairs inserted so far, against [`MAX_PARAMS`].
    count: usize,
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(query) = req.uri().query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                params.insert_pair(&k, Value::String(v.into_owned()))?;
            }
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        if content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("multipart/form-data"))
        {
            let mut multipart = Multipart::from_request(req, state).await.map_err(|_| {
                ApiError::Http(StatusCode::BAD_REQUEST, "Malformed multipart body.")
            })?;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| body_error(e.status()))?
            {
                let Some(name) = field.name().map(str::to_string) else {
                    continue;
                };
                let text = field.text().await.map_err(|e| body_error(e.status()))?;
                params.insert_pair(&name, Value::String(text))?;
            }
            return Ok(params);
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e.status()))?;
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let Some(&first) = first else {
            return Ok(params);
        };
        let kind = content_type.as_deref().unwrap_or("");
        let is_json = kind.starts_with("application/json") || kind.contains("+json");
        let is_form = kind.starts_with("application/x-www-form-urlencoded");
        if is_json || (kind.is_empty() && (first == b'{' || first == b'[')) {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => {
                    for (key, value) in &map {
                        params.count += check_json(key, value, 1)?;
                    }
                    if params.count > MAX_PARAMS {
                        return Err(too_many());
                    }
                    params.map.extend(map)
                }
                Ok(Value::Null) => {}
                Ok(_) => {
                    return Err(ApiError::field(
                        "body",
                        "The request body must be a JSON object.",
                    ))
                }
                Err(_) => {
                    return Err(ApiError::field(
                        "body",
                        "The request body is not valid JSON.",
                    ))
                }
            }
        } else if is_form || kind.is_empty() || kind.starts_with("text/plain") {
            for (k, v) in form_urlencoded::parse(&body) {
                params.insert_pair(&k, Value::String(v.into_owned()))?;
            }
        } else {
            return Err(ApiError::Http(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported content type: send JSON, form-urlencoded or multipart parameters.",
            ));
        }
        Ok(params)
    }
}

fn body_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::Http(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large.",
        )
    } else {
        ApiError::Http(
            StatusCode::BAD_REQUEST,
            "The request body could not be read.",
        )
    }
}

fn too_many() -> ApiError {
    ApiError::field(
        "params",
        format!("A request may carry at most {MAX_PARAMS} parameters."),
    )
}

fn too_deep(field: &str) -> ApiError {
    ApiError::field(
        field,
        format!("The {field} may nest at most {MAX_DEPTH} levels deep."),
    )
}

fn control_character(field: &str) -> ApiError {
    ApiError::field(field, wording(&label(field), &Rule::ControlCharacter))
}

/// The field an error about `key` is reported on: its top-level name when that is sane.
fn field_of(key: &str) -> &str {
    let head = key.split('[').next().unwrap_or(key);
    if head.is_empty() || head.len() > 64 || has_control(head) {
        "params"
    } else {
        head
    }
}

/// Checks one top-level JSON parameter against the bounds; answers how many values it holds.
fn check_json(key: &str, value: &Value, depth: usize) -> Result<usize, ApiError> {
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::field(
            "params",
            format!("A parameter name may be at most {MAX_KEY_LEN} bytes long."),
        ));
    }
    if has_control(key) {
        return Err(control_character("params"));
    }
    // serde_json stops at 128 levels; ours is far lower, and the walk stops at it.
    let mut count = 1;
    let mut stack = vec![(value, depth)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::String(s) if has_control(s) => return Err(control_character(field_of(key))),
            Value::Array(_) | Value::Object(_) if d >= MAX_DEPTH => {
                return Err(too_deep(field_of(key)))
            }
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => {
                for (k, i) in map {
                    if k.len() > MAX_KEY_LEN || has_control(k) {
                        return Err(control_character(field_of(key)));
                    }
                    stack.push((i, d + 1));
                }
            }
            _ => {}
        }
        count += 1;
        if count > MAX_PARAMS {
            return Err(too_many());
        }
    }
    Ok(count)
}

impl Params {
    /// `items[0][name]=x` → `{"items": {"0": {"name": "x"}}}`; `a[]=x` appends to an array.
    /// Refuses, before building anything, a key too long or too deep, one pair too many, and
    /// control characters.
    fn insert_pair(&mut self, key: &str, value: Value) -> Result<(), ApiError> {
        self.count += 1;
        if self.count > MAX_PARAMS {
            return Err(too_many());
        }
        if key.len() > MAX_KEY_LEN {
            return Err(ApiError::field(
                field_of(key),
                format!("A parameter name may be at most {MAX_KEY_LEN} bytes long."),
            ));
        }
        if has_control(key) || matches!(&value, Value::String(s) if has_control(s)) {
            return Err(control_character(field_of(key)));
        }
        // `find` and `ends_with` give char boundaries, so the slices below are safe.
        let (head, rest) = match key.find('[') {
            Some(i) if key.ends_with(']') => (&key[..i], &key[i + 1..key.len() - 1]),
            _ => (key, ""),
        };
        let path: Vec<&str> = if rest.is_empty() && !key.ends_with("[]") {
            Vec::new()
        } else {
            rest.split("][").collect()
        };
        if path.len() >= MAX_DEPTH {
            return Err(too_deep(field_of(key)));
        }
        let mut slot = self.map.entry(head.to_string()).or_insert(Value::Null);
        for segment in path {
            if segment.is_empty() {
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let arr = slot.as_array_mut().expect("made an array above");
                arr.push(Value::Null);
                slot = arr.last_mut().expect("just pushed");
            } else {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                slot = slot
                    .as_object_mut()
                    .expect("made an object above")
                    .entry(segment.to_string())
                    .or_insert(Value::Null);
            }
        }
        *slot = value;
        Ok(())
    }

    /// A present value: missing, `null` and `""` all mean absent (compat 3).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    pub fn fields(&self) -> Fields<'_> {
        Fields {
            params: self,
            errors: BTreeMap::new(),
        }
    }

    /// The amount field: anything but a valid positive amount is `invalid_amount` (403).
    pub fn amount(&self, key: &str) -> Result<Amount, ApiError> {
        let text = match self.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        Amount::parse(&text).ok_or(ApiError::Key(StatusCode::FORBIDDEN, "invalid_amount"))
    }

    /// The given keys' present scalar values as text, to repeat a request's filters in a link.
    pub fn pairs_of(&self, keys: &[&str]) -> Vec<(String, String)> {
        keys.iter()
            .filter_map(|k| {
                let text = match self.get(k)? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((k.to_string(), text))
            })
            .collect()
    }

    /// The given keys as one JSON object text (arrays sent as `a[0]` become arrays), or `None`.
    pub fn json_of(&self, keys: &[&str]) -> Option<String> {
        let picked: Map<String, Value> = keys
            .iter()
            .filter_map(|k| {
                self.get(k)
                    .map(|v| (k.to_string(), arrays_from_index_maps(v.clone())))
            })
            .collect();
        (!picked.is_empty()).then(|| Value::Object(picked).to_string())
    }
}

impl Params {
    /// The parameters as one canonical JSON text, what an `Idempotency-Key` compares: keys
    /// sorted, scalars as their text (`100` and `"100"` are one value, as every reader takes
    /// them), absent values (`null`, `""`) left out, `a[0]`-style maps as arrays. So JSON, form,
    /// multipart and query spellings of the same parameters, in any order, are one request.
    pub fn canonical(&self) -> String {
        fn absent(v: &Value) -> bool {
            matches!(v, Value::Null) || matches!(v, Value::String(s) if s.is_empty())
        }
        fn text(out: &mut String, s: &str) {
            out.push_str(&Value::String(s.to_string()).to_string());
        }
        // Written by hand, keys sorted here: a `Map` keeps insertion order when some crate in
        // the build turns on serde_json's `preserve_order`.
        fn write(out: &mut String, v: &Value) {
            match v {
                Value::Null => out.push_str("null"),
                Value::String(s) => text(out, s),
                Value::Number(n) => text(out, &n.to_string()),
                Value::Bool(b) => text(out, &b.to_string()),
                Value::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write(out, item);
                    }
                    out.push(']');
                }
                Value::Object(map) => {
                    let mut keys: Vec<&String> = map
                        .iter()
                        .filter(|(_, v)| !absent(v))
                        .map(|(k, _)| k)
                        .collect();
                    keys.sort();
                    out.push('{');
                    for (i, k) in keys.into_iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        text(out, k);
                        out.push(':');
                        write(out, &map[k]);
                    }
                    out.push('}');
                }
            }
        }
        let all = Value::Object(
            self.map
                .iter()
                .map(|(k, v)| (k.clone(), arrays_from_index_maps(v.clone())))
                .collect(),
        );
        let mut out = String::new();
        write(&mut out, &all);
        out
    }
}

fn arrays_from_index_maps(v: Value) -> Value {
    match v {
        Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok()) => {
            let mut entries: Vec<(usize, Value)> = map
                .into_iter()
                .map(|(k, v)| (k.parse().unwrap_or(0), v))
                .collect();
            entries.sort_by_key(|(i, _)| *i);
            Value::Array(
                entries
                    .into_iter()
                    .map(|(_, v)| arrays_from_index_maps(v))
                    .collect(),
            )
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, arrays_from_index_maps(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(arrays_from_index_maps).collect())
        }
        other => other,
    }
}

/// Reads fields, remembering every failure; [`Fields::finish`] turns them into one 422.
pub struct Fields<'a> {
    params: &'a Params,
    errors: BTreeMap<String, Vec<String>>,
}

impl Fields<'_> {
    pub fn fail(&mut self, key: &str, message: String) {
        self.errors
            .entry(key.to_string())
            .or_default()
            .push(message);
    }

    /// Optional text; numbers are taken as their text.
    pub fn text(&mut self, key: &str) -> Option<String> {
        match self.params.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.fail(key, format!("The {} must be a string.", label(key)));
                None
            }
        }
    }

    pub fn required_text(&mut self, key: &str) -> Option<String> {
        if self.params.get(key).is_none() {
            self.fail(key, format!("The {} field is required.", label(key)));
            return None;
        }
        self.text(key)
    }

    /// `true`/`false`, `1`/`0` as numbers or strings, any letter case (compat 3).
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        let parsed = match self.params.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.fail(
                key,
                format!("The {} field must be true or false.", label(key)),
            );
        }
        parsed
    }

    pub fn required_boolean(&mut self, key: &str) -> Option<bool> {
        if self.params.get(key).is_none() {
            self.fail(key, format!("The {} field is required.", label(key)));
            return None;
        }
        self.boolean(key)
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        let parsed = match self.params.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.fail(key, format!("The {} must be an integer.", label(key)));
        }
        parsed
    }

    /// An enum read case-insensitively by its `FromStr` (compat 5).
    pub fn choice<T: FromStr>(&mut self, key: &str) -> Option<T> {
        let text = self.text(key)?;
        let parsed = text.parse().ok();
        if parsed.is_none() {
            self.fail(key, format!("The selected {} is invalid.", label(key)));
        }
        parsed
    }

    /// A value parsed by `parse`, or the failure `message` on `key`.
    pub fn parsed<T>(
        &mut self,
        key: &str,
        message: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let text = self.text(key)?;
        let parsed = parse(&text);
        if parsed.is_none() {
            self.fail(key, message.replace(":attribute", &label(key)));
        }
        parsed
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut p = Params::default();
        for (k, v) in pairs {
            p.insert_pair(k, Value::String(v.to_string())).unwrap();
        }
        p
    }

    #[test]
    fn nested_keys_become_objects_and_arrays() {
        let p = params(&[
            ("request_fields[email]", "1"),
            ("items[0][name]", "Tea"),
            ("items[0][price]", "10"),
            ("items[1][name]", "Cake"),
            ("tags[]", "a"),
            ("tags[]", "b"),
        ]);
        let json: Value =
            serde_json::from_str(&p.json_of(&["request_fields", "items", "tags"]).unwrap())
                .unwrap();
        assert_eq!(json["request_fields"]["email"], "1");
        assert_eq!(json["items"][1]["name"], "Cake");
        assert_eq!(json["items"][0]["price"], "10");
        assert_eq!(json["tags"], serde_json::json!(["a", "b"]));
    }

    fn parse(content_type: &str, body: Vec<u8>, query: &str) -> Result<Params, ApiError> {
        let request = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/bill/status{query}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(axum::body::Body::from(body))
            .expect("a request");
        futures_lite(Params::from_request(request, &()))
    }

    /// Runs a future that never waits (the body is in memory) to completion.
    fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    fn refused_on(result: Result<Params, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::Validation(errors)) => errors.into_keys().collect(),
            Err(other) => panic!("expected a 422, got {other:?}"),
            Ok(_) => panic!("expected a 422, got parameters"),
        }
    }

    #[test]
    fn deep_keys_are_refused_before_anything_is_built() {
        let form = "application/x-www-form-urlencoded";
        // The request that used to overflow the stack and kill the server.
        let key = format!("x{}=1", "[]".repeat(32_000));
        assert_eq!(refused_on(parse(form, key.into_bytes(), "")), ["x"]);
        let key = format!("x{}=1", "[a]".repeat(20_000));
        assert_eq!(refused_on(parse(form, key.into_bytes(), "")), ["x"]);
        let query = format!("?a{}=1", "[b]".repeat(MAX_DEPTH));
        assert_eq!(refused_on(parse(form, Vec::new(), &query)), ["a"]);
        let fine = format!("a{}=1", "[b]".repeat(MAX_DEPTH - 1));
        assert!(parse(form, fine.into_bytes(), "").is_ok());
        let json = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            refused_on(parse("application/json", json.into_bytes(), "")),
            ["a"]
        );
    }

    #[test]
    fn too_many_parameters_and_too_long_names_are_refused() {
        let form = "application/x-www-form-urlencoded";
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("k{i}=1")).collect();
        assert_eq!(
            refused_on(parse(form, many.join("&").into_bytes(), "")),
            ["params"]
        );
        let json: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("{i}")).collect();
        let body = format!("{{\"a\":[{}]}}", json.join(","));
        assert_eq!(
            refused_on(parse("application/json", body.into_bytes(), "")),
            ["params"]
        );
        let long = format!("{}=1", "k".repeat(MAX_KEY_LEN + 1));
        assert_eq!(refused_on(parse(form, long.into_bytes(), "")), ["params"]);
    }

    #[test]
    fn control_characters_are_refused_on_their_field() {
        let form = "application/x-www-form-urlencoded";
        let body = b"description=a%00b&amount=10".to_vec();
        assert_eq!(refused_on(parse(form, body, "")), ["description"]);
        let json = br#"{"name": "tea\u0007", "amount": 10}"#.to_vec();
        assert_eq!(refused_on(parse("application/json", json, "")), ["name"]);
        let json = br#"{"items": [{"name": "x\u0000"}]}"#.to_vec();
        assert_eq!(refused_on(parse("application/json", json, "")), ["items"]);
        // Line breaks and tabs are text.
        let body = b"description=line%0D%0Anext%09tab".to_vec();
        let p = parse(form, body, "").expect("line breaks are allowed");
        assert_eq!(
            p.get("description"),
            Some(&Value::String("line\r\nnext\ttab".into()))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1_000))]

        /// Any body under any content type ends in parameters or a refusal, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            kind in 0usize..4,
        ) {
            let types = [
                "application/x-www-form-urlencoded",
                "application/json",
                "",
                "multipart/form-data; boundary=X",
            ];
            let _ = parse(types[kind], body, "");
        }

        /// Bracketed keys of every shape.
        #[test]
        fn arbitrary_keys_never_panic(keys in proptest::collection::vec("[a-z\\[\\]0-9é]{0,40}", 0..20)) {
            let mut p = Params::default();
            for k in keys {
                let _ = p.insert_pair(&k, Value::String("v".into()));
            }
            let _ = p.json_of(&["a", "b", "items"]);
        }
    }

    #[test]
    fn every_boolean_spelling() {
        let p = params(&[("a", "True"), ("b", "0"), ("c", "false"), ("d", "yes")]);
        let mut f = p.fields();
        assert_eq!(f.boolean("a"), Some(true));
        assert_eq!(f.boolean("b"), Some(false));
        assert_eq!(f.boolean("c"), Some(false));
        assert_eq!(f.boolean("d"), None);
        assert!(f.finish().is_err());
    }
}
