//! Merchant money over real HTTP: the balance, payouts (cards, SBP, personal accounts), their
//! rules, worker and webhooks, refunds and their postbacks, conversion into the balance
//! currency, settlement after a delay, and the races a balance must survive. Every test that
//! moves money ends with the ledger check (`paylink ledger check`) finding nothing wrong. The
//! helpers they share are the test app's (`harness/money.rs`).

mod balance;
mod fx;
mod payout_destinations;
mod payout_rules;
mod payout_webhook;
mod payouts;
mod races;
mod refunds;
mod settlement;
