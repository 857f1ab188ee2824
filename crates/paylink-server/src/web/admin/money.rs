//! Console section: money settings. FX rates (set, with every pair's history), the SBP banks
//! dictionary (enable, disable, add), the money rules in force (payout rules, fees, settle
//! delay: the configuration's, or saved here for every process until an admin goes back to
//! the configuration), and the ledger check with its report.

use super::payouts::money;
use super::{Console, ConsoleForm};
use crate::ops::console::money::{self as reads, RateAt};
use crate::ops::{fx, money_rules, sbp_banks, OpError};
use crate::state::AppState;
use crate::web::Chrome;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use paylink_core::audit::Power;
use paylink_core::error::Rule;
use paylink_core::ledger::FxRate;
use paylink_core::money::{parse_minor, Currency, Rate};
use paylink_core::payout::{DirectionRules, PayoutRules};
use paylink_core::rules::MoneyRules;
use paylink_core::time::format_datetime;
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::LedgerReport;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/money", get(page))
        .route("/admin/money/fx", post(set_fx))
        .route("/admin/money/fx/{base}/{quote}", get(history))
        .route("/admin/money/sbp-banks", post(add_bank))
        .route("/admin/money/sbp-banks/{member_id}", post(set_bank))
        .route("/admin/money/ledger-check", post(ledger_check))
        .route("/admin/money/rules", post(save_rules))
        .route("/admin/money/rules/reset", post(reset_rules))
}

pub struct MoneyTexts {
    pub title: &'static str,
    pub fx_rates: &'static str,
    pub base: &'static str,
    pub quote: &'static str,
    pub rate: &'static str,
    pub updated: &'static str,
    pub history: &'static str,
    pub history_of: &'static str,
    pub set_rate: &'static str,
    pub rate_hint: &'static str,
    pub bad_rate: &'static str,
    pub same_currency: &'static str,
    pub no_pair: &'static str,
    pub confirm_rate: &'static str,
    pub banks: &'static str,
    pub member_id: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    pub bic: &'static str,
    pub enabled: &'static str,
    pub add_bank: &'static str,
    pub bad_bank: &'static str,
    pub no_bank: &'static str,
    pub disable_bank: &'static str,
    pub enable_bank: &'static str,
    pub confirm_disable: &'static str,
    pub rules: &'static str,
    pub rules_note: &'static str,
    pub direction: &'static str,
    pub currencies: &'static str,
    pub min: &'static str,
    pub max: &'static str,
    pub fee: &'static str,
    pub setting: &'static str,
    pub value: &'static str,
    pub key: &'static str,
    pub built_in: &'static str,
    pub settle_after: &'static str,
    pub threshold: &'static str,
    pub daily_limit: &'static str,
    pub monthly_limit: &'static str,
    pub unlimited: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub ledger: &'static str,
    pub ledger_intro: &'static str,
    pub run_check: &'static str,
    pub balanced: &'static str,
    pub broken: &'static str,
    pub transactions: &'static str,
    pub postings: &'static str,
    pub balances: &'static str,
    pub problems: &'static str,
    pub from_config: &'static str,
    pub from_console: &'static str,
    pub change_rules: &'static str,
    pub rules_hint: &'static str,
    pub card: &'static str,
    pub sbp: &'static str,
    pub fee_percent: &'static str,
    pub fee_fixed: &'static str,
    pub save_rules: &'static str,
    pub reset_rules: &'static str,
    pub confirm_rules: &'static str,
    pub confirm_reset: &'static str,
    pub save_question: &'static str,
    pub reset_question: &'static str,
    pub no_changes: &'static str,
    pub bad_duration: &'static str,
    pub bad_amount: &'static str,
    pub bad_percent: &'static str,
    pub bad_currencies: &'static str,
    pub bad_limit: &'static str,
    pub min_above_max: &'static str,
    /// How the confirm question names a rule: a direction and a rule of it.
    pub q_card: &'static str,
    pub q_sbp: &'static str,
    /// `card fee` (direction first) or `комиссия по картам`.
    pub q_direction_first: bool,
    pub q_enabled: &'static str,
    pub q_currencies: &'static str,
    pub q_min: &'static str,
    pub q_max: &'static str,
    pub q_fee: &'static str,
    pub q_fee_fixed: &'static str,
    pub q_settle_after: &'static str,
    pub q_threshold: &'static str,
    pub q_daily: &'static str,
    pub q_monthly: &'static str,
}

pub const EN: MoneyTexts = MoneyTexts {
    title: "Money settings",
    fx_rates: "Exchange rates",
    base: "From",
    quote: "To",
    rate: "Rate",
    updated: "Set at",
    history: "History",
    history_of: "Rates set for",
    set_rate: "Set rate",
    rate_hint: "How many units of the second currency one unit of the first is worth: a decimal with at most 8 places, e.g. 92.5.",
    bad_rate: "The rate must be a positive decimal with at most 8 places, between two different currencies.",
    same_currency: "Choose two different currencies.",
    no_pair: "No such currency pair.",
    confirm_rate: "Set the exchange rate",
    banks: "SBP banks",
    member_id: "Member id",
    name: "Name",
    name_en: "Name in English",
    bic: "BIC",
    enabled: "Enabled",
    add_bank: "Add or rename bank",
    bad_bank: "Give a positive member id and BIC and both names (up to 200 characters).",
    no_bank: "There is no bank with that member id.",
    disable_bank: "Disable",
    enable_bank: "Enable",
    confirm_disable: "Disable the SBP bank",
    rules: "Payout rules, fees and settle delay",
    rules_note: "The configuration (paylink.toml, the [money] table, or PAYLINK_MONEY_<KEY> in the environment) gives the starting rules. Rules saved here override it for every process (each follows within 5 seconds) until \u{201c}Back to the configuration\u{201d}.",
    direction: "Direction",
    currencies: "Currencies",
    min: "Minimum",
    max: "Maximum per part",
    fee: "Fee",
    setting: "Setting",
    value: "Value",
    key: "Key",
    built_in: "built in",
    settle_after: "Settle delay (money in hold before it is available)",
    threshold: "Moderation threshold",
    daily_limit: "Daily payout limit (default)",
    monthly_limit: "Monthly payout limit (default)",
    unlimited: "unlimited",
    yes: "yes",
    no: "no",
    ledger: "Ledger check",
    ledger_intro: "Re-derives every balance from the postings and checks every invariant of the ledger, as paylink ledger check does.",
    run_check: "Run ledger check",
    balanced: "balanced",
    broken: "NOT balanced",
    transactions: "Transactions",
    postings: "Postings",
    balances: "Balances",
    problems: "Problems",
    from_config: "In force: the configuration's rules.",
    from_console: "In force: rules saved in the console (they override the configuration).",
    change_rules: "Change the rules",
    rules_hint: "Amounts in RUB with at most two decimals (1500.00); fees in percent (2.5); the delay as 24h, 90m, 45s or 0; an empty limit means no limit.",
    card: "Card payouts",
    sbp: "SBP payouts",
    fee_percent: "Fee, %",
    fee_fixed: "Fixed fee",
    save_rules: "Save rules",
    reset_rules: "Back to the configuration",
    confirm_rules: "Save the money rules",
    confirm_reset: "Back to the configuration's money rules",
    save_question: "Save these rules for every process?",
    reset_question: "Go back to the configuration's rules for every process?",
    no_changes: "No rule changes.",
    bad_duration: "a duration such as 24h, 90m, 45s or 0, at most 90 days",
    bad_amount: "an amount such as 1500.00: at most two decimals, not negative, at most 100000000000.00",
    bad_percent: "a percent below 100 with at most two decimals, such as 2.5",
    bad_currencies: "one or more currency codes separated by commas (RUB, USD, EUR, KZT)",
    bad_limit: "an amount such as 3000000.00, or empty for no limit",
    min_above_max: "the minimum must be at least 0.01 and not above the maximum",
    q_card: "card",
    q_sbp: "SBP",
    q_direction_first: true,
    q_enabled: "enabled",
    q_currencies: "currencies",
    q_min: "min",
    q_max: "max",
    q_fee: "fee",
    q_fee_fixed: "fixed fee",
    q_settle_after: "settle delay",
    q_threshold: "moderation threshold",
    q_daily: "daily limit",
    q_monthly: "monthly limit",
};

pub const RU: MoneyTexts = MoneyTexts {
    title: "Денежные настройки",
    fx_rates: "Курсы валют",
    base: "Из",
    quote: "В",
    rate: "Курс",
    updated: "Установлен",
    history: "История",
    history_of: "Курсы пары",
    set_rate: "Установить курс",
    rate_hint: "Сколько единиц второй валюты стоит единица первой: десятичное число, не более 8 знаков после точки, например 92.5.",
    bad_rate: "Курс — положительное десятичное число, не более 8 знаков после точки, между двумя разными валютами.",
    same_currency: "Выберите две разные валюты.",
    no_pair: "Такой валютной пары нет.",
    confirm_rate: "Установить курс",
    banks: "Банки СБП",
    member_id: "Идентификатор участника",
    name: "Название",
    name_en: "Название по-английски",
    bic: "БИК",
    enabled: "Включён",
    add_bank: "Добавить или переименовать банк",
    bad_bank: "Укажите положительные идентификатор и БИК и оба названия (до 200 символов).",
    no_bank: "Банка с таким идентификатором нет.",
    disable_bank: "Отключить",
    enable_bank: "Включить",
    confirm_disable: "Отключить банк СБП",
    rules: "Правила выплат, комиссии и задержка зачисления",
    rules_note: "Начальные правила задаёт конфигурация (paylink.toml, таблица [money], или PAYLINK_MONEY_<KEY> в окружении). Правила, сохранённые здесь, заменяют её для всех процессов (каждый подхватывает их в течение 5 секунд), пока не нажата «Вернуть конфигурацию».",
    direction: "Направление",
    currencies: "Валюты",
    min: "Минимум",
    max: "Максимум за часть",
    fee: "Комиссия",
    setting: "Настройка",
    value: "Значение",
    key: "Ключ",
    built_in: "встроено",
    settle_after: "Задержка зачисления (деньги в холде до доступности)",
    threshold: "Порог модерации",
    daily_limit: "Дневной лимит выплат (по умолчанию)",
    monthly_limit: "Месячный лимит выплат (по умолчанию)",
    unlimited: "без лимита",
    yes: "да",
    no: "нет",
    ledger: "Проверка реестра",
    ledger_intro: "Пересчитывает каждый баланс по проводкам и проверяет все инварианты реестра, как paylink ledger check.",
    run_check: "Проверить реестр",
    balanced: "сходится",
    broken: "НЕ сходится",
    transactions: "Транзакции",
    postings: "Проводки",
    balances: "Балансы",
    problems: "Проблемы",
    from_config: "Действуют правила из конфигурации.",
    from_console: "Действуют правила, сохранённые в консоли (они заменяют конфигурацию).",
    change_rules: "Изменить правила",
    rules_hint: "Суммы в рублях, не более двух знаков после точки (1500.00); комиссии в процентах (2.5); задержка как 24h, 90m, 45s или 0; пустой лимит — без лимита.",
    card: "Выплаты на карты",
    sbp: "Выплаты по СБП",
    fee_percent: "Комиссия, %",
    fee_fixed: "Фиксированная комиссия",
    save_rules: "Сохранить правила",
    reset_rules: "Вернуть конфигурацию",
    confirm_rules: "Сохранить денежные правила",
    confirm_reset: "Вернуть денежные правила из конфигурации",
    save_question: "Сохранить эти правила для всех процессов?",
    reset_question: "Вернуть правила из конфигурации для всех процессов?",
    no_changes: "Правила не меняются.",
    bad_duration: "длительность вида 24h, 90m, 45s или 0, не более 90 дней",
    bad_amount: "сумма вида 1500.00: не более двух знаков после точки, не отрицательная, не более 100000000000.00",
    bad_percent: "процент меньше 100, не более двух знаков после точки, например 2.5",
    bad_currencies: "один или несколько кодов валют через запятую (RUB, USD, EUR, KZT)",
    bad_limit: "сумма вида 3000000.00 или пусто — без лимита",
    min_above_max: "минимум должен быть не меньше 0.01 и не больше максимума",
    q_card: "по картам",
    q_sbp: "по СБП",
    q_direction_first: false,
    q_enabled: "включены",
    q_currencies: "валюты",
    q_min: "минимум",
    q_max: "максимум",
    q_fee: "комиссия",
    q_fee_fixed: "фиксированная комиссия",
    q_settle_after: "задержка зачисления",
    q_threshold: "порог модерации",
    q_daily: "дневной лимит",
    q_monthly: "месячный лимит",
};

fn words(c: &Console) -> &'static MoneyTexts {
    super::texts::pick(c.v.t.lang, &EN, &RU)
}

pub struct RateRow {
    pub base: &'static str,
    pub quote: &'static str,
    pub rate: String,
    pub at: String,
}

fn rate_row(r: &RateAt) -> RateRow {
    RateRow {
        base: r.base.code(),
        quote: r.quote.code(),
        rate: r.rate.to_string(),
        at: format_datetime(r.at),
    }
}

pub struct BankRow {
    pub member_id: i64,
    pub name: String,
    pub name_en: String,
    pub bic: i64,
    pub enabled: bool,
}

pub struct DirectionRow {
    pub name: &'static str,
    pub key: &'static str,
    pub enabled: bool,
    pub currencies: String,
    pub min: String,
    pub max: String,
    pub fee: String,
}

/// A setting as configured, with the key that sets it.
pub struct SettingRow {
    pub name: &'static str,
    pub value: String,
    pub key: &'static str,
}

/// What the forms of the page hold when it is shown again after a refusal.
#[derive(Default)]
pub struct Typed {
    pub base: String,
    pub quote: String,
    pub rate: String,
    pub member_id: String,
    pub name: String,
    pub name_en: String,
    pub bic: String,
    /// The rules form as typed; `None`: filled from the rules in force.
    pub rules: Option<RulesForm>,
}

/// One payout direction's fields as the rules form holds them.
#[derive(Clone, Default)]
pub struct DirectionForm {
    pub enabled: bool,
    pub currencies: String,
    pub min: String,
    pub max: String,
    pub fee_fixed: String,
    pub fee: String,
}

/// The rules form's fields (named as posted: `settle_after`, `card_min`, ...).
#[derive(Clone, Default)]
pub struct RulesForm {
    pub settle_after: String,
    pub card: DirectionForm,
    pub sbp: DirectionForm,
    pub moderation_threshold: String,
    pub daily_limit: String,
    pub monthly_limit: String,
    /// The field a refusal names, marked in the form (empty: none).
    pub invalid: &'static str,
}

/// A direction's fieldset in the rules form.
pub struct FormDirection {
    /// `card` or `sbp`: the fields' prefix.
    pub prefix: &'static str,
    pub legend: &'static str,
    pub f: DirectionForm,
    /// The refused field of this direction without its prefix (`fee`), or empty.
    pub invalid: &'static str,
}

#[derive(Template)]
#[template(path = "admin_money.html")]
struct MoneyPage {
    c: Chrome,
    title: &'static str,
    t: &'static MoneyTexts,
    error: Option<String>,
    notice: Option<&'static str>,
    rates: Vec<RateRow>,
    /// The pair (`USD/RUB`) and its rates, newest first.
    history: Option<(String, Vec<RateRow>)>,
    currencies: Vec<&'static str>,
    typed: Typed,
    banks: Vec<BankRow>,
    directions: Vec<DirectionRow>,
    settings: Vec<SettingRow>,
    /// Whether the rules in force are the configuration's (else saved in the console).
    configured: bool,
    /// The saved rules the forms were made from.
    rules_version: String,
    rules_form: RulesForm,
    form_directions: Vec<FormDirection>,
}

#[derive(Template)]
#[template(path = "admin_ledger.html")]
struct LedgerPage {
    c: Chrome,
    title: &'static str,
    t: &'static MoneyTexts,
    ok: bool,
    report: LedgerReport,
}

/// `24h`, `90m`, `45s`, `0`: as paylink.toml spells durations (and the form reads them).
fn duration_text(ms: Millis) -> String {
    match ms {
        0 => "0".to_string(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// The settle delay as the form takes it: a duration, or `0` for none.
fn parse_settle_after(text: &str) -> Option<Millis> {
    let text = text.trim();
    // Bounded before parsing: a duration is a few digits and a unit.
    if text.len() > 20 {
        return None;
    }
    if text.bytes().all(|b| b == b'0') && !text.is_empty() {
        return Some(0);
    }
    crate::config::parse_duration(text)
}

/// Minor units as the form shows an amount: `1500.00`.
fn major(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A fee rate as the form shows it: `2.50`.
fn percent(rate: Rate) -> String {
    let bps = rate.bps();
    format!("{}.{:02}", bps / 100, bps % 100)
}

/// The payout rules are in RUB minor units (the instance's payout currencies share them).
fn rub(minor: i64) -> String {
    money(minor, Currency::Rub)
}

fn codes(currencies: &[Currency]) -> String {
    currencies
        .iter()
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(", ")
}

fn direction(name: &'static str, key: &'static str, d: &DirectionRules) -> DirectionRow {
    DirectionRow {
        name,
        key,
        enabled: d.enabled,
        currencies: codes(&d.currencies),
        min: rub(d.min),
        max: rub(d.max),
        fee: format!("{}% + {}", percent(d.fee_rate), rub(d.fee_fixed)),
    }
}

fn direction_form(d: &DirectionRules) -> DirectionForm {
    DirectionForm {
        enabled: d.enabled,
        currencies: codes(&d.currencies),
        min: major(d.min),
        max: major(d.max),
        fee_fixed: major(d.fee_fixed),
        fee: percent(d.fee_rate),
    }
}

/// The rules form filled from `r`.
fn rules_form(r: &MoneyRules) -> RulesForm {
    let limit = |l: Option<i64>| l.map(major).unwrap_or_default();
    RulesForm {
        settle_after: duration_text(r.settle_after_ms),
        card: direction_form(&r.payouts.card),
        sbp: direction_form(&r.payouts.sbp),
        moderation_threshold: major(r.payouts.moderation_threshold),
        daily_limit: limit(r.payouts.daily_limit),
        monthly_limit: limit(r.payouts.monthly_limit),
        invalid: "",
    }
}

async fn render(
    st: &AppState,
    c: &Console,
    code: StatusCode,
    error: Option<&str>,
    notice: Option<&'static str>,
    history: Option<(Currency, Currency)>,
    mut typed: Typed,
) -> Response {
    let t = words(c);
    let rates = match reads::fx_rates(&st.store).await {
        Ok(r) => r,
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    let banks = match reads::sbp_banks(&st.store).await {
        Ok(b) => b,
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    let configured = match money_rules::configured(st).await {
        Ok(c) => c,
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    let rules_version = match money_rules::version(st).await {
        Ok(v) => v,
        Err(e) => return super::refused(st, c, &e, "/admin"),
    };
    let history = match history {
        Some((base, quote)) => match reads::fx_history(&st.store, base, quote).await {
            Ok(h) => Some((
                format!("{}/{}", base.code(), quote.code()),
                h.iter().map(rate_row).collect(),
            )),
            Err(e) => return super::refused(st, c, &e, "/admin/money"),
        },
        None => None,
    };
    let rules = st.money_rules();
    let p = &rules.payouts;
    let limit = |l: Option<i64>| l.map(rub).unwrap_or_else(|| t.unlimited.to_string());
    let form = typed.rules.take().unwrap_or_else(|| rules_form(&rules));
    let of = |prefix: &str| {
        form.invalid
            .strip_prefix(prefix)
            .and_then(|f| f.strip_prefix('_'))
            .unwrap_or("")
    };
    let form_directions = vec![
        FormDirection {
            prefix: "card",
            legend: t.card,
            f: form.card.clone(),
            invalid: of("card"),
        },
        FormDirection {
            prefix: "sbp",
            legend: t.sbp,
            f: form.sbp.clone(),
            invalid: of("sbp"),
        },
    ];
    c.page(
        code,
        MoneyPage {
            c: c.chrome(st),
            title: t.title,
            t,
            error: error.map(str::to_string),
            notice,
            rates: rates.iter().map(rate_row).collect(),
            history,
            currencies: Currency::ALL.iter().map(|c| c.code()).collect(),
            typed,
            banks: banks
                .into_iter()
                .map(|b| BankRow {
                    member_id: b.member_id,
                    name: b.name,
                    name_en: b.name_en,
                    bic: b.bic,
                    enabled: b.enabled,
                })
                .collect(),
            directions: vec![
                direction("card", "money.card_payouts", &p.card),
                direction("sbp", "money.sbp_payouts", &p.sbp),
            ],
            settings: vec![
                SettingRow {
                    name: t.settle_after,
                    value: duration_text(rules.settle_after_ms),
                    key: "money.settle_after",
                },
                SettingRow {
                    name: t.threshold,
                    value: rub(p.moderation_threshold),
                    key: "money.moderation_threshold",
                },
                SettingRow {
                    name: t.daily_limit,
                    value: limit(p.daily_limit),
                    key: "money.daily_payout_limit",
                },
                SettingRow {
                    name: t.monthly_limit,
                    value: limit(p.monthly_limit),
                    key: "money.monthly_payout_limit",
                },
            ],
            configured,
            rules_version,
            rules_form: form,
            form_directions,
        },
    )
}

/// `GET /admin/money`.
pub async fn page(
    State(st): State<AppState>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = super::notice(c.a, q.get("notice").map(String::as_str));
    render(
        &st,
        &c,
        StatusCode::OK,
        None,
        notice,
        None,
        Typed::default(),
    )
    .await
}

fn pair(base: &str, quote: &str) -> Option<(Currency, Currency)> {
    let (b, q) = (
        base.parse::<Currency>().ok()?,
        quote.parse::<Currency>().ok()?,
    );
    (b != q).then_some((b, q))
}

/// `GET /admin/money/fx/{base}/{quote}`: the money page with the pair's history.
pub async fn history(
    State(st): State<AppState>,
    c: Console,
    Path((base, quote)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = words(&c);
    let notice = super::notice(c.a, q.get("notice").map(String::as_str));
    match pair(&base, &quote) {
        Some(p) => {
            render(
                &st,
                &c,
                StatusCode::OK,
                None,
                notice,
                Some(p),
                Typed::default(),
            )
            .await
        }
        None => {
            render(
                &st,
                &c,
                StatusCode::NOT_FOUND,
                Some(t.no_pair),
                None,
                None,
                Typed::default(),
            )
            .await
        }
    }
}

/// Support sees the page but changes nothing: answered before any confirm step.
fn not_admin(st: &AppState, c: &Console) -> Option<Response> {
    (!c.may(Power::Admin)).then(|| {
        super::refused(
            st,
            c,
            &OpError::Domain(DomainError::NotPermitted),
            "/admin/money",
        )
    })
}

/// `POST /admin/money/fx`: `base`, `quote`, `rate` (decimal text); confirmed first.
pub async fn set_fx(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let t = words(c);
    if let Some(r) = not_admin(&st, c) {
        return r;
    }
    let typed = Typed {
        base: form.field("base").chars().take(8).collect(),
        quote: form.field("quote").chars().take(8).collect(),
        rate: form.field("rate").chars().take(40).collect(),
        ..Typed::default()
    };
    let pair = pair(form.field("base"), form.field("quote"));
    // Bounded before parsing: a rate is a short decimal.
    let rate = Some(form.field("rate"))
        .filter(|r| r.len() <= 40)
        .and_then(FxRate::parse);
    let (Some((base, quote)), Some(rate)) = (pair, rate) else {
        let same = !typed.base.is_empty() && typed.base.eq_ignore_ascii_case(&typed.quote);
        let error = if same { t.same_currency } else { t.bad_rate };
        return render(
            &st,
            c,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(error),
            None,
            None,
            typed,
        )
        .await;
    };
    if !form.confirmed() {
        let now = match st.store.fx_rate(base, quote).await {
            Ok(r) => r.map(|r| r.to_string()),
            Err(e) => return super::refused(&st, c, &e.into(), "/admin/money"),
        };
        let question = match (c.v.t.lang, now) {
            ("ru", Some(old)) => format!("Установить 1 {base} = {rate} {quote} (сейчас {old})?"),
            ("ru", None) => format!("Установить 1 {base} = {rate} {quote} (курса ещё нет)?"),
            (_, Some(old)) => format!("Set 1 {base} = {rate} {quote} (now {old})?"),
            (_, None) => format!("Set 1 {base} = {rate} {quote} (no rate yet)?"),
        };
        return super::confirm(
            &st,
            &form,
            t.confirm_rate,
            question,
            "/admin/money/fx",
            "/admin/money",
        );
    }
    match fx::set_rate(&st.store, &c.actor, base, quote, rate, st.now()).await {
        Ok(()) => c.redirect(&format!(
            "/admin/money/fx/{}/{}?notice=done",
            base.code(),
            quote.code()
        )),
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}

/// A positive id of at most 18 digits (fits an i64 with room).
fn positive(text: &str) -> Option<i64> {
    let text = text.trim();
    (!text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
        .filter(|v| *v > 0)
}

fn bank_name(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty() && text.chars().count() <= 200 && !text.chars().any(char::is_control))
        .then_some(text)
}

/// `POST /admin/money/sbp-banks`: `member_id`, `name`, `name_en`, `bic`; adds the bank (or
/// renames it), enabled.
pub async fn add_bank(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let t = words(c);
    if let Some(r) = not_admin(&st, c) {
        return r;
    }
    let fields = (
        positive(form.field("member_id")),
        bank_name(form.field("name")),
        bank_name(form.field("name_en")),
        positive(form.field("bic")),
    );
    let (Some(member_id), Some(name), Some(name_en), Some(bic)) = fields else {
        let cut = |f: &str| form.field(f).chars().take(200).collect();
        let typed = Typed {
            member_id: cut("member_id"),
            name: cut("name"),
            name_en: cut("name_en"),
            bic: cut("bic"),
            ..Typed::default()
        };
        return render(
            &st,
            c,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(t.bad_bank),
            None,
            None,
            typed,
        )
        .await;
    };
    match sbp_banks::add(&st.store, &c.actor, member_id, name, name_en, bic, st.now()).await {
        Ok(()) => c.redirect("/admin/money?notice=done#sbp-banks"),
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}

/// `POST /admin/money/sbp-banks/{member_id}`: `do` is `enable` or `disable` (disabling stops
/// payouts to the bank, so it is confirmed first).
pub async fn set_bank(
    State(st): State<AppState>,
    Path(member_id): Path<String>,
    form: ConsoleForm,
) -> Response {
    let c = &form.c;
    let t = words(c);
    if let Some(r) = not_admin(&st, c) {
        return r;
    }
    let enabled = match form.field("do") {
        "enable" => true,
        "disable" => false,
        _ => return c.redirect("/admin/money"),
    };
    let Some(member_id) = positive(&member_id) else {
        return render(
            &st,
            c,
            StatusCode::NOT_FOUND,
            Some(t.no_bank),
            None,
            None,
            Typed::default(),
        )
        .await;
    };
    let bank = match st.store.sbp_bank(member_id).await {
        Ok(b) => b,
        Err(e) => return super::refused(&st, c, &e.into(), "/admin/money"),
    };
    let Some(bank) = bank else {
        return render(
            &st,
            c,
            StatusCode::NOT_FOUND,
            Some(t.no_bank),
            None,
            None,
            Typed::default(),
        )
        .await;
    };
    if !enabled && !form.confirmed() {
        let question = match c.v.t.lang {
            "ru" => format!(
                "Отключить банк {} ({member_id})? Выплаты по СБП в него перестанут приниматься.",
                bank.name
            ),
            _ => format!(
                "Disable {} ({member_id})? SBP payouts to it will be refused.",
                bank.name_en
            ),
        };
        return super::confirm(
            &st,
            &form,
            t.confirm_disable,
            question,
            &format!("/admin/money/sbp-banks/{member_id}"),
            "/admin/money",
        );
    }
    match sbp_banks::set_enabled(&st.store, &c.actor, member_id, enabled, st.now()).await {
        Ok(true) => c.redirect("/admin/money?notice=done#sbp-banks"),
        Ok(false) => {
            render(
                &st,
                c,
                StatusCode::CONFLICT,
                Some(c.a.moved_meanwhile),
                None,
                None,
                Typed::default(),
            )
            .await
        }
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}

/// Why a rules field was refused.
#[derive(Clone, Copy)]
enum Problem {
    Duration,
    Amount,
    Percent,
    Currencies,
    Limit,
    MinAboveMax,
}

fn problem_text(t: &MoneyTexts, p: Problem) -> &'static str {
    match p {
        Problem::Duration => t.bad_duration,
        Problem::Amount => t.bad_amount,
        Problem::Percent => t.bad_percent,
        Problem::Currencies => t.bad_currencies,
        Problem::Limit => t.bad_limit,
        Problem::MinAboveMax => t.min_above_max,
    }
}

/// Which problem a refusal of [`MoneyRules::check`] is, by the field it names.
fn problem_of(field: &str, kind: &Rule) -> Problem {
    match field {
        "settle_after" => Problem::Duration,
        "daily_limit" | "monthly_limit" => Problem::Limit,
        f if f.ends_with("_min") && matches!(kind, Rule::Refused { .. }) => Problem::MinAboveMax,
        f if f.ends_with("_fee") => Problem::Percent,
        f if f.ends_with("_currencies") => Problem::Currencies,
        _ => Problem::Amount,
    }
}

/// The form's label of a posted field (`card_fee` → `Card payouts · Fee, %`).
fn field_label(t: &MoneyTexts, field: &str) -> String {
    let (legend, rule) = match (field.strip_prefix("card_"), field.strip_prefix("sbp_")) {
        (Some(rule), _) => (Some(t.card), rule),
        (_, Some(rule)) => (Some(t.sbp), rule),
        _ => (None, field),
    };
    let label = match rule {
        "settle_after" => t.settle_after,
        "moderation_threshold" => t.threshold,
        "daily_limit" => t.daily_limit,
        "monthly_limit" => t.monthly_limit,
        "enabled" => t.enabled,
        "currencies" => t.currencies,
        "min" => t.min,
        "max" => t.max,
        "fee_fixed" => t.fee_fixed,
        "fee" => t.fee_percent,
        _ => t.rules,
    };
    match legend {
        Some(legend) => format!("{legend} · {label}"),
        None => label.to_string(),
    }
}

/// What was typed in the rules form, cut to what its inputs hold.
fn typed_rules(form: &ConsoleForm) -> RulesForm {
    let cut = |name: &str| form.field(name).chars().take(100).collect::<String>();
    let direction = |p: &str| DirectionForm {
        enabled: !form.field(&format!("{p}_enabled")).is_empty(),
        currencies: cut(&format!("{p}_currencies")),
        min: cut(&format!("{p}_min")),
        max: cut(&format!("{p}_max")),
        fee_fixed: cut(&format!("{p}_fee_fixed")),
        fee: cut(&format!("{p}_fee")),
    };
    RulesForm {
        settle_after: cut("settle_after"),
        card: direction("card"),
        sbp: direction("sbp"),
        moderation_threshold: cut("moderation_threshold"),
        daily_limit: cut("daily_limit"),
        monthly_limit: cut("monthly_limit"),
        invalid: "",
    }
}

/// A field's text if it is short enough to be a number (bounded before parsing).
fn short(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| t.len() <= 40)
}

/// `RUB, KZT`: known codes separated by commas, each once; empty pieces are skipped (an
/// empty list is refused by the rules' check).
fn parse_currencies(text: &str) -> Option<Vec<Currency>> {
    if text.len() > 100 {
        return None;
    }
    let mut out = Vec::new();
    for code in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let c = code.parse::<Currency>().ok()?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Some(out)
}

/// The rules the form gives, or the first field refused and why.
fn read_rules(f: &RulesForm) -> Result<MoneyRules, (&'static str, Problem)> {
    let settle_after_ms =
        parse_settle_after(&f.settle_after).ok_or(("settle_after", Problem::Duration))?;
    let amount = |field: &'static str, text: &str| {
        short(text)
            .and_then(|t| parse_minor(t, 2))
            .ok_or((field, Problem::Amount))
    };
    let limit = |field: &'static str, text: &str| match text.trim() {
        "" => Ok(None),
        t => short(t)
            .and_then(|t| parse_minor(t, 2))
            .map(Some)
            .ok_or((field, Problem::Limit)),
    };
    let direction = |[currencies, min, max, fee_fixed, fee]: [&'static str; 5],
                     d: &DirectionForm| {
        Ok::<_, (&'static str, Problem)>(DirectionRules {
            enabled: d.enabled,
            currencies: parse_currencies(&d.currencies).ok_or((currencies, Problem::Currencies))?,
            min: amount(min, &d.min)?,
            max: amount(max, &d.max)?,
            fee_rate: short(&d.fee)
                .and_then(Rate::parse_percent)
                .ok_or((fee, Problem::Percent))?,
            fee_fixed: amount(fee_fixed, &d.fee_fixed)?,
        })
    };
    let rules = MoneyRules {
        settle_after_ms,
        payouts: PayoutRules {
            card: direction(
                [
                    "card_currencies",
                    "card_min",
                    "card_max",
                    "card_fee_fixed",
                    "card_fee",
                ],
                &f.card,
            )?,
            sbp: direction(
                [
                    "sbp_currencies",
                    "sbp_min",
                    "sbp_max",
                    "sbp_fee_fixed",
                    "sbp_fee",
                ],
                &f.sbp,
            )?,
            moderation_threshold: amount("moderation_threshold", &f.moderation_threshold)?,
            daily_limit: limit("daily_limit", &f.daily_limit)?,
            monthly_limit: limit("monthly_limit", &f.monthly_limit)?,
        },
    };
    match rules.check() {
        Ok(()) => Ok(rules),
        Err(DomainError::Invalid { field, kind }) => Err((field, problem_of(field, &kind))),
        Err(_) => Err(("", Problem::Amount)),
    }
}

/// Each rule as the confirm question names and shows it.
fn summary(t: &MoneyTexts, r: &MoneyRules) -> Vec<(String, String)> {
    let name = |dir: &str, rule: &str| {
        if t.q_direction_first {
            format!("{dir} {rule}")
        } else {
            format!("{rule} {dir}")
        }
    };
    let limit = |l: Option<i64>| l.map(rub).unwrap_or_else(|| t.unlimited.to_string());
    let mut out = vec![(
        t.q_settle_after.to_string(),
        duration_text(r.settle_after_ms),
    )];
    for (dir, d) in [(t.q_card, &r.payouts.card), (t.q_sbp, &r.payouts.sbp)] {
        let enabled = if d.enabled { t.yes } else { t.no };
        out.extend([
            (name(dir, t.q_enabled), enabled.to_string()),
            (name(dir, t.q_currencies), codes(&d.currencies)),
            (name(dir, t.q_min), rub(d.min)),
            (name(dir, t.q_max), rub(d.max)),
            (name(dir, t.q_fee), format!("{}%", percent(d.fee_rate))),
            (name(dir, t.q_fee_fixed), rub(d.fee_fixed)),
        ]);
    }
    out.extend([
        (
            t.q_threshold.to_string(),
            rub(r.payouts.moderation_threshold),
        ),
        (t.q_daily.to_string(), limit(r.payouts.daily_limit)),
        (t.q_monthly.to_string(), limit(r.payouts.monthly_limit)),
    ]);
    out
}

/// The rules that differ, `card fee 2.00% → 2.50%; ...`.
fn changes(t: &MoneyTexts, before: &MoneyRules, after: &MoneyRules) -> String {
    let lines: Vec<String> = summary(t, before)
        .into_iter()
        .zip(summary(t, after))
        .filter(|((_, was), (_, is))| was != is)
        .map(|((name, was), (_, is))| format!("{name} {was} \u{2192} {is}"))
        .collect();
    if lines.is_empty() {
        t.no_changes.to_string()
    } else {
        lines.join("; ")
    }
}

/// `POST /admin/money/rules`: every rule (the fields of [`RulesForm`]). A refused field is
/// named and the page shown again with what was typed; confirmed first (the question lists
/// the changes), then saved for every process.
pub async fn save_rules(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let t = words(c);
    if let Some(r) = not_admin(&st, c) {
        return r;
    }
    let mut typed = typed_rules(&form);
    let rules = match read_rules(&typed) {
        Ok(r) => r,
        Err((field, problem)) => {
            let error = format!("{}: {}.", field_label(t, field), problem_text(t, problem));
            typed.invalid = field;
            let typed = Typed {
                rules: Some(typed),
                ..Typed::default()
            };
            return render(
                &st,
                c,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&error),
                None,
                None,
                typed,
            )
            .await;
        }
    };
    if !form.confirmed() {
        let question = format!(
            "{} {}",
            t.save_question,
            changes(t, &st.money_rules(), &rules)
        );
        return super::confirm(
            &st,
            &form,
            t.confirm_rules,
            question,
            "/admin/money/rules",
            "/admin/money#rules",
        );
    }
    let based_on = form.f.get("rules_version").map(String::as_str);
    match money_rules::save(&st, &c.actor, rules, based_on, st.now()).await {
        Ok(()) => c.redirect("/admin/money?notice=done#rules"),
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}

/// `POST /admin/money/rules/reset`: back to the configuration's rules, confirmed first.
pub async fn reset_rules(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    let t = words(c);
    if let Some(r) = not_admin(&st, c) {
        return r;
    }
    if !form.confirmed() {
        let question = format!(
            "{} {}",
            t.reset_question,
            changes(t, &st.money_rules(), &st.settings.money.rules())
        );
        return super::confirm(
            &st,
            &form,
            t.confirm_reset,
            question,
            "/admin/money/rules/reset",
            "/admin/money#rules",
        );
    }
    let based_on = form.f.get("rules_version").map(String::as_str);
    match money_rules::reset(&st, &c.actor, based_on, st.now()).await {
        Ok(()) => c.redirect("/admin/money?notice=done#rules"),
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}

/// `POST /admin/money/ledger-check`: runs the check and shows its report (200 either way:
/// the report is the answer).
pub async fn ledger_check(State(st): State<AppState>, form: ConsoleForm) -> Response {
    let c = &form.c;
    match reads::ledger_check(&st.store, &c.actor).await {
        Ok(report) => c.page(
            StatusCode::OK,
            LedgerPage {
                c: c.chrome(&st),
                title: words(c).ledger,
                t: words(c),
                ok: report.problems.is_empty(),
                report,
            },
        ),
        Err(e) => super::refused(&st, c, &e, "/admin/money"),
    }
}
