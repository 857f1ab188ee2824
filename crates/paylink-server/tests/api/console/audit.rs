//! Console tests: audit.
