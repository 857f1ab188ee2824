//! The money rules an operator changes while the instance runs: how long received money is
//! held before it settles, and the payout rules (each direction's currencies, bounds and fee;
//! the moderation threshold; the default limits). The configuration file gives the starting
//! rules; once an operator saves rules in the console they are kept in the database (as the
//! text below, one `name = value` line each) and every process uses them.

use crate::error::{DomainError, Rule};
use crate::money::{Currency, Rate};
use crate::payout::{DirectionRules, PayoutRules};
use crate::time::Millis;

/// The longest settle delay: 90 days.
pub const MAX_SETTLE_AFTER_MS: Millis = 90 * 24 * 60 * 60 * 1000;
/// The largest amount any rule names (minor units): 10^13, a hundred billion RUB.
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyRules {
    /// How long received money stays in hold before it becomes available (0: at once).
    pub settle_after_ms: Millis,
    pub payouts: PayoutRules,
}

fn invalid(field: &'static str, kind: Rule) -> DomainError {
    DomainError::Invalid { field, kind }
}

impl MoneyRules {
    /// Refuses rules that cannot work: a bound out of range, min above max, a fee of 100% or
    /// more, a direction without currencies.
    pub fn check(&self) -> Result<(), DomainError> {
        if !(0..=MAX_SETTLE_AFTER_MS).contains(&self.settle_after_ms) {
            return Err(invalid(
                "settle_after",
                Rule::Between {
                    min: 0,
                    max: MAX_SETTLE_AFTER_MS / 1000,
                },
            ));
        }
        let amount = |field, v: i64| {
            if (0..=MAX_AMOUNT).contains(&v) {
                Ok(())
            } else {
                Err(invalid(
                    field,
                    Rule::Between {
                        min: 0,
                        max: MAX_AMOUNT,
                    },
                ))
            }
        };
        for (d, [min, max, fixed, fee, currencies]) in [
            (
                &self.payouts.card,
                [
                    "card_min",
                    "card_max",
                    "card_fee_fixed",
                    "card_fee",
                    "card_currencies",
                ],
            ),
            (
                &self.payouts.sbp,
                [
                    "sbp_min",
                    "sbp_max",
                    "sbp_fee_fixed",
                    "sbp_fee",
                    "sbp_currencies",
                ],
            ),
        ] {
            amount(min, d.min)?;
            amount(max, d.max)?;
            amount(fixed, d.fee_fixed)?;
            if d.min < 1 || d.min > d.max {
                return Err(invalid(
                    min,
                    Rule::Refused {
                        reason: "the smallest payout must be at least 0.01 and at most the largest"
                            .into(),
                    },
                ));
            }
            if !(0..10_000).contains(&d.fee_rate.bps()) {
                return Err(invalid(fee, Rule::Between { min: 0, max: 99 }));
            }
            if d.currencies.is_empty() {
                return Err(invalid(currencies, Rule::Required));
            }
        }
        amount("moderation_threshold", self.payouts.moderation_threshold)?;
        for (field, limit) in [
            ("daily_limit", self.payouts.daily_limit),
            ("monthly_limit", self.payouts.monthly_limit),
        ] {
            if let Some(l) = limit {
                amount(field, l)?;
            }
        }
        Ok(())
    }

    /// The stored text form.
    pub fn to_text(&self) -> String {
        let mut out = format!("settle_after_ms = {}\n", self.settle_after_ms);
        for (name, d) in [("card", &self.payouts.card), ("sbp", &self.payouts.sbp)] {
            let codes: Vec<&str> = d.currencies.iter().map(|c| c.code()).collect();
            out.push_str(&format!(
                "{name}.enabled = {}\n{name}.currencies = {}\n{name}.min = {}\n{name}.max = {}\n\
                 {name}.fee_bps = {}\n{name}.fee_fixed = {}\n",
                d.enabled,
                codes.join(","),
                d.min,
                d.max,
                d.fee_rate.bps(),
                d.fee_fixed
            ));
        }
        let limit = |l: Option<i64>| l.map_or_else(|| "none".to_string(), |v| v.to_string());
        out.push_str(&format!(
            "moderation_threshold = {}\ndaily_limit = {}\nmonthly_limit = {}\n",
            self.payouts.moderation_threshold,
            limit(self.payouts.daily_limit),
            limit(self.payouts.monthly_limit)
        ));
        out
    }

    /// Reads the stored text form; every line must be there, once, and the rules must pass
    /// [`MoneyRules::check`]. `None` for anything else (the caller keeps the rules it had).
    pub fn from_text(text: &str) -> Option<MoneyRules> {
        let mut values = std::collections::HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=')?;
            if values.insert(k.trim(), v.trim()).is_some() {
                return None;
            }
        }
        let int = |k: &str| values.get(k)?.parse::<i64>().ok();
        let limit = |k: &str| match *values.get(k)? {
            "none" => Some(None),
            v => v.parse::<i64>().ok().map(Some),
        };
        let direction = |name: &str| -> Option<DirectionRules> {
            let currencies = values
                .get(format!("{name}.currencies").as_str())?
                .split(',')
                .map(|c| c.trim().parse::<Currency>().ok())
                .collect::<Option<Vec<_>>>()?;
            Some(DirectionRules {
                enabled: values
                    .get(format!("{name}.enabled").as_str())?
                    .parse()
                    .ok()?,
                currencies,
                min: int(&format!("{name}.min"))?,
                max: int(&format!("{name}.max"))?,
                fee_rate: Rate::from_bps(int(&format!("{name}.fee_bps"))?)?,
                fee_fixed: int(&format!("{name}.fee_fixed"))?,
            })
        };
        let rules = MoneyRules {
            settle_after_ms: int("settle_after_ms")?,
            payouts: PayoutRules {
                card: direction("card")?,
                sbp: direction("sbp")?,
                moderation_threshold: int("moderation_threshold")?,
                daily_limit: limit("daily_limit")?,
                monthly_limit: limit("monthly_limit")?,
            },
        };
        (values.len() == 16 && rules.check().is_ok()).then_some(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> MoneyRules {
        let d = |min, max, bps, fixed| DirectionRules {
            enabled: true,
            currencies: vec![Currency::Rub],
            min,
            max,
            fee_rate: Rate::from_bps(bps).unwrap(),
            fee_fixed: fixed,
        };
        MoneyRules {
            settle_after_ms: 86_400_000,
            payouts: PayoutRules {
                card: d(10_000, 15_000_000, 200, 5_000),
                sbp: d(1_000, 100_000_000, 100, 0),
                moderation_threshold: 50_000_000,
                daily_limit: Some(300_000_000),
                monthly_limit: None,
            },
        }
    }

    #[test]
    fn the_text_form_round_trips() {
        let mut r = rules();
        r.payouts.sbp.currencies = vec![Currency::Rub, Currency::Kzt];
        r.payouts.card.enabled = false;
        assert_eq!(MoneyRules::from_text(&r.to_text()), Some(r));
    }

    #[test]
    fn a_missing_repeated_or_unknown_line_is_refused() {
        let text = rules().to_text();
        let missing: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(MoneyRules::from_text(&missing), None);
        assert_eq!(
            MoneyRules::from_text(&format!("{text}card.min = 5\n")),
            None
        );
        assert_eq!(MoneyRules::from_text(&format!("{text}extra = 1\n")), None);
        assert_eq!(MoneyRules::from_text(&text.replace("RUB", "XXX")), None);
    }

    #[test]
    fn rules_that_cannot_work_are_refused() {
        let mut r = rules();
        r.payouts.card.min = r.payouts.card.max + 1;
        assert!(r.check().is_err());
        let mut r = rules();
        r.payouts.sbp.fee_rate = Rate::from_bps(10_000).unwrap();
        assert!(r.check().is_err());
        let mut r = rules();
        r.settle_after_ms = -1;
        assert!(r.check().is_err());
        let mut r = rules();
        r.payouts.card.currencies.clear();
        assert!(r.check().is_err());
        let mut r = rules();
        r.payouts.daily_limit = Some(-5);
        assert!(r.check().is_err());
        assert!(rules().check().is_ok());
    }
}
