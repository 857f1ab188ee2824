//! A payment's result: the signed redirect to the merchant's success or fail URL, or paylink's
//! own result page.

use super::*;

pub(super) async fn result_page(
    State(st): State<AppState>,
    Path((id, payment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let found = match PaymentId::parse(&payment) {
        Some(pid) => st.store.payment(&pid).await,
        None => Ok(None),
    };
    let payment = match found {
        Ok(Some(p)) if p.bill_id == c.bill.id => p,
        Ok(_) => return not_found(t),
        Err(e) => return failure(t, e),
    };
    let ok = payment.status.brings_money();
    let (bill, shop) = (&c.bill, &c.shop);
    let target = if ok {
        bill.success_url.as_ref().or(shop.success_url.as_ref())
    } else {
        bill.fail_url.as_ref().or(shop.fail_url.as_ref())
    };
    let token = c.token.as_ref().and_then(|tk| {
        st.keys
            .seal
            .open(tk.sealed.as_deref()?, &token_context(tk.id))
    });
    if let (Some(url), Some(token)) = (target, &token) {
        return autopost(
            t,
            t.redirecting,
            url.clone(),
            signed_redirect(bill, &payment, token.expose()),
        );
    }
    own_result(&st, &c, t, &payment)
}

/// paylink's own result page, for shops without a success or fail URL.
fn own_result(st: &AppState, c: &Checkout, t: &Texts, p: &Payment) -> Response {
    let ok = p.status.brings_money();
    let text = match p.status {
        PaymentStatus::Success => t.paid_text,
        PaymentStatus::Underpaid => t.underpaid_text,
        PaymentStatus::Overpaid => t.overpaid_text,
        _ => t.failed_text,
    };
    let mut details = vec![
        (t.payment_no.to_string(), p.id.to_string()),
        (
            t.amount.to_string(),
            format!("{} {}", format_fixed(p.amount), p.currency.code()),
        ),
    ];
    if !p.from_card.is_empty() {
        details.push((t.card.to_string(), p.from_card.clone()));
    }
    if let Some(reason) = &p.error_message {
        details.push((t.reason.to_string(), reason.clone()));
    }
    let retry = !ok && unpayable(c, st.now(), t).is_none();
    let link = if c.link.is_some() {
        // A permanent link is paid again (and shows what it has collected) on its own page.
        Some((
            permanent::page_url(st, &c.bill.id),
            if ok { t.continue_ } else { t.try_again }.to_string(),
        ))
    } else if retry {
        Some((
            format!("{}/transfer/{}", st.settings.public_url, c.bill.id),
            t.try_again.to_string(),
        ))
    } else {
        c.bill
            .return_url
            .clone()
            .map(|u| (u, t.back_to_store.to_string()))
    };
    let heading = if ok { t.paid_heading } else { t.failed_heading };
    html(
        StatusCode::OK,
        MessagePage {
            t,
            lang: t.lang,
            title: heading.to_string(),
            merchant: Some(merchant_line(c)),
            heading: heading.to_string(),
            message: text.to_string(),
            tone: if ok { "good" } else { "bad" },
            details,
            link,
            refresh: None,
        },
    )
}
