//! Console tests: merchants.
