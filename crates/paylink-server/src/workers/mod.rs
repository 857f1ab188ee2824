//! Work that runs beside the HTTP server: the outbox dispatcher (with the outbox's retention
//! beside it) and the money worker. Each is a loop that wakes when told (or polls), claims due
//! rows with leases and calls the operations.

pub mod dispatcher;
pub mod money;
pub mod retention;
