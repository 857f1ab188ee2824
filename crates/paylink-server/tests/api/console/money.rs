//! Console tests: money.
