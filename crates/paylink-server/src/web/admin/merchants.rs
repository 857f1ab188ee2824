//! The merchants section: one search box (id, email, name), and a merchant's page with its
//! shops, balances, payout settings and usage, recent payments and payouts. An admin verifies
//! and bans (a ban asks to confirm: it stops the merchant's money), sets the subscription,
//! the payout settings, a shop's commission, and makes an invitation link for the owner.
//! Support reads; the operations refuse them anything else.

use super::{Console, ConsoleForm};
use crate::ops::console::merchants::{self as reads, Detail};
use crate::ops::merchants;
use crate::ops::OpError;
use crate::state::AppState;
use crate::web::account::mailer;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_core::error::Rule;
use paylink_core::merchant::Subscription;
use paylink_core::money::{parse_minor, Currency, Rate};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/merchants", get(list))
        .route("/admin/merchants/{id}", get(detail))
        .route("/admin/merchants/{id}/verified", post(set_verified))
        .route("/admin/merchants/{id}/banned", post(set_banned))
        .route("/admin/merchants/{id}/subscription", post(set_subscription))
        .route("/admin/merchants/{id}/payouts", post(set_payouts))
        .route("/admin/merchants/{id}/invite", post(invite))
        .route("/admin/shops/{id}/commission", post(set_commission))
}

pub struct MerchantTexts {
    pub search_hint: &'static str,
    pub name: &'static str,
    pub id: &'static str,
    pub verified: &'static str,
    pub not_verified: &'static str,
    pub banned: &'static str,
    pub subscription: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub verify: &'static str,
    pub unverify: &'static str,
    pub ban: &'static str,
    pub unban: &'static str,
    pub ban_title: &'static str,
    pub ban_question: &'static str,
    pub save: &'static str,
    pub shops: &'static str,
    pub currency: &'static str,
    pub enabled: &'static str,
    pub commission: &'static str,
    pub commission_hint: &'static str,
    pub default: &'static str,
    pub result_url: &'static str,
    pub balances: &'static str,
    pub available: &'static str,
    pub locked: &'static str,
    pub hold: &'static str,
    pub payout_settings: &'static str,
    pub moderation: &'static str,
    pub regular_payouts: &'static str,
    pub daily_limit: &'static str,
    pub monthly_limit: &'static str,
    pub limit_hint: &'static str,
    pub used_today: &'static str,
    pub used_month: &'static str,
    pub recent_payments: &'static str,
    pub recent_payouts: &'static str,
    pub invitation: &'static str,
    pub invitation_hint: &'static str,
    pub invite: &'static str,
    pub invited: &'static str,
    pub unlimited: &'static str,
}

pub const EN: MerchantTexts = MerchantTexts {
    search_hint: "Merchant id, email (or its start), or part of the name",
    name: "Name",
    id: "Id",
    verified: "verified",
    not_verified: "not verified",
    banned: "banned",
    subscription: "Subscription",
    yes: "yes",
    no: "no",
    verify: "Verify",
    unverify: "Take verification away",
    ban: "Ban",
    unban: "Unban",
    ban_title: "Ban the merchant?",
    ban_question: "A banned merchant's API calls, checkouts and payouts are refused until it is unbanned.",
    save: "Save",
    shops: "Shops",
    currency: "Currency",
    enabled: "Enabled",
    commission: "Commission, %",
    commission_hint: "Empty: the server's default",
    default: "default",
    result_url: "Result URL",
    balances: "Balances",
    available: "Available",
    locked: "Locked",
    hold: "On hold",
    payout_settings: "Payout settings",
    moderation: "Every payout waits for an operator",
    regular_payouts: "Regular payouts allowed",
    daily_limit: "Daily limit",
    monthly_limit: "Monthly limit",
    limit_hint: "Empty: the default",
    used_today: "Paid out today",
    used_month: "Paid out this month",
    recent_payments: "Recent payments",
    recent_payouts: "Recent payouts",
    invitation: "Invitation for the owner",
    invitation_hint: "A one-time link (valid 7 days) to choose a password for the merchant app; it is also emailed. The email is needed only when the merchant has no account and no email yet.",
    invite: "Make invitation link",
    invited: "Invitation made. Give the owner this link; it is shown only now.",
    unlimited: "unlimited",
};

pub const RU: MerchantTexts = MerchantTexts {
    search_hint: "Id мерчанта, email (или его начало) или часть названия",
    name: "Название",
    id: "Id",
    verified: "верифицирован",
    not_verified: "не верифицирован",
    banned: "заблокирован",
    subscription: "Подписка",
    yes: "да",
    no: "нет",
    verify: "Верифицировать",
    unverify: "Снять верификацию",
    ban: "Заблокировать",
    unban: "Разблокировать",
    ban_title: "Заблокировать мерчанта?",
    ban_question: "Заблокированному мерчанту отказывают в вызовах API, оплатах и выплатах, пока его не разблокируют.",
    save: "Сохранить",
    shops: "Магазины",
    currency: "Валюта",
    enabled: "Включён",
    commission: "Комиссия, %",
    commission_hint: "Пусто: комиссия сервера по умолчанию",
    default: "по умолчанию",
    result_url: "Result URL",
    balances: "Балансы",
    available: "Доступно",
    locked: "Заблокировано",
    hold: "На удержании",
    payout_settings: "Настройки выплат",
    moderation: "Каждая выплата ждёт оператора",
    regular_payouts: "Обычные выплаты разрешены",
    daily_limit: "Дневной лимит",
    monthly_limit: "Месячный лимит",
    limit_hint: "Пусто: по умолчанию",
    used_today: "Выплачено сегодня",
    used_month: "Выплачено за месяц",
    recent_payments: "Последние платежи",
    recent_payouts: "Последние выплаты",
    invitation: "Приглашение для владельца",
    invitation_hint: "Одноразовая ссылка (действует 7 дней), чтобы задать пароль в кабинете мерчанта; она также отправляется письмом. Email нужен, только если у мерчанта ещё нет ни аккаунта, ни email.",
    invite: "Создать ссылку-приглашение",
    invited: "Приглашение создано. Передайте владельцу эту ссылку; она показывается только сейчас.",
    unlimited: "без лимита",
};

fn words(c: &Console) -> &'static MerchantTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

/// `minor` units of `currency` as a decimal with the currency's places, and its code.
fn money(minor: i64, currency: Currency) -> String {
    format!("{} {currency}", decimal(minor, currency.exponent()))
}

/// `minor` as a decimal with `places` places: `123456, 2` → `1234.56`.
fn decimal(minor: i64, places: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let unit = 10u64.pow(places);
    if places == 0 {
        format!("{sign}{abs}")
    } else {
        let width = places as usize;
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit)
    }
}

/// The places payout limits are typed and shown with (they apply in the payout currency,
/// every one of which has the same).
fn limit_places() -> u32 {
    Currency::Rub.exponent()
}

// ---- the list ----

struct ListRow {
    id: String,
    name: String,
    email: String,
    created: String,
    verified: bool,
    banned: bool,
    subscription: &'static str,
}

#[derive(Template)]
#[template(path = "admin_merchants.html")]
struct ListPage {
    c: Chrome,
    title: &'static str,
    m: &'static MerchantTexts,
    q: String,
    rows: Vec<ListRow>,
    next: Option<String>,
}

/// `GET /admin/merchants?q=&after=`: the search box and the merchants found, newest first.
pub async fn list(
    State(st): State<AppState>,
    c: Console,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let q = super::query_text(query.get("q")).unwrap_or_default();
    let after = query.get("after").filter(|a| a.len() <= 100);
    let found = match reads::search(&st.store, &q, after.map(String::as_str)).await {
        Ok(f) => f,
        Err(e) => return super::refused(&st, &c, &e, "/admin"),
    };
    let rows = found
        .rows
        .iter()
        .map(|(m, owner)| ListRow {
            id: m.id.to_string(),
            name: m.name.clone(),
            email: owner
                .clone()
                .or_else(|| m.email.clone())
                .unwrap_or_default(),
            created: format_datetime(m.created_at),
            verified: m.verified,
            banned: m.banned,
            subscription: m.subscription.as_str(),
        })
        .collect();
    let next = found.next.map(|cursor| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if !q.is_empty() {
            pairs.append_pair("q", &q);
        }
        pairs.append_pair("after", &cursor);
        format!("/admin/merchants?{}", pairs.finish())
    });
    c.page(
        StatusCode::OK,
        ListPage {
            c: c.chrome(&st),
            title: c.a.merchants,
            m: words(&c),
            q,
            rows,
            next,
        },
    )
}

// ---- the detail page ----

struct ShopRow {
    id: String,
    name: String,
    currency: &'static str,
    enabled: bool,
    /// As shown: `2.5%`, or the default's words.
    commission: String,
    /// The form field's value: the percent, empty for the default.
    commission_value: String,
    result_url: String,
}

struct BalanceRow {
    currency: &'static str,
    available: String,
    locked: String,
    hold: String,
}

struct MoneyRow {
    id: String,
    amount: String,
    status: &'static str,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_merchant.html")]
struct DetailPage {
    c: Chrome,
    title: String,
    m: &'static MerchantTexts,
    notice: Option<&'static str>,
    /// The invitation link just made, shown once.
    link: Option<String>,
    id: String,
    name: String,
    emails: Vec<String>,
    created: String,
    verified: bool,
    banned: bool,
    subscription: &'static str,
    /// The choices of the subscription select, the merchant's marked.
    subscriptions: Vec<(&'static str, bool)>,
    shops: Vec<ShopRow>,
    balances: Vec<BalanceRow>,
    moderation: bool,
    regular_payouts: bool,
    /// As shown: the merchant's own limit, or the default's.
    daily_limit: String,
    monthly_limit: String,
    /// The form fields' values: the merchant's own limit, empty for the default.
    daily_value: String,
    monthly_value: String,
    /// Currency, paid out today, this month.
    usage: Vec<(String, String, String)>,
    payments: Vec<MoneyRow>,
    payouts: Vec<MoneyRow>,
}

fn percent(rate: Rate) -> String {
    decimal(rate.bps(), 2)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn page_of(
    st: &AppState,
    c: &Console,
    d: Detail,
    notice: Option<&'static str>,
    link: Option<String>,
) -> DetailPage {
    let m = words(c);
    let defaults = st.money_rules().payouts;
    let default_commission = percent(st.settings.default_commission);
    let limit = |own: Option<i64>, default: Option<i64>| match own {
        Some(v) => decimal(v, limit_places()),
        None => format!(
            "{} ({})",
            m.default,
            default.map_or_else(|| m.unlimited.to_string(), |v| decimal(v, limit_places()))
        ),
    };
    let mut emails: Vec<String> = d.merchant.email.iter().cloned().collect();
    for e in d.account_emails {
        if !emails.iter().any(|x| x.eq_ignore_ascii_case(&e)) {
            emails.push(e);
        }
    }
    DetailPage {
        c: c.chrome(st),
        title: d.merchant.name.clone(),
        m,
        notice,
        link,
        id: d.merchant.id.to_string(),
        name: d.merchant.name.clone(),
        emails,
        created: format_datetime(d.merchant.created_at),
        verified: d.merchant.verified,
        banned: d.merchant.banned,
        subscription: d.merchant.subscription.as_str(),
        subscriptions: [
            Subscription::Active,
            Subscription::Inactive,
            Subscription::None,
        ]
        .iter()
        .map(|s| (s.as_str(), *s == d.merchant.subscription))
        .collect(),
        shops: d
            .shops
            .iter()
            .map(|s| ShopRow {
                id: s.id.to_string(),
                name: s.name.clone(),
                currency: s.currency.code(),
                enabled: s.enabled,
                commission: match s.commission {
                    Some(r) => format!("{}%", percent(r)),
                    None => format!("{} ({default_commission}%)", m.default),
                },
                commission_value: s.commission.map(percent).unwrap_or_default(),
                result_url: s.result_url.clone().unwrap_or_default(),
            })
            .collect(),
        balances: d
            .balances
            .iter()
            .map(|b| BalanceRow {
                currency: b.currency.code(),
                available: money(b.available, b.currency),
                locked: money(b.locked, b.currency),
                hold: money(b.hold, b.currency),
            })
            .collect(),
        moderation: d.profile.moderation,
        regular_payouts: d.profile.regular_payouts,
        daily_limit: limit(d.profile.daily_limit, defaults.daily_limit),
        monthly_limit: limit(d.profile.monthly_limit, defaults.monthly_limit),
        daily_value: d
            .profile
            .daily_limit
            .map(|v| decimal(v, limit_places()))
            .unwrap_or_default(),
        monthly_value: d
            .profile
            .monthly_limit
            .map(|v| decimal(v, limit_places()))
            .unwrap_or_default(),
        usage: d
            .usage
            .iter()
            .map(|(currency, day, month)| {
                let shown = |v: i64| match currency.parse::<Currency>() {
                    Ok(c) => money(v, c),
                    Err(()) => format!("{} {currency}", decimal(v, limit_places())),
                };
                (currency.clone(), shown(*day), shown(*month))
            })
            .collect(),
        payments: d
            .payments
            .iter()
            .map(|p| MoneyRow {
                id: p.id.to_string(),
                amount: money(p.amount, p.currency),
                status: p.status.as_str(),
                created: format_datetime(p.created_at),
            })
            .collect(),
        payouts: d
            .payouts
            .iter()
            .map(|p| MoneyRow {
                id: p.id.to_string(),
                amount: money(p.amount, p.currency),
                status: p.status.as_str(),
                created: format_datetime(p.created_at),
            })
            .collect(),
    }
}

async fn render(
    st: &AppState,
    c: &Console,
    id: &str,
    notice: Option<&'static str>,
    link: Option<String>,
) -> Response {
    match reads::detail(&st.store, id, st.now()).await {
        Ok(d) => c.page(StatusCode::OK, page_of(st, c, d, notice, link)),
        Err(e) => super::refused(st, c, &e, "/admin/merchants"),
    }
}

/// `GET /admin/merchants/{id}`.
pub async fn detail(
    State(st): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = super::notice(c.a, q.get("notice").map(String::as_str));
    render(&st, &c, &id, notice, None).await
}

// ---- the actions ----

/// Where an action on merchant `id` goes back to.
fn back(id: &str) -> String {
    // Only an id-shaped path segment goes into a link; anything else names nothing.
    match paylink_core::id::MerchantId::parse(id) {
        Some(m) => format!("/admin/merchants/{m}"),
        None => "/admin/merchants".to_string(),
    }
}

/// An action's answer: back to the merchant's page with the notice, or the refusal.
fn answered(st: &AppState, form: &ConsoleForm, id: &str, outcome: Result<(), OpError>) -> Response {
    match outcome {
        Ok(()) => form.c.redirect(&format!("{}?notice=done", back(id))),
        Err(e) => super::refused(st, &form.c, &e, &back(id)),
    }
}

/// `yes` or `no`; anything else is refused as invalid.
fn yes_no(form: &ConsoleForm, field: &'static str) -> Result<bool, OpError> {
    match form.field(field) {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(invalid(field)),
    }
}

fn invalid(field: &'static str) -> OpError {
    DomainError::Invalid {
        field,
        kind: Rule::NotValid,
    }
    .into()
}

/// `POST /admin/merchants/{id}/verified` with `verified=yes|no`.
pub async fn set_verified(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let outcome = match yes_no(&form, "verified") {
        Ok(v) => merchants::set_verified(&st.store, &form.c.actor, &id, v, st.now()).await,
        Err(e) => Err(e),
    };
    answered(&st, &form, &id, outcome)
}

/// `POST /admin/merchants/{id}/banned` with `banned=yes|no`; a ban asks to confirm first.
pub async fn set_banned(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let banned = match yes_no(&form, "banned") {
        Ok(b) => b,
        Err(e) => return answered(&st, &form, &id, Err(e)),
    };
    if banned && !form.confirmed() {
        // Support is refused and a missing merchant is missing before anything is asked.
        let known = match form.c.actor.require(paylink_core::audit::Power::Admin) {
            Ok(()) => merchants::merchant(&st.store, &id).await,
            Err(e) => Err(e.into()),
        };
        let merchant = match known {
            Ok(m) => m,
            Err(e) => return answered(&st, &form, &id, Err(e)),
        };
        let m = words(&form.c);
        let question = format!("{} — {}", merchant.name, m.ban_question);
        let action = format!("{}/banned", back(&id));
        return super::confirm(&st, &form, m.ban_title, question, &action, &back(&id));
    }
    let outcome = merchants::set_banned(&st.store, &form.c.actor, &id, banned, st.now()).await;
    answered(&st, &form, &id, outcome)
}

/// `POST /admin/merchants/{id}/subscription` with `subscription=active|inactive|none`.
pub async fn set_subscription(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let outcome = match form.field("subscription").parse::<Subscription>() {
        Ok(s) => merchants::set_subscription(&st.store, &form.c.actor, &id, s, st.now()).await,
        Err(()) => Err(invalid("subscription")),
    };
    answered(&st, &form, &id, outcome)
}

/// A limit field: empty is the default (`None`); else a positive amount in major units.
fn limit_field(form: &ConsoleForm, field: &'static str) -> Result<Option<i64>, OpError> {
    let text = form.field(field);
    if text.is_empty() {
        return Ok(None);
    }
    match parse_minor(text, limit_places()) {
        Some(v) if v > 0 => Ok(Some(v)),
        _ => Err(invalid(field)),
    }
}

/// `POST /admin/merchants/{id}/payouts`: `moderation` and `regular_payouts` (checkboxes,
/// `yes` when ticked), `daily_limit` and `monthly_limit` (major units, empty: the default).
pub async fn set_payouts(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let limits = limit_field(&form, "daily_limit")
        .and_then(|d| Ok((d, limit_field(&form, "monthly_limit")?)));
    let outcome = match limits {
        Ok((daily, monthly)) => {
            let moderation = form.field("moderation") == "yes";
            let regular = form.field("regular_payouts") == "yes";
            merchants::update_payout_profile(
                &st.store,
                &form.c.actor,
                &id,
                |p| {
                    p.moderation = moderation;
                    p.regular_payouts = regular;
                    p.daily_limit = daily;
                    p.monthly_limit = monthly;
                },
                st.now(),
            )
            .await
            .map(|_| ())
        }
        Err(e) => Err(e),
    };
    answered(&st, &form, &id, outcome)
}

/// `POST /admin/merchants/{id}/invite` with an optional `email`: the owner's one-time link,
/// shown on the merchant's page this once.
pub async fn invite(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let email = Some(form.field("email")).filter(|e| !e.is_empty());
    let c = &form.c;
    match crate::ops::accounts::invite(&st.store, &mailer(&st), &c.actor, &id, email, st.now())
        .await
    {
        Ok(link) => render(&st, c, &id, Some(words(c).invited), Some(link)).await,
        Err(e) => super::refused(&st, c, &e, &back(&id)),
    }
}

/// `POST /admin/shops/{id}/commission` with `commission` (percent; empty: the default);
/// back to the shop's merchant.
pub async fn set_commission(
    State(st): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let text = form.field("commission");
    let rate = if text.is_empty() {
        Ok(None)
    } else {
        Rate::parse_percent(text)
            .map(Some)
            .ok_or_else(|| invalid("commission"))
    };
    let outcome = match rate {
        Ok(rate) => {
            reads::set_shop_commission(
                &st.store,
                &form.c.actor,
                &id,
                rate,
                st.settings.postbacks.allow_private,
                st.now(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(shop) => form.c.redirect(&format!(
            "/admin/merchants/{}?notice=done",
            shop.merchant_id
        )),
        Err(e) => {
            // Back to the shop's merchant when there is such a shop.
            let shop = match paylink_core::id::ShopId::parse(&id) {
                Some(shop) => st.store.shop(&shop).await.ok().flatten(),
                None => None,
            };
            let to = shop.map_or_else(
                || "/admin/merchants".to_string(),
                |s| back(s.merchant_id.as_str()),
            );
            super::refused(&st, &form.c, &e, &to)
        }
    }
}
