//! The fields of a Card API request body, each read into a domain value or refused with
//! `validation_error` naming the field. Partners send numbers where strings are documented
//! (Freedom Pay sends phones as numbers), so a numeric field may be a JSON number or a string
//! of digits, and `null` is an omitted field.

use paylink_core::error::Rule;
use paylink_core::issued::PRODUCTS;
use paylink_core::issuing::IssuingError;
use paylink_core::money::{parse_minor, Amount, Currency};
use paylink_core::text::has_control;
use paylink_core::time::{parse_filter_date, DayEdge, Millis};
use serde_json::{Map, Value};

/// The longest name part (first, last): as the cardholder rules bound them.
const MAX_NAME: usize = paylink_core::cardholder::MAX_NAME_CHARS;

pub struct Fields<'a> {
    map: &'a Map<String, Value>,
}

fn invalid(field: &'static str, kind: Rule) -> IssuingError {
    IssuingError::Invalid { field, kind }
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Fields<'a> {
        Fields { map }
    }

    /// Whether the field is there (and not `null`).
    pub fn has(&self, name: &str) -> bool {
        !matches!(self.map.get(name), None | Some(Value::Null))
    }

    fn value(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A nested object (`client`).
    pub fn object(&self, name: &'static str) -> Result<Fields<'a>, IssuingError> {
        match self.value(name) {
            Some(Value::Object(m)) => Ok(Fields { map: m }),
            Some(_) => Err(invalid(name, Rule::NotValid)),
            None => Err(invalid(name, Rule::Required)),
        }
    }

    pub fn opt_text(&self, name: &'static str, max: usize) -> Result<Option<String>, IssuingError> {
        let text = match self.value(name) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim(),
            Some(_) => return Err(invalid(name, Rule::NotValid)),
        };
        if text.is_empty() {
            return Ok(None);
        }
        if has_control(text) {
            return Err(invalid(name, Rule::ControlCharacter));
        }
        if text.chars().count() > max {
            return Err(invalid(name, Rule::TooLong { max }));
        }
        Ok(Some(text.to_string()))
    }

    pub fn text(&self, name: &'static str, max: usize) -> Result<String, IssuingError> {
        self.opt_text(name, max)?
            .ok_or_else(|| invalid(name, Rule::Required))
    }

    /// A person's name part: letters (any alphabet), spaces, hyphens, apostrophes and dots.
    pub fn name(&self, name: &'static str) -> Result<String, IssuingError> {
        self.letters(name, MAX_NAME)
    }

    /// A whole name (a gift card's holder): first and last, as [`Fields::name`] allows.
    pub fn person(&self, name: &'static str) -> Result<String, IssuingError> {
        self.letters(name, 2 * MAX_NAME + 1)
    }

    fn letters(&self, name: &'static str, max: usize) -> Result<String, IssuingError> {
        let text = self.text(name, max)?;
        if text
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | '’'))
        {
            Ok(text)
        } else {
            Err(invalid(name, Rule::NotValid))
        }
    }

    /// A whole number in `min..=max`, given as a number or a string of digits.
    pub fn opt_int(
        &self,
        name: &'static str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, IssuingError> {
        let n = match self.value(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if !s.trim().is_empty() && s.trim().len() <= 18 => {
                s.trim().parse().ok()
            }
            Some(_) => None,
        }
        .ok_or_else(|| invalid(name, Rule::NotValid))?;
        if (min..=max).contains(&n) {
            Ok(Some(n))
        } else {
            Err(invalid(name, Rule::Between { min, max }))
        }
    }

    pub fn int(&self, name: &'static str, min: i64, max: i64) -> Result<i64, IssuingError> {
        self.opt_int(name, min, max)?
            .ok_or_else(|| invalid(name, Rule::Required))
    }

    /// `product_id`: one of the client products.
    pub fn opt_product_id(&self) -> Result<Option<u32>, IssuingError> {
        match self.opt_int("product_id", 0, i64::from(u32::MAX))? {
            None => Ok(None),
            Some(p) if PRODUCTS.contains(&(p as u32)) => Ok(Some(p as u32)),
            Some(_) => Err(IssuingError::ProductNotAvailable),
        }
    }

    pub fn product_id(&self) -> Result<u32, IssuingError> {
        self.opt_product_id()?
            .ok_or_else(|| invalid("product_id", Rule::Required))
    }

    /// A phone: 10 to 15 digits with the country code, as a number or a string (`+`, spaces,
    /// dashes and brackets allowed).
    pub fn phone(&self, name: &'static str) -> Result<String, IssuingError> {
        let text = match self.value(name) {
            None => return Err(invalid(name, Rule::Required)),
            Some(Value::Number(n)) if n.is_u64() => n.to_string(),
            Some(Value::String(s)) if s.chars().count() <= 32 => s.clone(),
            Some(_) => return Err(invalid(name, Rule::NotValid)),
        };
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
            .collect();
        if (10..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(digits)
        } else {
            Err(invalid(name, Rule::NotValid))
        }
    }

    /// An amount in major units (`"1500.00"`, `1500`, `12.5`), at most two decimals, positive.
    pub fn opt_amount(&self, name: &'static str) -> Result<Option<Amount>, IssuingError> {
        let text = match self.value(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if s.len() <= 32 => s.clone(),
            Some(_) => return Err(invalid(name, Rule::NotValid)),
        };
        // Exponents are not decimal strings a partner sends; refused rather than read.
        if text.contains(['e', 'E']) {
            return Err(invalid(name, Rule::NotValid));
        }
        parse_minor(&text, 2)
            .and_then(Amount::from_minor)
            .map(Some)
            .ok_or_else(|| invalid(name, Rule::NotValid))
    }

    pub fn amount(&self, name: &'static str) -> Result<Amount, IssuingError> {
        self.opt_amount(name)?
            .ok_or_else(|| invalid(name, Rule::Required))
    }

    pub fn currency(&self, name: &'static str) -> Result<Currency, IssuingError> {
        let text = self.text(name, 3)?;
        text.parse().map_err(|_| IssuingError::ProductNotAvailable)
    }

    /// `YYYY-MM-DD` (the day's `edge`) or `YYYY-MM-DD HH:MM:SS`, UTC.
    pub fn date(&self, name: &'static str, edge: DayEdge) -> Result<Millis, IssuingError> {
        let text = self.text(name, 32)?;
        parse_filter_date(&text, edge).ok_or_else(|| invalid(name, Rule::NotValid))
    }

    pub fn opt_birthdate(&self, name: &'static str) -> Result<Option<String>, IssuingError> {
        match self.opt_text(name, 10)? {
            None => Ok(None),
            Some(d) if d.len() == 10 && parse_filter_date(&d, DayEdge::Start).is_some() => {
                Ok(Some(d))
            }
            Some(_) => Err(invalid(name, Rule::NotValid)),
        }
    }

    pub fn opt_email(&self, name: &'static str) -> Result<Option<String>, IssuingError> {
        match self.opt_text(name, 254)? {
            None => Ok(None),
            Some(e) => match e.split_once('@') {
                Some((local, domain))
                    if !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !e.contains(char::is_whitespace) =>
                {
                    Ok(Some(e))
                }
                _ => Err(invalid(name, Rule::Email)),
            },
        }
    }

    /// An ISO 3166 alpha-2 or alpha-3 code, upper case.
    pub fn opt_country(&self, name: &'static str) -> Result<Option<String>, IssuingError> {
        match self.opt_text(name, 3)? {
            None => Ok(None),
            Some(c) if c.len() >= 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Ok(Some(c.to_ascii_uppercase()))
            }
            Some(_) => Err(invalid(name, Rule::NotValid)),
        }
    }
}
