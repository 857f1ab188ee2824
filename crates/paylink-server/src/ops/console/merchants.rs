//! The console's reads: merchants.
