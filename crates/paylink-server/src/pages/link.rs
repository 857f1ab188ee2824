//! The share page, `/link/{id}`: the bill, its amount and a QR code of the payment page.

use super::qr::qr_svg;
use super::*;

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    title: String,
    merchant: String,
    heading: String,
    description: Option<String>,
    amount: String,
    currency: &'a str,
    state: Option<&'a str>,
    qr_svg: String,
    pay_url: String,
}

pub(super) async fn link_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (c, t) = match load(&st, &id, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let pay_url = format!("{}/transfer/{}", st.settings.public_url, c.bill.id);
    let heading = bill_heading(&c.bill, t);
    html(
        StatusCode::OK,
        LinkPage {
            t,
            lang: t.lang,
            title: heading.clone(),
            merchant: merchant_line(&c),
            heading,
            description: c.bill.description.clone(),
            amount: format_fixed(quote(&st, &c)),
            currency: c.bill.currency.code(),
            state: unpayable(&c, st.now(), t),
            qr_svg: qr_svg(&pay_url),
            pay_url,
        },
    )
}
