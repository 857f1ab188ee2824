//! Console tests: payouts.
