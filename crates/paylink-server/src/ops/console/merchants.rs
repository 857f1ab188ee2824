//! The console's reads: merchants (the search box and the detail page), and the one shop
//! change the ordinary operation cannot express: a commission back to the default.

use crate::ops::OpError;
use paylink_core::audit::Actor;
use paylink_core::ledger::Balance;
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::money::Rate;
use paylink_core::payment::Payment;
use paylink_core::payout::{periods, Payout, PayoutProfile};
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{Keyset, MoneyFilter, Page, PageRequest, PaymentFilter, Store};

/// Merchants on one page of the list.
pub const PER_PAGE: i64 = 50;
/// Payments and payouts the detail page shows.
pub const RECENT: u32 = 10;

/// A page of the merchants list.
pub struct Found {
    /// Each with its owner's email, if it has an account.
    pub rows: Vec<(Merchant, Option<String>)>,
    /// The cursor of the next page (`created_at.id` of this page's last row), if there is one.
    pub next: Option<String>,
}

/// Merchants matching `text` (see [`Store::console_merchants`]), newest first, from `after`
/// (a cursor made by [`search`]; anything else starts from the top: the link is ours, a
/// mangled one is not worth an error).
pub async fn search(store: &Store, text: &str, after: Option<&str>) -> Result<Found, OpError> {
    let after = after.and_then(Keyset::parse);
    let read = store
        .console_merchants(text.trim(), after.as_ref().map(Keyset::key), PER_PAGE + 1)
        .await?;
    let page = Page::of(read, PER_PAGE as usize);
    let next = page
        .next(|(m, _)| Keyset::of(m.created_at, m.id.as_str()))
        .map(|k| k.to_string());
    Ok(Found {
        rows: page.items,
        next,
    })
}

/// What the console shows of one merchant.
pub struct Detail {
    pub merchant: Merchant,
    /// Its owners' web accounts' emails, oldest first.
    pub account_emails: Vec<String>,
    pub shops: Vec<Shop>,
    pub balances: Vec<Balance>,
    pub profile: PayoutProfile,
    /// Paid out today and this month (UTC, the limits' periods): currency code, day, month.
    pub usage: Vec<(String, i64, i64)>,
    /// Newest first.
    pub payments: Vec<Payment>,
    /// Newest first.
    pub payouts: Vec<Payout>,
}

/// Merchant `id` with its shops, money and recent activity; a malformed or unknown id is
/// `MerchantNotFound`.
pub async fn detail(store: &Store, id: &str, now: Millis) -> Result<Detail, OpError> {
    let merchant = crate::ops::merchants::merchant(store, id).await?;
    let m = &merchant.id;
    let profile = store
        .payout_profile(m)
        .await?
        .ok_or(DomainError::MerchantNotFound)?;
    let recent = PageRequest {
        from: None,
        limit: RECENT,
    };
    let (day, month) = periods(now);
    Ok(Detail {
        account_emails: store.merchant_account_emails(m).await?,
        shops: store.shops_of(m).await?,
        balances: store.balances(m).await?,
        profile,
        usage: store.payout_usage_all(m, &day, &month).await?,
        payments: store
            .search_payments(m, &PaymentFilter::default(), &recent)
            .await?
            .items,
        payouts: store
            .search_payouts(m, &MoneyFilter::default(), &recent)
            .await?
            .items,
        merchant,
    })
}

/// Sets a shop's commission by an operator: `Some` through [`update_shop`]; `None` (the
/// server's default) here, since [`ShopChanges`] can only set one. Audited as `shop.update`
/// either way.
///
/// [`update_shop`]: crate::ops::merchants::update_shop
/// [`ShopChanges`]: crate::ops::merchants::ShopChanges
pub async fn set_shop_commission(
    store: &Store,
    actor: &Actor,
    shop_id: &str,
    commission: Option<Rate>,
    allow_private: bool,
    now: Millis,
) -> Result<Shop, OpError> {
    use crate::ops::merchants::{update_shop, ShopChanges};
    let changes = ShopChanges {
        commission: Some(commission),
        ..ShopChanges::default()
    };
    update_shop(store, Some(actor), shop_id, changes, allow_private, now).await
}
