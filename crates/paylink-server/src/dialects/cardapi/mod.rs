//! The Card API v5 dialect (issue 12; `../shared/seeds/card-issuing-api.txt`,
//! `../shared/compat/card-api.md`): so far its request authentication.

pub mod jws;
