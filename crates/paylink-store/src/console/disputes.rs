//! The console's SQL reads: disputes.
