//! The Card API's outgoing messages: a text message (a gift card's OTP) to the configured SMS
//! gateway, as a JSON POST `{"id", "phone", "text"}` with `webhook-id` (the message id, the same
//! on every attempt: gateways drop repeats by it). No signature: the gateway is the operator's
//! own service, reached over the address they configure.

use crate::dialects::Rendered;
use paylink_core::event::Event;
use paylink_store::{Claimed, NoticeContent, StoredNotice};
use serde_json::json;

fn message(notice: &StoredNotice) -> Result<(&str, &str), String> {
    match &notice.content {
        NoticeContent::Event(Event::Sms(sms)) => Ok((&sms.phone, &sms.text)),
        _ => Err("a Card API notice holds no text message".into()),
    }
}

pub fn render(claimed: &Claimed) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let (phone, text) = message(notice)?;
    Ok(Rendered {
        headers: vec![
            ("content-type", "application/json".into()),
            ("webhook-id", notice.id.clone()),
        ],
        body: json!({"id": notice.id, "phone": phone, "text": text}).to_string(),
    })
}

/// The message as name and value pairs, for operators.
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match message(notice) {
        Ok((phone, text)) => vec![("phone".into(), phone.into()), ("text".into(), text.into())],
        Err(_) => Vec::new(),
    }
}
