//! The Card API's outgoing messages: a text message (a gift card's OTP) to the configured SMS
//! gateway, as a JSON POST `{"id", "phone", "text"}` with `webhook-id` (the message id, the same
//! on every attempt: gateways drop repeats by it). No signature: the gateway is the operator's
//! own service, reached over the address they configure.

use crate::dialects::Rendered;
use crate::keys::{message_context, Sealing};
use paylink_core::event::Event;
use paylink_store::{Claimed, NoticeContent, StoredNotice};
use serde_json::json;

fn message(notice: &StoredNotice) -> Result<&paylink_core::event::Sms, String> {
    match &notice.content {
        NoticeContent::Event(Event::Sms(sms)) => Ok(sms),
        _ => Err("a Card API notice holds no text message".into()),
    }
}

/// The message's text, opened.
pub fn open_text(seal: &Sealing, sms: &paylink_core::event::Sms) -> Result<String, String> {
    seal.open(&sms.text_sealed, &message_context(&sms.subject))
        .map(|t| t.expose().clone())
        .ok_or_else(|| "the message's text does not open with the instance keys".to_string())
}

pub fn render(seal: &Sealing, claimed: &Claimed) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let sms = message(notice)?;
    let (phone, text) = (&sms.phone, open_text(seal, sms)?);
    Ok(Rendered {
        headers: vec![
            ("content-type", "application/json".into()),
            ("webhook-id", notice.id.clone()),
        ],
        body: json!({"id": notice.id, "phone": phone, "text": text}).to_string(),
    })
}

/// The message as name and value pairs, for operators (its text holds a code: left out).
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match message(notice) {
        Ok(sms) => vec![("phone".into(), sms.phone.clone())],
        Err(_) => Vec::new(),
    }
}
