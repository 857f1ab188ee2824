//! Work that runs beside the HTTP server: the outbox dispatcher and the money worker. Each is a
//! loop that wakes when told (or polls), claims due rows with leases and calls the operations.

pub mod dispatcher;
pub mod money;
