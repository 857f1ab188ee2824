//! The web pages' outgoing emails (password resets, invitations): a JSON POST
//! `{"id", "to", "subject", "text"}` to the configured mail gateway, with `webhook-id` (the
//! message id, the same on every attempt: gateways drop repeats by it). Without a gateway the
//! messages are kept for `paylink mail list`.

use crate::dialects::Rendered;
use crate::keys::{message_context, Sealing};
use paylink_core::event::{Email, Event};
use paylink_store::{Claimed, NoticeContent, StoredNotice};
use serde_json::json;

fn email(notice: &StoredNotice) -> Result<&Email, String> {
    match &notice.content {
        NoticeContent::Event(Event::Email(e)) => Ok(e),
        _ => Err("a mail notice holds no email".into()),
    }
}

/// The email's text, opened.
pub fn open_text(seal: &Sealing, e: &Email) -> Result<String, String> {
    seal.open(&e.text_sealed, &message_context(&e.subject_id))
        .map(|t| t.expose().clone())
        .ok_or_else(|| "the email's text does not open with the instance keys".to_string())
}

pub fn render(seal: &Sealing, claimed: &Claimed) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let e = email(notice)?;
    let text = open_text(seal, e)?;
    Ok(Rendered {
        headers: vec![
            ("content-type", "application/json".into()),
            ("webhook-id", notice.id.clone()),
        ],
        body: json!({"id": notice.id, "to": e.to, "subject": e.subject, "text": text}).to_string(),
    })
}

/// The email as name and value pairs, for operators (its text holds one-time links: left out).
pub fn fields(notice: &StoredNotice) -> Vec<(String, String)> {
    match email(notice) {
        Ok(e) => vec![
            ("to".into(), e.to.clone()),
            ("subject".into(), e.subject.clone()),
        ],
        Err(_) => Vec::new(),
    }
}
