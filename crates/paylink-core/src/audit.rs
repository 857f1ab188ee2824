//! Operators and their audit trail. An operator acts in the console (as `admin` or `support`)
//! or with the CLI (as `cli@<host user>`, who may do everything: whoever runs the CLI holds the
//! database and the keys anyway). Every action an operator takes is recorded in the same plan
//! as its effect: who, when, what, on which object, the state before and after, from which
//! address. The log is append-only, like the ledger.

use crate::error::DomainError;
use crate::id::random_base62;
use crate::time::Millis;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including managing operators.
    Admin,
    /// Reads everything, answers disputes, redelivers postbacks; moves no money and changes no
    /// merchant or setting.
    Support,
    /// The command line on the instance's host: everything.
    Cli,
    /// paylink's own workers, carrying out an operator's earlier decision.
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Support => "support",
            Role::Cli => "cli",
            Role::System => "system",
        }
    }

    /// The roles a console account can hold.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Admin, Role::Support]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// The kinds of action, by the least role that may take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Answer disputes, redeliver postbacks.
    Support,
    /// Anything that moves money or changes a merchant, a setting or an operator.
    Admin,
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The operator's email, `cli@<user>`, or `paylink@<task>` for a worker.
    pub name: String,
    pub role: Role,
    /// The client address of a console request; empty for the CLI.
    pub address: String,
}

impl Actor {
    pub fn operator(email: &str, role: Role, address: &str) -> Actor {
        Actor {
            name: email.to_string(),
            role,
            address: address.to_string(),
        }
    }

    /// The CLI run by `user` on the host.
    pub fn cli(user: &str) -> Actor {
        Actor {
            name: format!("cli@{user}"),
            role: Role::Cli,
            address: String::new(),
        }
    }

    /// A worker of this instance (`paylink@<task>`), acting on what an operator decided.
    pub fn system(task: &str) -> Actor {
        Actor {
            name: format!("paylink@{task}"),
            role: Role::System,
            address: String::new(),
        }
    }

    /// The console operator's email; `None` for the CLI and the workers, who have no account.
    pub fn operator_email(&self) -> Option<&str> {
        matches!(self.role, Role::Admin | Role::Support).then_some(self.name.as_str())
    }

    pub fn may(&self, power: Power) -> bool {
        match power {
            Power::Support => true,
            Power::Admin => matches!(self.role, Role::Admin | Role::Cli),
        }
    }

    /// [`DomainError::NotPermitted`] unless the actor's role gives `power`.
    pub fn require(&self, power: Power) -> Result<(), DomainError> {
        if self.may(power) {
            Ok(())
        } else {
            Err(DomainError::NotPermitted)
        }
    }

    /// The record of this actor taking `action` on `target` at `now`, `before` → `after`
    /// (short, human-readable descriptions of the changed state; empty when there was none).
    pub fn record(
        &self,
        action: &str,
        target: &str,
        before: impl Into<String>,
        after: impl Into<String>,
        now: Millis,
    ) -> AuditEntry {
        AuditEntry {
            seq: 0,
            id: random_base62(&mut rand::thread_rng(), 20),
            at: now,
            actor: self.name.clone(),
            role: self.role.as_str().to_string(),
            address: self.address.clone(),
            action: action.to_string(),
            target: target.to_string(),
            before: before.into(),
            after: after.into(),
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The line's number in the log, in the order lines were written (0 until stored).
    pub seq: i64,
    /// Random, unique.
    pub id: String,
    pub at: Millis,
    pub actor: String,
    pub role: String,
    pub address: String,
    /// A dotted name: `merchant.verify`, `payout.approve`, `fx.set`, ...
    pub action: String,
    /// The object acted on: a merchant, payout, dispute id; a currency pair; a bank.
    pub target: String,
    pub before: String,
    pub after: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_may_support_but_not_admin_and_the_cli_may_everything() {
        let support = Actor::operator("s@example.com", Role::Support, "10.0.0.1");
        assert!(support.may(Power::Support));
        assert_eq!(
            support.require(Power::Admin),
            Err(DomainError::NotPermitted)
        );
        let admin = Actor::operator("a@example.com", Role::Admin, "10.0.0.1");
        assert!(admin.may(Power::Admin));
        let cli = Actor::cli("root");
        assert_eq!(cli.name, "cli@root");
        assert!(cli.may(Power::Admin));
    }

    #[test]
    fn only_console_roles_parse() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("support"), Some(Role::Support));
        assert_eq!(Role::parse("cli"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn a_record_names_actor_action_target_and_the_change() {
        let e = Actor::operator("a@example.com", Role::Admin, "10.0.0.9").record(
            "merchant.verify",
            "m_1",
            "verified=false",
            "verified=true",
            42,
        );
        assert_eq!(
            (e.actor.as_str(), e.role.as_str(), e.address.as_str()),
            ("a@example.com", "admin", "10.0.0.9")
        );
        assert_eq!(
            (e.action.as_str(), e.target.as_str()),
            ("merchant.verify", "m_1")
        );
        assert_eq!(
            (e.before.as_str(), e.after.as_str(), e.at),
            ("verified=false", "verified=true", 42)
        );
        assert_eq!(e.id.len(), 20);
    }
}
