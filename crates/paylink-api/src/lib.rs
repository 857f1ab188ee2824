//! Wire types of paylink's dialects, shared by the server (which renders them) and the SDK
//! (which parses them). Shapes follow the seed documents and the compat notes exactly.

pub mod cardlink;
pub mod decimal;
pub mod procard;

pub use decimal::Decimal;
