//! Charts of the dashboard and the console's overview as inline SVG made on the server (no
//! script, no CDN): turnover per day or hour in one currency (bars) and the share of payments
//! that succeeded (bars, 0–100%).
//! Every bar carries a `<title>` with its figures, so the numbers are readable without the
//! picture (and by screen readers).

use paylink_core::money::format_fixed;
use paylink_core::time::format_datetime;
use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 160.0;
const AXIS: f64 = 18.0;

/// One bar: its slot (days, or hours, since the epoch), its height's value, and its label.
pub struct Bar {
    pub day: i64,
    pub value: f64,
    pub label: String,
}

fn date(day: i64) -> String {
    format_datetime(day * 86_400_000)[..10].to_string()
}

/// An hour's start (hours since the epoch), UTC.
pub fn hour(hour: i64) -> String {
    format!("{} UTC", &format_datetime(hour * 3_600_000)[..16])
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Bars for the `days` days ending with `last_day` (days without data are empty), scaled to
/// `max` (the largest value when `None`).
pub fn bars(title: &str, bars: &[Bar], last_day: i64, days: i64, max: Option<f64>) -> String {
    slots(title, bars, last_day, days, max, date)
}

/// Bars for the `count` slots ending with `last`, each named by `name` (its date, its hour).
pub fn slots(
    title: &str,
    bars: &[Bar],
    last: i64,
    count: i64,
    max: Option<f64>,
    name: impl Fn(i64) -> String,
) -> String {
    let first = last - count + 1;
    let top = max
        .or_else(|| bars.iter().map(|b| b.value).reduce(f64::max))
        .filter(|m| *m > 0.0)
        .unwrap_or(1.0);
    let slot = WIDTH / count as f64;
    let plot = HEIGHT - AXIS;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" class="chart">"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="0" y1="{plot}" x2="{WIDTH}" y2="{plot}" stroke="#c9d1db"/>"##
    );
    for b in bars.iter().filter(|b| (first..=last).contains(&b.day)) {
        let h = (b.value / top).clamp(0.0, 1.0) * (plot - 4.0);
        let x = (b.day - first) as f64 * slot + slot * 0.15;
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#3b5bdb"><title>{}: {}</title></rect>"##,
            plot - h,
            slot * 0.7,
            name(b.day),
            escape(&b.label)
        );
    }
    for (at, anchor) in [(first, "start"), (last, "end")] {
        let x = if anchor == "start" { 0.0 } else { WIDTH };
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{}" font-size="11" fill="#5b6478" text-anchor="{anchor}">{}</text>"##,
            HEIGHT - 4.0,
            name(at)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A turnover bar's label: the amount with its currency.
pub fn money_label(minor: i64, currency: &str) -> String {
    format!("{} {currency}", format_fixed(minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_a_titled_bar_per_day_with_data() {
        let svg = bars(
            "Turnover <RUB>",
            &[
                Bar {
                    day: 20_000,
                    value: 150.0,
                    label: "1.50 RUB".into(),
                },
                Bar {
                    day: 19_000,
                    value: 99.0,
                    label: "outside".into(),
                },
            ],
            20_001,
            30,
            None,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains("<title>2024-10-04: 1.50 RUB</title>"), "{svg}");
        assert!(svg.contains("Turnover &lt;RUB&gt;"));
        assert!(!svg.contains("outside"));
    }
}
