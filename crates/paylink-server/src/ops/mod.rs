//! The application layer: every operation exactly once. An operation loads the state it needs,
//! lets core decide, has the writer apply the plan and returns a typed result. Every surface
//! (the dialects, the payer pages, the sandbox, the workers and the CLI's admin commands) calls
//! these; none builds a plan or holds a business rule of its own.

pub mod accounts;
pub mod bills;
pub mod checkout;
pub mod console;
pub mod disputes;
pub mod fx;
pub mod idempotency;
pub mod issuing;
pub mod merchants;
pub mod money_rules;
pub mod operators;
pub mod payouts;
pub mod permanent_links;
pub mod refunds;
pub mod sbp_banks;
pub mod settlements;

use paylink_core::guard::Guard;
use paylink_core::DomainError;
use paylink_store::StoreError;
use thiserror::Error;

/// What an operation can fail with: the domain's refusal, or storage trouble (a 500).
#[derive(Debug, Error)]
pub enum OpError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OpError {
    /// A plan refused by `guard`: the refusal it stands for, else the store's failure.
    pub fn refused(guard: Guard) -> OpError {
        match guard.refusal() {
            Some(refusal) => OpError::Domain(refusal),
            None => OpError::Store(StoreError::GuardFailed(guard)),
        }
    }

    /// A plan the store did not apply: a guard's failure as [`OpError::refused`] tells it,
    /// anything else storage trouble.
    pub fn of_store(e: StoreError) -> OpError {
        match e {
            StoreError::GuardFailed(g) => OpError::refused(g),
            e => OpError::Store(e),
        }
    }
}
