//! Rules every free text a merchant gives must follow (bills, merchants, shops, settings).

use crate::error::{DomainError, Rule};

/// Longest accepted names and URLs, in characters.
pub const MAX_NAME: usize = 255;
pub const MAX_URL: usize = 2048;

/// Whether `text` holds a control character other than tab and line breaks: a NUL cannot be
/// stored in PostgreSQL text, and none of them belongs in a name, a URL or an id.
pub fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// A text field's rules: at most `max` characters and no control characters.
pub fn check_len(
    field: &'static str,
    value: &Option<String>,
    max: usize,
) -> Result<(), DomainError> {
    let kind = match value {
        Some(v) if has_control(v) => Rule::ControlCharacter,
        Some(v) if v.chars().count() > max => Rule::TooLong { max },
        _ => return Ok(()),
    };
    Err(DomainError::Invalid { field, kind })
}

/// A URL field's rules: [`check_len`], and an http(s) URL without whitespace.
pub fn check_url(field: &'static str, value: &Option<String>) -> Result<(), DomainError> {
    check_len(field, value, MAX_URL)?;
    match value {
        Some(v)
            if !(v.starts_with("http://") || v.starts_with("https://"))
                || v.contains(char::is_whitespace) =>
        {
            Err(DomainError::Invalid {
                field,
                kind: Rule::Url,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(result: Result<(), DomainError>) -> Option<Rule> {
        match result {
            Ok(()) => None,
            Err(DomainError::Invalid { field: "f", kind }) => Some(kind),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn each_text_rule_names_the_field_and_the_rule() {
        let text = |s: &str| Some(s.to_string());
        assert_eq!(rule(check_len("f", &None, 3)), None);
        assert_eq!(rule(check_len("f", &text("äöü"), 3)), None);
        assert_eq!(
            rule(check_len("f", &text("abcd"), 3)),
            Some(Rule::TooLong { max: 3 })
        );
        assert_eq!(
            rule(check_len("f", &text("a\0"), 3)),
            Some(Rule::ControlCharacter)
        );
        assert_eq!(rule(check_url("f", &text("https://x.example/a"))), None);
        assert_eq!(
            rule(check_url("f", &text("ftp://x.example"))),
            Some(Rule::Url)
        );
        assert_eq!(rule(check_url("f", &text("http://x y"))), Some(Rule::Url));
        let long = format!("https://{}", "x".repeat(MAX_URL));
        assert_eq!(
            rule(check_url("f", &Some(long))),
            Some(Rule::TooLong { max: MAX_URL })
        );
    }
}
