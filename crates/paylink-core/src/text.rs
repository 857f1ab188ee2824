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
