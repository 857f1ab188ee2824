//! Console tests: postbacks.
