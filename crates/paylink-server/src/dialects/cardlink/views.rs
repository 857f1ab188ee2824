//! Domain values → Cardlink wire objects, and Laravel's cursor pagination.

use super::error::ApiError;
use super::params::Fields;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use paylink_api::cardlink as wire;
use paylink_api::Decimal;
use paylink_core::bill::Bill;
use paylink_core::money::format_short;
use paylink_core::payment::Payment;
use paylink_core::payout::Payout;
use paylink_core::refund::Refund;
use paylink_core::time::format_datetime;
use paylink_store::{Direction, Keyset, Page, PageRequest};
use serde::{Deserialize, Serialize};

fn decimal(minor: i64) -> Decimal {
    Decimal::new(format_short(minor))
}

/// The wire bill, built from an owned bill so that no text is copied twice.
pub fn bill(b: Bill, public_url: &str) -> wire::Bill {
    let link_url = link_url(&b, public_url);
    let link_page_url = link_page_url(&b, public_url);
    wire::Bill {
        id: b.id.into_string(),
        order_id: b.order_id,
        shop_id: b.shop_id.into_string(),
        active: b.active,
        status: b.status.as_str().into(),
        amount: decimal(b.amount.minor()),
        bill_type: b.bill_type.as_str().into(),
        currency_in: b.currency.code().into(),
        created_at: format_datetime(b.created_at),
        ttl: b.ttl_secs,
        name: b.name,
        description: b.description,
        custom: b.custom,
        payment_method: b.payment_method.map(|m| m.as_str().into()),
        payer_pays_commission: b.payer_pays_commission,
        link_url,
        link_page_url,
        success: None,
    }
}

/// Where a bill stands in a list (for cursors).
pub fn bill_key(b: &Bill) -> (i64, String) {
    (b.created_at, b.id.to_string())
}

/// Where a payment stands in a list (for cursors).
pub fn payment_key(p: &Payment) -> (i64, String) {
    (p.created_at, p.id.to_string())
}

pub fn link_url(b: &Bill, public_url: &str) -> String {
    [public_url, "/link/", b.id.as_str()].concat()
}

pub fn link_page_url(b: &Bill, public_url: &str) -> String {
    [public_url, "/transfer/", b.id.as_str()].concat()
}

pub fn payment(p: Payment) -> wire::Payment {
    wire::Payment {
        id: p.id.into_string(),
        bill_id: p.bill_id.into_string(),
        status: p.status.as_str().into(),
        payment_method: p.method.as_str().into(),
        amount: decimal(p.amount),
        amount_received: decimal(p.amount_received),
        commission: decimal(p.commission),
        account_amount: decimal(p.account_amount),
        account_currency_code: p.account_currency.code().into(),
        refunded_amount: decimal(p.refunded_amount),
        from_card: p.from_card,
        currency_in: p.currency.code().into(),
        created_at: format_datetime(p.created_at),
        error_code: p.error_code,
        error_message: p.error_message,
        refunds: None,
        chargeback: None,
        success: None,
    }
}

/// The cursor's content, as Laravel encodes it: base64 of a small JSON object.
#[derive(Serialize, Deserialize)]
struct Cursor {
    created_at: i64,
    id: String,
    #[serde(rename = "_pointsToNextItems")]
    points_to_next: bool,
}

fn encode_cursor(created_at: i64, id: &str, points_to_next: bool) -> String {
    let json = serde_json::to_vec(&Cursor {
        created_at,
        id: id.to_string(),
        points_to_next,
    })
    .expect("a cursor serializes");
    URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(text: &str) -> Option<(Keyset, Direction)> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    let c: Cursor = serde_json::from_slice(&bytes).ok()?;
    let dir = if c.points_to_next {
        Direction::Next
    } else {
        Direction::Prev
    };
    Some((Keyset::checked(c.created_at, &c.id)?, dir))
}

/// Default and largest `per_page`.
pub const DEFAULT_PER_PAGE: u32 = 100;
pub const MAX_PER_PAGE: u32 = 500;

/// Reads `per_page` and `cursor`. Asking for more than the maximum is `too_many_key` (400).
pub fn page_request(f: &mut Fields, too_many_key: &'static str) -> Result<PageRequest, ApiError> {
    let per_page = f.integer("per_page");
    let from = f.parsed("cursor", "The :attribute is invalid.", decode_cursor);
    let limit = match per_page {
        None => DEFAULT_PER_PAGE,
        Some(n) if n > i64::from(MAX_PER_PAGE) => {
            return Err(ApiError::Key(
                axum::http::StatusCode::BAD_REQUEST,
                too_many_key,
            ))
        }
        Some(n) if n < 1 => {
            f.fail("per_page", "The per page must be at least 1.".into());
            DEFAULT_PER_PAGE
        }
        Some(n) => n as u32,
    };
    Ok(PageRequest { from, limit })
}

/// A page as Laravel's cursor paginator renders it. The `prev`/`next` links repeat `filters`
/// (the request's own parameters that select the list), so following one stays in that list.
pub fn render_page<T, W>(
    page: Page<T>,
    request: &PageRequest,
    path: String,
    filters: &[(String, String)],
    key: impl Fn(&T) -> (i64, String),
    view: impl FnMut(T) -> W,
) -> wire::CursorPage<W> {
    let going_back = matches!(request.from, Some((_, Direction::Prev)));
    // Older items exist after the last one; newer before the first one.
    let more_after = if going_back { true } else { page.has_more };
    let more_before = if going_back {
        page.has_more
    } else {
        request.from.is_some()
    };
    let next_cursor = page.items.last().filter(|_| more_after).map(|t| {
        let (c, id) = key(t);
        encode_cursor(c, &id, true)
    });
    let prev_cursor = page.items.first().filter(|_| more_before).map(|t| {
        let (c, id) = key(t);
        encode_cursor(c, &id, false)
    });
    let link = |cursor: &Option<String>| {
        cursor.as_ref().map(|c| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(filters);
            query.append_pair("cursor", c);
            query.append_pair("per_page", &request.limit.to_string());
            format!("{path}?{}", query.finish())
        })
    };
    wire::CursorPage {
        success: true,
        data: page.items.into_iter().map(view).collect(),
        links: wire::PageLinks {
            first: None,
            last: None,
            prev: link(&prev_cursor),
            next: link(&next_cursor),
        },
        meta: wire::PageMeta {
            path,
            per_page: request.limit,
            next_cursor,
            prev_cursor,
        },
    }
}

pub fn payout(p: Payout) -> wire::Payout {
    wire::Payout {
        id: p.id.into_string(),
        status: p.status.as_str().into(),
        order_id: p.order_id,
        account_identifier: p.payee.identifier,
        amount: decimal(p.amount),
        account_amount: decimal(p.amount),
        commission: decimal(p.commission),
        account_commission: decimal(p.commission),
        currency: p.currency.code().into(),
        account_currency: p.currency.code().into(),
        created_at: format_datetime(p.created_at),
        currency_in: None,
        error_message: p.error_message,
        success: None,
    }
}

pub fn payout_key(p: &Payout) -> (i64, String) {
    (p.created_at, p.id.to_string())
}

pub fn refund(r: Refund) -> wire::Refund {
    wire::Refund {
        id: r.id.into_string(),
        payment_id: r.payment_id.into_string(),
        bill_id: r.bill_id.into_string(),
        status: r.status.as_str().into(),
        amount: decimal(r.amount),
        currency: r.currency.code().into(),
        account_amount: decimal(r.account_amount),
        account_currency: r.account_currency.code().into(),
        created_at: format_datetime(r.created_at),
        error_message: r.error_message,
        success: None,
    }
}

pub fn refund_key(r: &Refund) -> (i64, String) {
    (r.created_at, r.id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cursor_reads_back() {
        let (keyset, dir) = decode_cursor(&encode_cursor(42, "abc", true)).expect("decodes");
        assert_eq!((keyset.created_at, keyset.id.as_str()), (42, "abc"));
        assert!(matches!(dir, Direction::Next));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// A cursor is client text: any text, and any bytes behind valid base64, is refused
        /// or read, never a panic.
        #[test]
        fn arbitrary_cursors_never_panic(
            text in "\\PC{0,64}",
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = decode_cursor(&text);
            let _ = decode_cursor(&URL_SAFE_NO_PAD.encode(bytes));
        }
    }
}
