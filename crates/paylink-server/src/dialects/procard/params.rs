//! A Procard request's parameters: a JSON object or a form body, read into text values. JSON
//! numbers keep their text (`100.55`), booleans become `1`/`0`, `null` is an absent field.
//! Bounded: at most [`MAX_FIELDS`] fields of at most [`MAX_VALUE`] bytes each.

use super::Refusal;
use axum::http::{header, HeaderMap};
use paylink_core::text::has_control;
use std::collections::BTreeMap;

pub const MAX_FIELDS: usize = 64;
pub const MAX_VALUE: usize = 16 * 1024;

#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<Params, Refusal> {
        // No body is no parameters (then the first required one is named), whatever the
        // content type says.
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
            || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let mut out = BTreeMap::new();
        if json {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| Refusal::invalid(vec!["The request body is not valid JSON".into()]))?;
            let serde_json::Value::Object(map) = value else {
                return Err(Refusal::invalid(vec![
                    "The request body must be a JSON object".into(),
                ]));
            };
            if map.len() > MAX_FIELDS {
                return Err(too_many());
            }
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => if b { "1" } else { "0" }.to_string(),
                    _ => {
                        return Err(Refusal::invalid(vec![format!(
                            "Parameter {k} must be a string or a number"
                        )]))
                    }
                };
                out.insert(k, text);
            }
        } else {
            for (k, v) in form_urlencoded::parse(body) {
                if out.len() >= MAX_FIELDS && !out.contains_key(k.as_ref()) {
                    return Err(too_many());
                }
                // A repeated field keeps its first value.
                out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        if let Some((k, _)) = out.iter().find(|(_, v)| v.len() > MAX_VALUE) {
            return Err(Refusal::invalid(vec![format!(
                "Parameter {k} may not be longer than {MAX_VALUE} bytes"
            )]));
        }
        // A NUL cannot be stored (PostgreSQL) nor looked up, and no other control character
        // belongs in a login, an id or a description.
        if let Some((k, _)) = out.iter().find(|(k, v)| has_control(k) || has_control(v)) {
            return Err(Refusal::invalid(vec![format!(
                "Parameter {} may not hold control characters",
                k.escape_debug()
            )]));
        }
        Ok(Params(out))
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A field that must be present (it may be empty).
    pub fn required(&self, name: &str) -> Result<&str, Refusal> {
        self.text(name).ok_or_else(|| Refusal::missing(name))
    }

    /// An optional 0/1 flag.
    pub fn flag(&self, name: &str, errors: &mut Vec<String>) -> Option<bool> {
        match self.text(name).map(str::trim) {
            None | Some("") => None,
            Some("0") => Some(false),
            Some("1") => Some(true),
            Some(_) => {
                errors.push(format!("Parameter {name} must be 0 or 1"));
                None
            }
        }
    }

    /// An optional whole number within `min..=max`.
    pub fn whole(&self, name: &str, min: i64, max: i64, errors: &mut Vec<String>) -> Option<i64> {
        let text = self.text(name).map(str::trim).filter(|t| !t.is_empty())?;
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.push(if max == i64::MAX {
                    format!("Parameter {name} must be a whole number of at least {min}")
                } else {
                    format!("Parameter {name} must be a whole number from {min} to {max}")
                });
                None
            }
        }
    }
}

fn too_many() -> Refusal {
    Refusal::invalid(vec![format!(
        "The request may not have more than {MAX_FIELDS} parameters"
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content_type: &str, body: &str) -> Result<Params, Refusal> {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        Params::read(&h, body.as_bytes())
    }

    #[test]
    fn json_and_form_read_alike() {
        let j = read(
            "application/json",
            r#"{"merchant_id":"M","kind":1,"custom_amount":100.55,"x":null,"b":true}"#,
        )
        .unwrap();
        assert_eq!(j.text("kind"), Some("1"));
        assert_eq!(j.text("custom_amount"), Some("100.55"));
        assert_eq!(j.text("x"), None);
        assert_eq!(j.text("b"), Some("1"));
        let f = read(
            "application/x-www-form-urlencoded",
            "merchant_id=M&kind=1&amount=100%3B200&kind=0",
        )
        .unwrap();
        assert_eq!(f.text("kind"), Some("1"));
        assert_eq!(f.text("amount"), Some("100;200"));
        assert_eq!(read("application/json", " \n").unwrap().text("a"), None);
        // No content type, but plainly JSON.
        assert!(Params::read(&HeaderMap::new(), br#" {"a":"b"}"#)
            .unwrap()
            .text("a")
            .is_some());
    }

    #[test]
    fn bad_bodies_are_refused_with_minus_15() {
        for body in ["{", "[1]", r#"{"a":[1]}"#, r#"{"a":{"b":1}}"#] {
            assert_eq!(
                read("application/json", body).unwrap_err().code,
                -15,
                "{body}"
            );
        }
        let many: String = (0..=MAX_FIELDS).map(|i| format!("f{i}=1&")).collect();
        assert_eq!(
            read("application/x-www-form-urlencoded", &many)
                .unwrap_err()
                .code,
            -15
        );
        for (content_type, body) in [
            ("application/json", r#"{"merchant_id":"\u0000"}"#),
            ("application/json", r#"{"a\u0001":"x"}"#),
            ("application/x-www-form-urlencoded", "merchant_id=%00"),
            ("application/x-www-form-urlencoded", "name=a%1Bb"),
        ] {
            let refused = read(content_type, body).unwrap_err();
            assert_eq!(refused.code, -15, "{body}");
        }
        // Line breaks and tabs are text.
        assert!(read("application/x-www-form-urlencoded", "d=a%0D%0Ab%09c").is_ok());
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert_eq!(
            read("application/x-www-form-urlencoded", &long)
                .unwrap_err()
                .code,
            -15
        );
    }
}
