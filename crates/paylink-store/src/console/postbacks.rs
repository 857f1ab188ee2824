//! The console's SQL reads: postbacks.
