//! Every parser that reads client text, fed arbitrary bytes (as a client's lossy UTF-8 text)
//! and arbitrary Unicode: each answers `Some` or `None` and never panics.

use paylink_core::card::CardNumber;
use paylink_core::id::BillId;
use paylink_core::ledger::FxRate;
use paylink_core::money::{parse_minor, Amount, Rate};
use paylink_core::payout::Phone;
use paylink_core::time::{parse_filter_date, DayEdge};
use paylink_core::token::ApiToken;
use proptest::prelude::*;

fn every_parser(text: &str) {
    let _ = Amount::parse(text);
    for exponent in [0, 2, 3, 8] {
        let _ = parse_minor(text, exponent);
    }
    let _ = Rate::parse_percent(text);
    let _ = FxRate::parse(text);
    let _ = parse_filter_date(text, DayEdge::Start);
    let _ = parse_filter_date(text, DayEdge::End);
    let _ = CardNumber::parse(text);
    let _ = Phone::parse(text);
    let _ = ApiToken::parse(text);
    let _ = BillId::parse(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        every_parser(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_unicode(text in "\\PC{0,48}") {
        every_parser(&text);
    }

    /// Text near the accepted shapes, where offsets are taken: digits, separators, signs and
    /// multi-byte characters mixed.
    #[test]
    fn almost_valid_text(text in "[0-9 .,:+|\\-eTZé€\u{3000}]{0,32}") {
        every_parser(&text);
    }
}

#[test]
fn multibyte_text_where_offsets_are_taken_is_refused() {
    for text in [
        "2024-01-0é",
        "2024-01-01T10:00+1é2",
        "1é",
        "é.5",
        "4242 4242 4242 424é",
    ] {
        every_parser(text);
        assert_eq!(parse_filter_date(text, DayEdge::Start), None, "{text}");
    }
}
