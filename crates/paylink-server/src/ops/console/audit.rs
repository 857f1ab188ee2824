//! The console's reads: the audit log, a page at a time (newest first, keyset by `seq`, so
//! entries written meanwhile never shift a page), for every operator role.

use crate::ops::OpError;
use paylink_core::audit::{Actor, AuditEntry, Power};
use paylink_store::{AuditFilter, Page, Store};

/// Entries on one page of the console's log.
pub const PAGE: i64 = 100;

/// One page of the log.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// The `before` of the next (older) page, when there is one.
    pub next: Option<i64>,
}

/// The `limit` newest entries matching `filter` (below `filter.before`).
pub async fn page(
    store: &Store,
    actor: &Actor,
    filter: &AuditFilter,
    limit: i64,
) -> Result<AuditPage, OpError> {
    // Every operator may read the log (support too): it is how they see what happened.
    actor.require(Power::Support)?;
    let limit = limit.clamp(1, 1_000);
    let page = Page::of(
        store.audit_entries(filter, limit + 1).await?,
        limit as usize,
    );
    let next = page.next(|e| e.seq);
    Ok(AuditPage {
        entries: page.items,
        next,
    })
}
