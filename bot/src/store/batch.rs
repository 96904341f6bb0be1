//! Placeholders for statements about many rows at once (`IN (…)` lists, multi-row `VALUES`),
//! which both backends accept with `$N` numbering, and how many values one such statement
//! binds at most ([`MOST`]).

use std::fmt::Write as _;

/// Most values one statement binds; callers split longer lists into statements of this many
/// (fewer for rows of several values). Both backends take far more (SQLite 32 766, PostgreSQL
/// 65 535), but SQLite finds each named parameter (`$N`) by walking the statement's list of
/// names, so binding costs the square of their number: with 3 500 values in a statement, a
/// seventh of the process's CPU while firing reminders went to that walk (the reminders
/// benchmark, `BENCHMARKS.md`).
/// Lists of this size also repeat, so their prepared statements are reused from the cache.
pub(crate) const MOST: usize = 256;

/// How many rows of `width` values one statement takes.
pub(crate) fn rows_per_statement(width: usize) -> usize {
    (MOST / width.max(1)).max(1)
}

/// `$first, $first+1, …`: `count` placeholders.
pub(crate) fn list(first: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 5);
    for n in first..first + count {
        if n > first {
            out.push_str(", ");
        }
        let _ = write!(out, "${n}");
    }
    out
}

/// `($first, …), (…)`: `rows` rows of `width` placeholders each, numbered on from `first`.
pub(crate) fn rows(first: usize, width: usize, rows: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&list(first + row * width, width));
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_run_on_across_rows() {
        assert_eq!(list(3, 3), "$3, $4, $5");
        assert_eq!(list(1, 0), "");
        assert_eq!(rows(2, 2, 2), "($2, $3), ($4, $5)");
    }
}
