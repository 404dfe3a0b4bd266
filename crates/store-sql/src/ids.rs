//! Lists bound into statements whose text depends on the list's length, kept to a handful
//! of texts so each stays prepared in the connection's statement cache: `IN (…)` lists are
//! padded to a power of two by repeating the last id, and multi-row inserts go in chunks
//! whose lengths are powers of two.

use sqlx::{Database, Encode, QueryBuilder, Type};

/// The longest chunk [`pow2_chunks`] yields.
pub const MAX_ROWS_PER_INSERT: usize = 128;

/// Pushes `(id, id, …)`; `ids` must not be empty.
pub fn push_ids<'a, DB, T>(qb: &mut QueryBuilder<'a, DB>, ids: &[T])
where
    DB: Database,
    T: Copy + Send + 'a + Encode<'a, DB> + Type<DB>,
{
    debug_assert!(!ids.is_empty(), "an empty id list");
    let last = ids.len().saturating_sub(1);
    let mut list = qb.separated(", ");
    list.push_unseparated("(");
    for i in 0..ids.len().next_power_of_two() {
        list.push_bind(ids[i.min(last)]);
    }
    list.push_unseparated(")");
}

/// `rows` in consecutive chunks of 128, 64, …, 1 rows (the largest that fits first), in
/// order.
pub fn pow2_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = MAX_ROWS_PER_INSERT.min(1 << rows.len().ilog2());
        let (chunk, rest) = rows.split_at(n);
        rows = rest;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_padded_to_a_power_of_two() {
        let ids = [1_i64, 2, 3];
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("SELECT 1 WHERE x IN ");
        push_ids(&mut qb, &ids);
        assert_eq!(qb.sql(), "SELECT 1 WHERE x IN (?, ?, ?, ?)");
        let mut qb = QueryBuilder::<sqlx::Postgres>::new("SELECT 1 WHERE x IN ");
        push_ids(&mut qb, &ids[..1]);
        assert_eq!(qb.sql(), "SELECT 1 WHERE x IN ($1)");
    }

    #[test]
    fn chunks_are_powers_of_two_in_order() {
        let rows: Vec<u32> = (0..300).collect();
        let lens: Vec<usize> = pow2_chunks(&rows).map(<[u32]>::len).collect();
        assert_eq!(lens, [128, 128, 32, 8, 4]);
        assert_eq!(pow2_chunks(&rows).flatten().copied().collect::<Vec<_>>(), rows);
        assert_eq!(pow2_chunks::<u32>(&[]).count(), 0);
    }
}
