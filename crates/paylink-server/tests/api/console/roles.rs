//! Console tests: roles.
