//! The console's reads: audit.
