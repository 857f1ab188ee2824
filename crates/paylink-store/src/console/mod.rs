//! The operator console's SQL: the audit log, and the console's own reads (searches across
//! merchants, queues, overview figures).

mod disputes;
mod merchants;
mod overview;
mod payouts;
mod postbacks;

pub use payouts::{FxRateAt, QueuedPayout};

use crate::sql::{Columns, Statement, Value};
use crate::{Store, StoreError};
use paylink_core::audit::AuditEntry;
use paylink_core::time::Millis;

pub(crate) fn push_audit(out: &mut Vec<Statement>, e: &AuditEntry) {
    out.push(Statement::new(
        "INSERT INTO audit_log (id, at, actor, role, address, action, target, before_state,
             after_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            e.id.as_str().into(),
            e.at.into(),
            e.actor.as_str().into(),
            e.role.as_str().into(),
            e.address.as_str().into(),
            e.action.as_str().into(),
            e.target.as_str().into(),
            e.before.as_str().into(),
            e.after.as_str().into(),
        ],
    ));
}

/// What the audit log is searched by; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exactly this actor (an operator's email, `cli@user`).
    pub actor: Option<String>,
    /// Actions starting with this (`payout.` for every payout action).
    pub action: Option<String>,
    /// Exactly this target.
    pub target: Option<String>,
    /// From this instant (inclusive) ...
    pub from: Option<Millis>,
    /// ... to this one (inclusive).
    pub to: Option<Millis>,
    /// Only entries written before this one (its `seq`): the next page.
    pub before: Option<i64>,
}

fn entry(r: &dyn Columns) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.i64("seq")?,
        id: r.text("id")?,
        at: r.i64("at")?,
        actor: r.text("actor")?,
        role: r.text("role")?,
        address: r.text("address")?,
        action: r.text("action")?,
        target: r.text("target")?,
        before: r.text("before_state")?,
        after: r.text("after_state")?,
    })
}

/// `LIKE` text matching `prefix` literally, then anything.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// The newest `limit` audit entries matching `filter`, newest first.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, id, at, actor, role, address, action, target, before_state, after_state
             FROM audit_log WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut arg = |sql: &mut String, text: &str, value: Value| {
            args.push(value);
            sql.push_str(&text.replace('?', &format!("${}", args.len())));
        };
        if let Some(a) = &filter.actor {
            arg(&mut sql, " AND actor = ?", a.as_str().into());
        }
        if let Some(a) = &filter.action {
            arg(
                &mut sql,
                " AND action LIKE ? ESCAPE '\\'",
                like_prefix(a).into(),
            );
        }
        if let Some(t) = &filter.target {
            arg(&mut sql, " AND target = ?", t.as_str().into());
        }
        if let Some(f) = filter.from {
            arg(&mut sql, " AND at >= ?", f.into());
        }
        if let Some(t) = filter.to {
            arg(&mut sql, " AND at <= ?", t.into());
        }
        if let Some(seq) = filter.before {
            arg(&mut sql, " AND seq < ?", seq.into());
        }
        arg(&mut sql, " ORDER BY seq DESC LIMIT ?", limit.into());
        self.fetch(&sql, &args, entry).await
    }
}
