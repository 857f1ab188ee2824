//! What bills and payments share: their statuses (a bill's status is its payments') and the
//! ways a payer pays. Below both, so neither imports the other for them.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    New,
    Process,
    Underpaid,
    Success,
    Overpaid,
    Fail,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::New,
        PaymentStatus::Process,
        PaymentStatus::Underpaid,
        PaymentStatus::Success,
        PaymentStatus::Overpaid,
        PaymentStatus::Fail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::New => "NEW",
            PaymentStatus::Process => "PROCESS",
            PaymentStatus::Underpaid => "UNDERPAID",
            PaymentStatus::Success => "SUCCESS",
            PaymentStatus::Overpaid => "OVERPAID",
            PaymentStatus::Fail => "FAIL",
        }
    }

    /// Final states in which money was received.
    pub fn brings_money(self) -> bool {
        matches!(
            self,
            PaymentStatus::Success | PaymentStatus::Underpaid | PaymentStatus::Overpaid
        )
    }
}

impl FromStr for PaymentStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        PaymentStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    BankCard,
    Sbp,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::BankCard => "BANK_CARD",
            PaymentMethod::Sbp => "SBP",
        }
    }
}

impl FromStr for PaymentMethod {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BANK_CARD" | "CARD" => Ok(PaymentMethod::BankCard),
            "SBP" => Ok(PaymentMethod::Sbp),
            _ => Err(()),
        }
    }
}
