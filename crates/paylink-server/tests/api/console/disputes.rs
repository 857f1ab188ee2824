//! Console tests: disputes.
