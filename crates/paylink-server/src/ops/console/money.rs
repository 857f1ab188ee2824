//! The console's reads: money.
