//! What the operator console reads across merchants: searches, queues, overview figures. The
//! console's actions are the ordinary operations (they take the operator as [`Actor`] and
//! audit themselves); these are its reads.
//!
//! [`Actor`]: paylink_core::audit::Actor

pub mod audit;
pub mod disputes;
pub mod merchants;
pub mod money;
pub mod overview;
pub mod payouts;
pub mod postbacks;

use paylink_core::time::Millis;

/// Where a page of a list in `(created_at, id)` order starts: after this row. Written
/// `<created_at>.<id>` in the console's links and on the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub at: Millis,
    pub id: String,
}

impl After {
    /// From its text, when `id_ok` takes the id; `None` for anything else (the list then
    /// starts at its beginning).
    pub fn parse(text: &str, id_ok: impl Fn(&str) -> bool) -> Option<After> {
        let (at, id) = text.split_once('.')?;
        Some(After {
            at: at.parse().ok()?,
            id: id_ok(id).then(|| id.to_string())?,
        })
    }

    fn key(after: Option<&After>) -> Option<(Millis, &str)> {
        after.map(|a| (a.at, a.id.as_str()))
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.at, self.id)
    }
}

/// One page of a list, read a row beyond what it shows so that whether another page follows
/// is known without a count (a full last page links to no empty one).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next: Option<After>,
}

impl<T> Page<T> {
    /// `read` holds up to `limit + 1` rows; `after` is where a row's successors start.
    fn of(mut read: Vec<T>, limit: i64, after: impl Fn(&T) -> After) -> Page<T> {
        let more = read.len() as i64 > limit;
        read.truncate(limit.max(0) as usize);
        let next = read.last().filter(|_| more).map(after);
        Page { items: read, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(rows: i64, limit: i64) -> Page<i64> {
        Page::of((0..rows).collect(), limit, |n| After {
            at: *n,
            id: format!("r{n}"),
        })
    }

    #[test]
    fn a_next_page_only_when_a_row_is_left_over() {
        assert_eq!(page(3, 2).items, [0, 1]);
        assert_eq!(
            page(3, 2).next.map(|a| a.to_string()).as_deref(),
            Some("1.r1")
        );
        assert!(page(2, 2).next.is_none(), "a full last page");
        assert!(page(0, 2).next.is_none());
    }

    #[test]
    fn a_cursor_reads_back_as_written_and_nothing_else() {
        let ok = |id: &str| id.len() == 3;
        let a = After::parse("1700000000123.abc", ok).unwrap();
        assert_eq!((a.at, a.id.as_str()), (1700000000123, "abc"));
        assert_eq!(After::parse(&a.to_string(), ok), Some(a));
        for bad in ["", "1700000000123", "x.abc", "1.abcd", ".abc", "1.", "1.ab"] {
            assert_eq!(After::parse(bad, ok), None, "{bad:?}");
        }
    }
}
