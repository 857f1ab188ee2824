//! The console's SQL reads: payouts.
