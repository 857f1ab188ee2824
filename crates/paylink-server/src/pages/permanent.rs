//! A permanent link's page, `/p/{id}`: its name and description, what it has collected against
//! its target, the amount (a choice of the link's amounts or a field), a quantity control, the
//! total, and the card form, in the link's language. Paid through the same checkout, 3-D Secure
//! and result pages as bills.

use super::*;
use crate::ops::permanent_links as links;
use paylink_core::money::{parse_minor, Amount};
use paylink_core::permanent_link::{LinkKind, PermanentLink, MAX_QUANTITY};

pub(crate) fn page_url(st: &AppState, id: &BillId) -> String {
    format!("{}/p/{id}", st.settings.public_url)
}

struct Choice {
    value: String,
    checked: bool,
}

struct Progress {
    collected: String,
    target: Option<String>,
    /// Of the target, 0–100.
    percent: Option<i64>,
}

#[derive(Template)]
#[template(path = "permanent.html")]
struct LinkPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    heading: String,
    description: String,
    currency: &'a str,
    progress: Option<Progress>,
    error: Option<&'a str>,
    unpayable: Option<&'a str>,
    action: String,
    form_token: String,
    choices: Vec<Choice>,
    /// An arbitrary-amount link's suggested amounts: offered beside the field, not chosen.
    suggestions: Vec<String>,
    amount: String,
    counter: bool,
    max_quantity: i64,
    quantity: i64,
    total: String,
    holder: String,
}

/// What the payer chose (as typed, for showing the form again).
#[derive(Default)]
struct Chosen {
    amount: String,
    quantity: i64,
}

async fn render(
    st: &AppState,
    c: &Checkout,
    link: &PermanentLink,
    t: &'static Texts,
    chosen: Chosen,
    error: Option<&'static str>,
) -> Response {
    let terms = &link.terms;
    let progress = if terms.show_total {
        let collected = match links::accumulated(st, link).await {
            Ok(v) => v,
            Err(e) => return super::refused(c, t, e),
        };
        let target = (terms.target_amount > 0).then_some(terms.target_amount);
        Some(Progress {
            collected: format_fixed(collected),
            target: target.map(format_fixed),
            percent: target.map(|t| (collected.saturating_mul(100) / t).clamp(0, 100)),
        })
    } else {
        None
    };
    let choices: Vec<Choice> = if terms.kind == LinkKind::Fixed {
        terms
            .amounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let value = format_fixed(a.minor());
                // The first choice is preselected, so the form is complete without JavaScript.
                let checked = if chosen.amount.is_empty() {
                    i == 0
                } else {
                    Amount::parse(&chosen.amount) == Some(*a)
                };
                Choice { checked, value }
            })
            .collect()
    } else {
        Vec::new()
    };
    let quantity = chosen.quantity.max(1);
    let unit = match (terms.kind, terms.amounts.first()) {
        (LinkKind::Fixed, Some(first)) if chosen.amount.is_empty() => Some(first.minor()),
        _ => parse_minor(&chosen.amount, 2),
    };
    let total = unit
        .and_then(|u| u.checked_mul(quantity))
        .map_or_else(|| "—".to_string(), format_fixed);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let heading = bill_heading(&c.bill, t);
    html(
        status,
        LinkPage {
            t,
            lang: t.lang,
            title: heading.clone(),
            merchant: merchant_line(c),
            heading,
            description: c.bill.description.clone().unwrap_or_default(),
            currency: c.bill.currency.code(),
            progress,
            error,
            unpayable: unpayable(c, st.now(), t),
            action: page_url(st, &c.bill.id),
            form_token: random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN),
            choices,
            suggestions: match terms.kind {
                LinkKind::Arbitrary => terms
                    .amounts
                    .iter()
                    .map(|a| format_fixed(a.minor()))
                    .collect(),
                LinkKind::Fixed => Vec::new(),
            },
            amount: if terms.kind == LinkKind::Arbitrary {
                chosen.amount
            } else {
                String::new()
            },
            counter: terms.enable_counter,
            max_quantity: MAX_QUANTITY,
            quantity,
            total,
            holder: String::new(),
        },
    )
}

/// The link, or the page that says there is none.
async fn load_link(
    st: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Checkout, &'static Texts), Response> {
    let (c, t) = load(st, id, headers).await?;
    if c.link.is_none() {
        return Err(not_found(t));
    }
    Ok((c, t))
}

pub(super) async fn link_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load_link(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let link = c.link.clone().expect("load_link found a link");
    render(&st, &c, &link, t, Chosen::default(), None).await
}

pub(super) async fn pay(
    State(st): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, t) = match load_link(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let link = c.link.clone().expect("load_link found a link");
    let f = fields(&body);
    let chosen = Chosen {
        amount: field(&f, "amount").to_string(),
        quantity: field(&f, "quantity").parse().unwrap_or(1),
    };
    let Some(pid) = payment_id(&st, &c.bill, field(&f, "form")) else {
        return render(&st, &c, &link, t, chosen, Some(t.session_invalid)).await;
    };
    // A twin of a submitted form shows the first one's result.
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    let unit = match field(&f, "amount") {
        "" => None,
        text => match Amount::parse_written(text) {
            Some(a) => Some(a),
            None => return render(&st, &c, &link, t, chosen, Some(t.amount_invalid)).await,
        },
    };
    let quantity = match field(&f, "quantity") {
        "" => 1,
        q => match q.parse::<i64>() {
            Ok(q) => q,
            Err(_) => return render(&st, &c, &link, t, chosen, Some(t.quantity_invalid)).await,
        },
    };
    let card = match card_fields(&f, st.now(), t) {
        Ok(card) => card,
        Err(why) => return render(&st, &c, &link, t, chosen, Some(why)).await,
    };
    match links::pay(&st, &c, unit, quantity, pid, card, &client).await {
        Ok(step) => after_step(&st, &c, t, step),
        Err(OpError::Domain(DomainError::Invalid { field, .. })) => {
            let why = if field == "quantity" {
                t.quantity_invalid
            } else {
                t.amount_invalid
            };
            render(&st, &c, &link, t, chosen, Some(why)).await
        }
        Err(OpError::Domain(DomainError::InvalidAmount)) => {
            render(&st, &c, &link, t, chosen, Some(t.amount_invalid)).await
        }
        Err(e) => refused(&c, t, e),
    }
}
