//! Deciding what happens to a bill itself.

use crate::bill::Bill;
use crate::error::DomainError;
use crate::plan::Write;
use crate::time::Millis;

/// `bill/toggle_activity`: a finished NORMAL bill can be neither re-opened nor closed.
pub fn toggle(bill: &Bill, active: bool, now: Millis) -> Result<Write, DomainError> {
    if bill.is_finished() {
        return Err(DomainError::BillIsFinished);
    }
    Ok(Write::SetBillActive {
        bill_id: bill.id.clone(),
        active,
        now,
    })
}
