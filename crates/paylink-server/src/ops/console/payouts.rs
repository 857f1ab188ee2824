//! The console's reads: payouts.
