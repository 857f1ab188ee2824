//! The console's reads: postbacks.
