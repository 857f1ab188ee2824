//! Cardlink parameters arrive in the query, a JSON body, a form body or a multipart body, on
//! GET and POST alike (compat 1–5). They are merged into one JSON object (body over query) and
//! read through a [`Fields`] reader that collects Laravel-style validation errors.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use paylink_core::money::Amount;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Default)]
pub struct Params(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(query) = req.uri().query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                params.insert_pair(&k, Value::String(v.into_owned()));
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
                params.insert_pair(&name, Value::String(text));
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
                Ok(Value::Object(map)) => params.0.extend(map),
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
                params.insert_pair(&k, Value::String(v.into_owned()));
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

impl Params {
    /// `items[0][name]=x` → `{"items": {"0": {"name": "x"}}}`; `a[]=x` appends to an array.
    fn insert_pair(&mut self, key: &str, value: Value) {
        let (head, rest) = match key.find('[') {
            Some(i) if key.ends_with(']') => (&key[..i], &key[i + 1..key.len() - 1]),
            _ => (key, ""),
        };
        let path: Vec<&str> = if rest.is_empty() && !key.ends_with("[]") {
            Vec::new()
        } else {
            rest.split("][").collect()
        };
        let mut slot = self.0.entry(head.to_string()).or_insert(Value::Null);
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
    }

    /// A present value: missing, `null` and `""` all mean absent (compat 3).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self.0.get(key) {
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
            self.0
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

fn label(key: &str) -> String {
    key.replace('_', " ")
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
            p.insert_pair(k, Value::String(v.to_string()));
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
