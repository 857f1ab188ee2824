//! The console's reads: overview.
