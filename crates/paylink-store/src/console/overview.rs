//! The console's SQL reads: overview.
