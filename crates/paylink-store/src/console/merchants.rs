//! The console's SQL reads: merchants.
