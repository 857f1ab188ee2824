//! Time is a parameter: unix milliseconds handed in by the caller. Rendering and parsing of the
//! Cardlink date forms live here (UTC throughout).

/// Unix time in milliseconds.
pub type Millis = i64;

const MS_PER_DAY: i64 = 86_400_000;

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the Cardlink `created_at` form.
pub fn format_datetime(ms: Millis) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let secs = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
    }
    // Digit by digit: this runs for every object of every answer.
    let mut out = String::with_capacity(19);
    let mut two = |v: i64, sep: Option<char>| {
        out.push(char::from(b'0' + (v / 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
        if let Some(c) = sep {
            out.push(c);
        }
    };
    two(y / 100, None);
    two(y % 100, Some('-'));
    two(m, Some('-'));
    two(d, Some(' '));
    two(secs / 3600, Some(':'));
    two(secs / 60 % 60, Some(':'));
    two(secs % 60, None);
    out
}

/// Which end of a date-only filter to take: the day's first or last millisecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayEdge {
    Start,
    End,
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]`, the ISO `T` form and an optional `Z` or
/// `±HH[:MM]` offset. Without an offset the time is UTC. A bare date maps to `edge` of that day.
pub fn parse_filter_date(text: &str, edge: DayEdge) -> Option<Millis> {
    let t = text.trim();
    // Every form is ASCII; refusing the rest first makes each byte offset below a char boundary.
    if !t.is_ascii() {
        return None;
    }
    let b = t.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(&t[0..4])?, num(&t[5..7])?, num(&t[8..10])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let day_start = days_from_civil(y, mo, d) * MS_PER_DAY;
    let rest = &t[10..];
    if rest.is_empty() {
        return Some(match edge {
            DayEdge::Start => day_start,
            DayEdge::End => day_start + MS_PER_DAY - 1,
        });
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    // Split off the offset: 'Z', or the last '+'/'-'.
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (sign, off) = (if &rest[i..i + 1] == "-" { -1 } else { 1 }, &rest[i + 1..]);
        let (oh, om) = match off.split_once(':') {
            Some((h, m)) => (num(h)?, num(m)?),
            None if off.len() == 4 => (num(&off[..2])?, num(&off[2..])?),
            None => (num(off)?, 0),
        };
        if oh > 23 || om > 59 {
            return None;
        }
        (&rest[..i], sign * (oh * 3600 + om * 60) * 1000)
    } else {
        (rest, 0)
    };
    let mut parts = clock.splitn(3, ':');
    let h = num(parts.next()?)?;
    let mi = num(parts.next()?)?;
    let (s, frac_ms) = match parts.next() {
        None => (0, 0),
        Some(sec) => match sec.split_once('.') {
            None => (num(sec)?, 0),
            Some((s, f)) => {
                num(f)?;
                let ms = format!("{:0<3}", &f[..f.len().min(3)]);
                (num(s)?, num(&ms)?)
            }
        },
    };
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(day_start + (h * 3600 + mi * 60 + s) * 1000 + frac_ms - offset_ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_like_laravel() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(1_605_105_980_000), "2020-11-11 14:46:20");
    }

    #[test]
    fn parses_every_filter_form() {
        let base = 1_605_105_980_000;
        for text in [
            "2020-11-11 14:46:20",
            "2020-11-11T14:46:20",
            "2020-11-11T14:46:20Z",
            "2020-11-11T14:46:20.000000Z",
            "2020-11-11T17:46:20+03:00",
            "2020-11-11T17:46:20+0300",
            "2020-11-11 11:46:20-03",
        ] {
            assert_eq!(
                parse_filter_date(text, DayEdge::Start),
                Some(base),
                "{text}"
            );
        }
        assert_eq!(
            parse_filter_date("2020-11-11", DayEdge::Start),
            Some(1_605_052_800_000)
        );
        assert_eq!(
            parse_filter_date("2020-11-11", DayEdge::End),
            Some(1_605_052_800_000 + MS_PER_DAY - 1)
        );
        assert_eq!(
            parse_filter_date("2020-11-11 14:46", DayEdge::Start),
            Some(base - 20_000)
        );
    }

    #[test]
    fn refuses_bad_dates() {
        for text in [
            "",
            "yesterday",
            "2020-13-01",
            "2021-02-29",
            "2020-11-11 25:00:00",
            "2020-11-11X10:00",
            "2020/11/11",
            "2020-11-11 10:00:00+99",
            "2024-01-0\u{e9}",
            "2024-01-01T10:00+1\u{e9}2",
            "\u{e9}\u{e9}-01-01",
        ] {
            assert_eq!(parse_filter_date(text, DayEdge::Start), None, "{text}");
        }
    }

    proptest! {
        /// Whatever a client sends as a date filter, the parser answers and never panics.
        #[test]
        fn any_text_is_parsed_or_refused(text in "\\PC{0,40}", start in any::<bool>()) {
            let edge = if start { DayEdge::Start } else { DayEdge::End };
            let _ = parse_filter_date(&text, edge);
        }

        /// Date-shaped text with multi-byte characters where offsets are taken.
        #[test]
        fn date_shaped_text_never_panics(text in "[0-9]{4}-[0-9é]{2}-[0-9é]{2}[T Z+:.0-9é\u{3000}-]{0,20}") {
            let _ = parse_filter_date(&text, DayEdge::Start);
        }

        #[test]
        fn format_then_parse_round_trips(secs in 0i64..4_102_444_800) {
            let ms = secs * 1000;
            prop_assert_eq!(parse_filter_date(&format_datetime(ms), DayEdge::Start), Some(ms));
        }
    }
}
