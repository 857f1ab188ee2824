//! The web pages' outgoing emails (password resets, invitations): a JSON POST
//! `{"id", "to", "subject", "text"}` to the configured mail gateway, with `webhook-id` (the
//! message id, the same on every attempt: gateways drop repeats by it). Without a gateway the
//! messages are kept for `paylink mail list`.

use crate::dialects::Rendered;
use paylink_core::event::{Email, Event};
use paylink_store::{Claimed, NoticeContent, StoredNotice};
use serde_json::json;

fn email(notice: &StoredNotice) -> Result<&Email, String> {
    match &notice.content {
        NoticeContent::Event(Event::Email(e)) => Ok(e),
        _ => Err("a mail notice holds no email".into()),
    }
}

pub fn render(claimed: &Claimed) -> Result<Rendered, String> {
    let notice = &claimed.record.notice;
    let e = email(notice)?;
    Ok(Rendered {
        headers: vec![
            ("content-type", "application/json".into()),
            ("webhook-id", notice.id.clone()),
        ],
        body: json!({"id": notice.id, "to": e.to, "subject": e.subject, "text": e.text})
            .to_string(),
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
