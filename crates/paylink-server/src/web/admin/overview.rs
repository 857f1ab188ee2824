//! The console's overview at `/admin`: every merchant's turnover, payments and success rate,
//! payouts by status, for the last 24 hours and the last 30 days (server-made SVG charts per
//! hour and per day), the postback backlog, and a health panel with the figures `/metrics`
//! exposes (read from the same source).

use super::Console;
use crate::ops::console::overview::{self, Bucket, Overview, Totals, DAYS, HOURS};
use crate::state::AppState;
use crate::web::charts::{bars, hour, money_label, slots, Bar};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use paylink_core::money::format_fixed;
use paylink_core::time::format_datetime;
use std::collections::BTreeMap;

pub struct OverviewTexts {
    pub last_24h: &'static str,
    pub last_30d: &'static str,
    pub turnover: &'static str,
    pub payments: &'static str,
    pub success_rate: &'static str,
    pub payouts: &'static str,
    pub count: &'static str,
    pub no_payouts: &'static str,
    pub none_yet: &'static str,
    pub backlog: &'static str,
    pub postbacks_waiting: &'static str,
    pub oldest_waiting: &'static str,
    pub messages_waiting: &'static str,
    pub health: &'static str,
    pub health_hint: &'static str,
    pub writer_queue: &'static str,
    pub outbox_due: &'static str,
    pub outbox_in_flight: &'static str,
    pub outbox_lag: &'static str,
    pub settlements_waiting: &'static str,
    pub settlements_due: &'static str,
    pub dispatcher: &'static str,
    pub money_worker: &'static str,
    pub runs_here: &'static str,
    pub off_here: &'static str,
    pub per_hour: &'static str,
    pub per_day: &'static str,
}

pub const EN: OverviewTexts = OverviewTexts {
    last_24h: "Last 24 hours",
    last_30d: "Last 30 days",
    turnover: "Turnover",
    payments: "Payments",
    success_rate: "Success rate",
    payouts: "Payouts",
    count: "Count",
    no_payouts: "No payouts.",
    none_yet: "none yet",
    backlog: "Postback backlog",
    postbacks_waiting: "Postbacks not delivered yet",
    oldest_waiting: "Oldest waiting for",
    messages_waiting: "Emails and SMS waiting",
    health: "Health",
    health_hint: "The figures /metrics exposes, read now.",
    writer_queue: "Writer queue",
    outbox_due: "Messages due now",
    outbox_in_flight: "Messages being delivered",
    outbox_lag: "Delivery lag",
    settlements_waiting: "Payments in hold",
    settlements_due: "Settlements overdue",
    dispatcher: "Postback dispatcher",
    money_worker: "Money worker",
    runs_here: "runs in this process",
    off_here: "off in this process",
    per_hour: "per hour",
    per_day: "per day",
};

pub const RU: OverviewTexts = OverviewTexts {
    last_24h: "За 24 часа",
    last_30d: "За 30 дней",
    turnover: "Оборот",
    payments: "Платежи",
    success_rate: "Доля успешных",
    payouts: "Выплаты",
    count: "Количество",
    no_payouts: "Выплат нет.",
    none_yet: "пока нет",
    backlog: "Очередь постбэков",
    postbacks_waiting: "Постбэки, ещё не доставленные",
    oldest_waiting: "Самый старый ждёт",
    messages_waiting: "Письма и SMS в очереди",
    health: "Состояние",
    health_hint: "Те же показатели, что в /metrics, прочитанные сейчас.",
    writer_queue: "Очередь записи",
    outbox_due: "Сообщений к отправке",
    outbox_in_flight: "Сообщений в отправке",
    outbox_lag: "Задержка доставки",
    settlements_waiting: "Платежей в холде",
    settlements_due: "Просроченных зачислений",
    dispatcher: "Отправка постбэков",
    money_worker: "Денежный обработчик",
    runs_here: "работает в этом процессе",
    off_here: "выключен в этом процессе",
    per_hour: "по часам",
    per_day: "по дням",
};

/// One window's card.
pub struct Card {
    /// `24h` or `30d`: the suffix of the card's element ids.
    pub key: &'static str,
    pub title: &'static str,
    /// Currency and formatted amount.
    pub turnover: Vec<(String, String)>,
    pub payments: i64,
    /// `75% (3/4)`, or empty before any payment finished.
    pub success: String,
    /// Status, currency, count, formatted amount.
    pub payouts: Vec<(String, String, i64, String)>,
    /// The charts: titles and inline SVG (made here, not from input).
    pub charts: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
struct OverviewPage {
    c: crate::web::Chrome,
    title: &'static str,
    w: &'static OverviewTexts,
    cards: Vec<Card>,
    postbacks_waiting: i64,
    oldest_waiting: String,
    messages_waiting: i64,
    writer_queue: usize,
    outbox_due: i64,
    outbox_in_flight: i64,
    outbox_lag: String,
    settlements_waiting: i64,
    settlements_due: i64,
    dispatcher: bool,
    money_worker: bool,
    read_at: String,
}

/// A duration as people read it: `42 s`, `7 min`, `3 h 5 min`, `2 d 4 h`.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min", s / 60),
        3_600..=86_399 => format!("{} h {} min", s / 3_600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3_600 % 24),
    }
}

/// The turnover per bucket of each currency (the four biggest), and the success rate.
fn charts(
    w: &OverviewTexts,
    buckets: &[Bucket],
    per: &str,
    draw: impl Fn(&str, &[Bar], Option<f64>) -> String,
) -> Vec<(String, String)> {
    let mut by_currency: BTreeMap<&str, Vec<Bar>> = BTreeMap::new();
    let mut per_bucket: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for b in buckets {
        let code = b.currency.code();
        if b.turnover > 0 {
            by_currency.entry(code).or_default().push(Bar {
                day: b.at,
                value: b.turnover as f64,
                label: money_label(b.turnover, code),
            });
        }
        let e = per_bucket.entry(b.at).or_default();
        e.0 += b.finished;
        e.1 += b.paid;
    }
    let mut currencies: Vec<_> = by_currency.into_iter().collect();
    currencies
        .sort_by_key(|(_, b)| std::cmp::Reverse(b.iter().map(|b| b.value as i64).sum::<i64>()));
    let mut out: Vec<(String, String)> = currencies
        .into_iter()
        .take(4)
        .map(|(code, b)| {
            let title = format!("{}, {code}, {per}", w.turnover);
            let svg = draw(&title, &b, None);
            (title, svg)
        })
        .collect();
    let rate: Vec<Bar> = per_bucket
        .into_iter()
        .filter(|(_, (finished, _))| *finished > 0)
        .map(|(at, (finished, paid))| {
            let pct = paid * 100 / finished;
            Bar {
                day: at,
                value: pct as f64,
                label: format!("{pct}% ({paid}/{finished})"),
            }
        })
        .collect();
    if !rate.is_empty() {
        let title = format!("{}, {per}", w.success_rate);
        let svg = draw(&title, &rate, Some(100.0));
        out.push((title, svg));
    }
    out
}

fn card(key: &'static str, title: &'static str, t: &Totals, charts: Vec<(String, String)>) -> Card {
    Card {
        key,
        title,
        turnover: t
            .turnover
            .iter()
            .map(|(code, minor)| (code.to_string(), format!("{} {code}", format_fixed(*minor))))
            .collect(),
        payments: t.made,
        success: t
            .success_percent()
            .map(|p| format!("{p}% ({}/{})", t.paid, t.finished))
            .unwrap_or_default(),
        payouts: t
            .payouts
            .iter()
            .map(|p| {
                (
                    p.status.clone(),
                    p.currency.code().to_string(),
                    p.count,
                    money_label(p.amount, p.currency.code()),
                )
            })
            .collect(),
        charts,
    }
}

fn cards(w: &'static OverviewTexts, o: &Overview) -> Vec<Card> {
    let hourly = charts(w, &o.hourly, w.per_hour, |title, b, max| {
        slots(title, b, o.hour, HOURS, max, hour)
    });
    let daily = charts(w, &o.daily, w.per_day, |title, b, max| {
        bars(title, b, o.today, DAYS, max)
    });
    vec![
        card("24h", w.last_24h, &o.day, hourly),
        card("30d", w.last_30d, &o.month, daily),
    ]
}

/// `GET /admin`: the overview, for every operator.
pub async fn overview(State(st): State<AppState>, c: Console) -> Response {
    let w = super::texts::pick(c.v.t.lang, &EN, &RU);
    let now = st.now();
    let o = match overview::overview(&st, &c.actor, now).await {
        Ok(o) => o,
        Err(e) => return super::refused(&st, &c, &e, "/admin/account"),
    };
    let backlog = &o.backlog;
    let h = &o.health;
    c.page(
        StatusCode::OK,
        OverviewPage {
            c: c.chrome(&st),
            title: c.a.overview,
            w,
            cards: cards(w, &o),
            postbacks_waiting: backlog.postbacks,
            oldest_waiting: if backlog.postbacks > 0 {
                age(backlog.oldest_postback_age_ms)
            } else {
                "—".to_string()
            },
            messages_waiting: backlog.messages,
            writer_queue: h.writer_queue,
            outbox_due: h.outbox_due,
            outbox_in_flight: h.outbox_in_flight,
            outbox_lag: age(h.outbox_lag_ms),
            settlements_waiting: h.settlements_waiting,
            settlements_due: h.settlements_due,
            dispatcher: h.dispatcher,
            money_worker: h.money_worker,
            read_at: format_datetime(o.now),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(-5), "0 s");
        assert_eq!(age(42_000), "42 s");
        assert_eq!(age(7 * 60_000 + 10), "7 min");
        assert_eq!(age(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(age(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
    }

    #[test]
    fn an_hourly_chart_titles_each_bar_with_its_hour() {
        let svg = slots(
            "Turnover <RUB>",
            &[
                Bar {
                    day: 480_000,
                    value: 150.0,
                    label: "1.50 RUB".into(),
                },
                Bar {
                    day: 1,
                    value: 99.0,
                    label: "outside".into(),
                },
            ],
            480_001,
            24,
            None,
            hour,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(
            svg.contains("<title>2024-10-04 00:00 UTC: 1.50 RUB</title>"),
            "{svg}"
        );
        assert!(svg.contains("Turnover &lt;RUB&gt;"));
        assert!(!svg.contains("outside"));
    }
}
