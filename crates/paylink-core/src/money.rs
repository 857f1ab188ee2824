//! Money is integer minor units with a currency. Decimal text is parsed exactly at the edge;
//! more decimals than the currency has is an error, never a rounding.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    Rub,
    Usd,
    Eur,
    Kzt,
}

impl Currency {
    pub const ALL: [Currency; 4] = [Currency::Rub, Currency::Usd, Currency::Eur, Currency::Kzt];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Rub => "RUB",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Kzt => "KZT",
        }
    }

    /// Digits after the decimal point. All supported currencies have two.
    pub fn exponent(self) -> u32 {
        2
    }
}

impl FromStr for Currency {
    type Err = ();
    /// Case-insensitive: clients send `rub` and `RUB`.
    fn from_str(s: &str) -> Result<Self, ()> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A strictly positive amount in minor units, at most [`Amount::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// 99,999,999.99: the `decimal(10,2)` the Cardlink API documents.
    pub const MAX: i64 = 9_999_999_999;

    pub fn from_minor(minor: i64) -> Option<Amount> {
        (1..=Amount::MAX).contains(&minor).then_some(Amount(minor))
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses decimal text (`100`, `100.5`, `+1e+06`, ` 7.00 `) in a currency with two decimals.
    pub fn parse(text: &str) -> Option<Amount> {
        parse_minor(text, 2).and_then(Amount::from_minor)
    }

    /// Parses an amount as a person types it on a page: [`Amount::parse`], and also a comma
    /// before the decimals (`150,50`, what a Russian keypad gives) and spaces between groups
    /// of three digits (`1 500,00`, as a bank statement prints it). Text with both a comma and
    /// a dot, more than one of either, or spaces anywhere else is refused: `1,500.00` or
    /// `1 2,5` could mean two amounts.
    pub fn parse_written(text: &str) -> Option<Amount> {
        let text = text.trim();
        if text.matches([',', '.']).count() > 1 {
            return None;
        }
        let (whole, decimals) = match text.find([',', '.']) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        let groups: Vec<&str> = whole.split([' ', '\u{a0}', '\u{202f}']).collect();
        if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
            return None;
        }
        let whole = groups.concat();
        match decimals {
            Some(d) => Amount::parse(&format!("{whole}.{d}")),
            None => Amount::parse(&whole),
        }
    }
}

/// Exact decimal text → minor units with `exponent` digits. `None` for anything that is not a
/// plain decimal, has more precision than `exponent`, or overflows.
pub fn parse_minor(text: &str, exponent: u32) -> Option<i64> {
    let text = text.trim();
    let (negative, text) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part
        .bytes()
        .chain(frac_part.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // value = digits * 10^(exp - frac_len); minor = value * 10^exponent
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let shift = i64::from(exp) - frac_part.len() as i64 + i64::from(exponent);
    let mut minor: i128 = 0;
    for b in digits.bytes() {
        minor = minor.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        if minor > i128::from(i64::MAX) * 10 {
            return None;
        }
    }
    if minor != 0 {
        if shift >= 0 {
            for _ in 0..shift {
                minor = minor.checked_mul(10)?;
                if minor > i128::from(i64::MAX) {
                    return None;
                }
            }
        } else {
            for _ in 0..(-shift) {
                if minor % 10 != 0 {
                    return None; // more precision than the currency has
                }
                minor /= 10;
            }
        }
    }
    let minor = i64::try_from(minor).ok()?;
    Some(if negative { -minor } else { minor })
}

/// `12345` minor → `"123.45"`; always two decimals (balances are rendered like this).
pub fn format_fixed(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `12340` → `"123.4"`, `12300` → `"123"`: the shortest exact decimal, for JSON numbers.
pub fn format_short(minor: i64) -> String {
    let fixed = format_fixed(minor);
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// A fee rate in basis points (1/100 of a percent): 350 is 3.5%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(i64);

impl Rate {
    pub const ZERO: Rate = Rate(0);

    pub fn from_bps(bps: i64) -> Option<Rate> {
        (0..=10_000).contains(&bps).then_some(Rate(bps))
    }

    /// Percent text with at most two decimals: `"3.5"` → 350 bps.
    pub fn parse_percent(text: &str) -> Option<Rate> {
        parse_minor(text, 2).and_then(Rate::from_bps)
    }

    pub fn bps(self) -> i64 {
        self.0
    }

    /// The fee on `minor`, rounded half up to the minor unit.
    pub fn fee_on(self, minor: i64) -> i64 {
        div_round_half_up(i128::from(minor) * i128::from(self.0), 10_000)
    }

    /// The fee contained in a gross amount that already includes it: `gross * r / (1 + r)`.
    pub fn fee_within(self, gross: i64) -> i64 {
        div_round_half_up(
            i128::from(gross) * i128::from(self.0),
            10_000 + i128::from(self.0),
        )
    }
}

fn div_round_half_up(numerator: i128, denominator: i128) -> i64 {
    let q = (numerator * 2 + denominator) / (denominator * 2);
    i64::try_from(q).expect("fee never exceeds the amount it is taken from")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_an_amount_as_a_person_types_it() {
        let minor = |t: &str| Amount::parse_written(t).map(Amount::minor);
        assert_eq!(minor("150,50"), Some(15_050));
        assert_eq!(minor("150.5"), Some(15_050));
        assert_eq!(minor(" 1 500,00 "), Some(150_000));
        assert_eq!(minor("1\u{a0}500,00"), Some(150_000));
        assert_eq!(minor("1\u{202f}500"), Some(150_000));
        assert_eq!(minor("7"), Some(700));
        assert_eq!(minor("12 345 678,90"), Some(1_234_567_890));
        for refused in [
            "1,500.00", "1.500,00", "1,5,0", "150,505", "", ",", "abc", "-5,00", "1 2,5", "1  500",
            "1500 00", "1 500 0", "15 00,00",
        ] {
            assert_eq!(minor(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn parses_every_spelling_clients_send() {
        for (text, minor) in [
            ("100", 10000),
            ("100.0", 10000),
            ("100.50", 10050),
            ("100.5", 10050),
            ("1e+06", 100_000_000),
            ("1E6", 100_000_000),
            ("1.5e1", 1500),
            ("0.01", 1),
            (".5", 50),
            ("5.", 500),
            (" 7.00 ", 700),
            ("+3", 300),
            ("12345e-2", 12345),
            ("99999999.99", 9_999_999_999),
        ] {
            assert_eq!(
                Amount::parse(text).map(Amount::minor),
                Some(minor),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_valid_amount() {
        for text in [
            "",
            "abc",
            "-1",
            "0",
            "0.00",
            "100.123",
            "1e-3",
            "100000000",
            "1e400",
            "1,5",
            "1.2.3",
            "NaN",
            "inf",
            "--1",
            ".",
            "e5",
            "1e",
            "١٢٣",
        ] {
            assert_eq!(Amount::parse(text), None, "{text}");
        }
    }

    #[test]
    fn formats_for_json_and_for_balances() {
        assert_eq!(format_short(10050), "100.5");
        assert_eq!(format_short(10000), "100");
        assert_eq!(format_short(1), "0.01");
        assert_eq!(format_fixed(10050), "100.50");
        assert_eq!(format_fixed(0), "0.00");
        assert_eq!(format_fixed(-5), "-0.05");
    }

    #[test]
    fn fees_round_half_up() {
        let r = Rate::parse_percent("3.5").unwrap();
        assert_eq!(r.bps(), 350);
        assert_eq!(r.fee_on(10000), 350);
        assert_eq!(r.fee_on(1), 0); // 0.035 → 0
        assert_eq!(r.fee_on(15), 1); // 0.525 → 1
        assert_eq!(r.fee_within(10350), 350);
        assert_eq!(Rate::parse_percent("100.01"), None);
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(minor in 1i64..=Amount::MAX) {
            prop_assert_eq!(Amount::parse(&format_fixed(minor)).map(Amount::minor), Some(minor));
            prop_assert_eq!(Amount::parse(&format_short(minor)).map(Amount::minor), Some(minor));
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = Amount::parse(&text);
        }

        #[test]
        fn a_fee_never_exceeds_its_amount(minor in 0i64..=Amount::MAX, bps in 0i64..=10_000) {
            let r = Rate::from_bps(bps).unwrap();
            prop_assert!(r.fee_on(minor) <= minor);
            prop_assert!(r.fee_within(minor) <= minor);
        }
    }
}
