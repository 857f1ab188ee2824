//! The payment page, `/transfer/{id}`: card and SBP checkout, the card form and the issuer's
//! 3-D Secure return.

use super::qr::{qr_svg, sbp_payload};
use super::*;

struct MethodTab {
    code: &'static str,
    label: &'static str,
    href: String,
    active: bool,
}

struct SbpView {
    qr_svg: String,
    bank_url: String,
}

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    heading: String,
    amount: String,
    currency: &'a str,
    methods: Vec<MethodTab>,
    error: Option<&'a str>,
    sbp: Option<SbpView>,
    card_action: String,
    form_token: String,
    holder: String,
}

/// The payment page for `method`; `sbp_qrc` shows the SBP code of that one-time token.
fn transfer(
    st: &AppState,
    c: &Checkout,
    t: &'static Texts,
    method: PaymentMethod,
    sbp_qrc: Option<&str>,
    error: Option<&'static str>,
) -> Response {
    let bill = &c.bill;
    let allowed: Vec<PaymentMethod> = match bill.payment_method {
        Some(m) => vec![m],
        None => vec![PaymentMethod::BankCard, PaymentMethod::Sbp],
    };
    let method = if allowed.contains(&method) {
        method
    } else {
        allowed[0]
    };
    let base = format!("{}/transfer/{}", st.settings.public_url, bill.id);
    let methods = allowed
        .iter()
        .map(|m| MethodTab {
            code: m.as_str(),
            label: match m {
                PaymentMethod::BankCard => t.method_card,
                PaymentMethod::Sbp => t.method_sbp,
            },
            href: format!("{base}?method={}", m.as_str()),
            active: *m == method,
        })
        .collect();
    let fresh = || random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN);
    let sbp = (method == PaymentMethod::Sbp).then(|| {
        let qrc = sbp_qrc.map_or_else(fresh, str::to_string);
        let payload = sbp_payload(st, c, &qrc);
        SbpView {
            qr_svg: qr_svg(&payload),
            bank_url: payload,
        }
    });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let heading = bill_heading(bill, t);
    html(
        status,
        TransferPage {
            t,
            lang: t.lang,
            title: heading.clone(),
            merchant: merchant_line(c),
            heading,
            amount: format_fixed(quote(st, c)),
            currency: bill.currency.code(),
            methods,
            error,
            sbp,
            card_action: format!("{base}/card"),
            form_token: fresh(),
            holder: String::new(),
        },
    )
}

pub(super) async fn transfer_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if c.link.is_some() {
        return see_other(&permanent::page_url(&st, &c.bill.id));
    }
    if let Some(why) = unpayable(&c, st.now(), t) {
        return unpayable_page(&c, t, why);
    }
    let method = c.bill.payment_method.unwrap_or_else(|| {
        query
            .get("method")
            .and_then(|m| m.parse::<PaymentMethod>().ok())
            .unwrap_or(PaymentMethod::BankCard)
    });
    if method == PaymentMethod::Sbp {
        // Each SBP code is one payment: give this one its own address, which the page
        // refreshes until the payment arrives.
        let qrc = random_base62(&mut rand::thread_rng(), FORM_TOKEN_LEN);
        return see_other(&format!(
            "{}/transfer/{}/sbp/{qrc}",
            st.settings.public_url, c.bill.id
        ));
    }
    transfer(&st, &c, t, method, None, None)
}

pub(super) async fn sbp_page(
    State(st): State<AppState>,
    Path((id, qrc)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    // A permanent link is paid on its own page, on its terms (amount, quantity).
    if c.link.is_some() {
        return see_other(&permanent::page_url(&st, &c.bill.id));
    }
    let Some(pid) = payment_id(&st, &c.bill, &qrc) else {
        return not_found(t);
    };
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    if let Some(why) = unpayable(&c, st.now(), t) {
        return unpayable_page(&c, t, why);
    }
    transfer(&st, &c, t, PaymentMethod::Sbp, Some(&qrc), None)
}

pub(super) async fn pay_by_card(
    State(st): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    // A permanent link is paid on its own page, on its terms (amount, quantity).
    if c.link.is_some() {
        return not_found(t);
    }
    let f = fields(&body);
    let Some(pid) = payment_id(&st, &c.bill, field(&f, "form")) else {
        return transfer(
            &st,
            &c,
            t,
            PaymentMethod::BankCard,
            None,
            Some(t.session_invalid),
        );
    };
    // A twin of a submitted form shows the first one's result (the card fields may be gone).
    if let Some(page) = made_already(&st, &c, t, &pid).await {
        return page;
    }
    let card = match card_fields(&f, st.now(), t) {
        Ok(card) => card,
        Err(why) => return transfer(&st, &c, t, PaymentMethod::BankCard, None, Some(why)),
    };
    match checkout::pay(&st, Sale::of(&c), pid, Tender::Card(card), &client).await {
        Ok(step) => after_step(&st, &c, t, step),
        Err(e) => refused(&c, t, e),
    }
}

pub(super) async fn three_ds_return(
    State(st): State<AppState>,
    Path(id): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let f = fields(&body);
    let (md, pares) = (field(&f, "MD"), field(&f, "PaRes"));
    match checkout::complete(&st, Sale::of(&c), md, pares, &client).await {
        Ok(payment) => see_other(&result_url(&st, &c.bill, &payment.id)),
        Err(e) => refused(&c, t, e),
    }
}
