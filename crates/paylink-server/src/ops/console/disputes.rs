//! The console's reads: disputes.
