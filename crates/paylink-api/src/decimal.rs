use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// An exact decimal that travels as a JSON number (`100.05`, `35400`), never through a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(String);

impl Decimal {
    /// `text` must be a plain decimal (digits, optional sign and point).
    pub fn new(text: String) -> Decimal {
        debug_assert!(
            !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'),
            "not a decimal: {text}"
        );
        Decimal(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON number in the OpenAPI document (the exact text travels as one).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Decimal {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .description(Some(
                "An exact decimal, as a JSON number (`100.5`, `35400`).",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Decimal {}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(self.0.clone())
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    /// Accepts a JSON number or a decimal string, keeping the exact text.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => inner,
            None => text,
        };
        if text.is_empty()
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        {
            return Err(D::Error::custom(format!("not a decimal: {text}")));
        }
        Ok(Decimal(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn travels_as_an_exact_json_number() {
        let json = serde_json::to_string(&vec![
            Decimal::new("100.05".into()),
            Decimal::new("35400".into()),
        ])
        .unwrap();
        assert_eq!(json, "[100.05,35400]");
        let back: Vec<Decimal> = serde_json::from_str("[100.05, \"7.5\", 1e+06]").unwrap();
        assert_eq!(
            back.iter().map(Decimal::as_str).collect::<Vec<_>>(),
            ["100.05", "7.5", "1e+06"]
        );
    }
}
