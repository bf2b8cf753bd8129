//! Conversions between Rust values and database columns, in both directions.
//!
//! Every integer column is a signed 64-bit `BIGINT` (SQLite `INTEGER`), because that is the
//! one integer type both databases share:
//!
//! * Millisecond timestamps are checked on the way in ([`millis_to_column`]) and must be
//!   non-negative on the way out, so their ordering in SQL (`deadline_unix_ms <= now`) is
//!   the ordering of the `u64` values.
//! * SCIDs use all 64 bits (24 block + 24 transaction + 16 output), so they are stored
//!   bit-for-bit: `u64` → `i64` with `as` and back. A SCID above `i64::MAX` is a negative
//!   number in the database. Only equality is ever asked of SCIDs, so that is harmless.
//!
//! Reading is where untrusted input enters: [`RowReader`] turns every bad value into a
//! [`CorruptRow`] that names the table, column and row.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{CorruptRow, Effect, HistoryEntry, Kind, Record, StoreError};

/// The aggregate columns, in the order every aggregate query selects them.
pub(crate) const RECORD_COLUMNS: &str = "kind, id, version, state, terminal, client_node_id, scid, \
     deadline_unix_ms, body, created_at_unix_ms, updated_at_unix_ms";

/// The history columns, in the order every history query selects them.
pub(crate) const HISTORY_COLUMNS: &str = "kind, id, seq, from_state, to_state, at_unix_ms, detail";

/// The effect columns, in the order every outbox query selects them.
pub(crate) const EFFECT_COLUMNS: &str =
    "effect_id, kind, aggregate_id, aggregate_version, body, created_at_unix_ms, attempts, next_attempt_unix_ms, last_error";

/// A millisecond timestamp as a column value, or [`StoreError::OutOfRange`].
pub(crate) fn millis_to_column(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field, value })
}

/// An optional millisecond timestamp as a column value.
pub(crate) fn optional_millis_to_column(field: &'static str, value: Option<u64>) -> Result<Option<i64>, StoreError> {
    value.map(|value| millis_to_column(field, value)).transpose()
}

/// A SCID as a column value: the same 64 bits read as signed (see the module doc).
pub(crate) fn scid_to_column(scid: u64) -> i64 {
    scid as i64
}

/// A flag as a column value (`SMALLINT`, 0 or 1, in both databases).
pub(crate) fn flag_to_column(flag: bool) -> i16 {
    i16::from(flag)
}

/// Reads the columns of one row, naming the row in every error.
pub(crate) struct RowReader<'r> {
    row: &'r AnyRow,
    table: &'static str,
    row_name: String,
}

impl<'r> RowReader<'r> {
    /// A reader whose errors name `row_name` (a key such as `kind/id`) in `table`.
    pub(crate) fn new(row: &'r AnyRow, table: &'static str, row_name: String) -> Self {
        RowReader { row, table, row_name }
    }

    fn corrupt(&self, column: &'static str, reason: impl ToString) -> CorruptRow {
        CorruptRow { table: self.table, column, row: self.row_name.clone(), reason: reason.to_string() }
    }

    pub(crate) fn text(&self, column: &'static str) -> Result<String, CorruptRow> {
        self.optional_text(column)?.ok_or_else(|| self.corrupt(column, "is NULL"))
    }

    pub(crate) fn optional_text(&self, column: &'static str) -> Result<Option<String>, CorruptRow> {
        self.row.try_get::<Option<String>, _>(column).map_err(|error| self.corrupt(column, error))
    }

    pub(crate) fn integer(&self, column: &'static str) -> Result<i64, CorruptRow> {
        self.optional_integer(column)?.ok_or_else(|| self.corrupt(column, "is NULL"))
    }

    pub(crate) fn optional_integer(&self, column: &'static str) -> Result<Option<i64>, CorruptRow> {
        self.row.try_get::<Option<i64>, _>(column).map_err(|error| self.corrupt(column, error))
    }

    /// A version or sequence number: at least 1.
    pub(crate) fn positive(&self, column: &'static str) -> Result<i64, CorruptRow> {
        let value = self.integer(column)?;
        if value < 1 {
            return Err(self.corrupt(column, format!("{value} is not a positive version")));
        }
        Ok(value)
    }

    pub(crate) fn millis(&self, column: &'static str) -> Result<u64, CorruptRow> {
        self.optional_millis(column)?.ok_or_else(|| self.corrupt(column, "is NULL"))
    }

    pub(crate) fn optional_millis(&self, column: &'static str) -> Result<Option<u64>, CorruptRow> {
        self.optional_integer(column)?
            .map(|value| {
                u64::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is a negative timestamp")))
            })
            .transpose()
    }

    pub(crate) fn optional_scid(&self, column: &'static str) -> Result<Option<u64>, CorruptRow> {
        // The inverse of `scid_to_column`: the same 64 bits read as unsigned.
        Ok(self.optional_integer(column)?.map(|value| value as u64))
    }

    pub(crate) fn count(&self, column: &'static str) -> Result<u32, CorruptRow> {
        let value = self.integer(column)?;
        u32::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is not a count")))
    }

    pub(crate) fn flag(&self, column: &'static str) -> Result<bool, CorruptRow> {
        match self.integer(column)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.corrupt(column, format!("{other} is not 0 or 1"))),
        }
    }

    pub(crate) fn kind(&self, column: &'static str) -> Result<Kind, CorruptRow> {
        let text = self.text(column)?;
        Kind::from_stored(&text).ok_or_else(|| self.corrupt(column, format!("`{text}` is not a known kind")))
    }

    pub(crate) fn json(&self, column: &'static str) -> Result<serde_json::Value, CorruptRow> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|error| self.corrupt(column, format!("not JSON: {error}")))
    }
}

/// The `kind/id` name of an aggregate row, read leniently so that it can label errors.
fn aggregate_row_name(row: &AnyRow, kind_column: &str, id_column: &str) -> String {
    let kind = row.try_get::<String, _>(kind_column).unwrap_or_else(|_| "?".to_owned());
    let id = row.try_get::<String, _>(id_column).unwrap_or_else(|_| "?".to_owned());
    format!("{kind}/{id}")
}

/// Decodes a row selected with [`RECORD_COLUMNS`].
pub(crate) fn record_from_row(row: &AnyRow) -> Result<Record, CorruptRow> {
    let reader = RowReader::new(row, "aggregates", aggregate_row_name(row, "kind", "id"));
    Ok(Record {
        kind: reader.kind("kind")?,
        id: reader.text("id")?,
        version: reader.positive("version")?,
        state: reader.text("state")?,
        terminal: reader.flag("terminal")?,
        client_node_id: reader.optional_text("client_node_id")?,
        scid: reader.optional_scid("scid")?,
        deadline_unix_ms: reader.optional_millis("deadline_unix_ms")?,
        body: reader.json("body")?,
        created_at_unix_ms: reader.millis("created_at_unix_ms")?,
        updated_at_unix_ms: reader.millis("updated_at_unix_ms")?,
    })
}

/// Decodes a row selected with [`HISTORY_COLUMNS`].
pub(crate) fn history_from_row(row: &AnyRow) -> Result<HistoryEntry, CorruptRow> {
    let seq = row.try_get::<i64, _>("seq").map(|seq| seq.to_string()).unwrap_or_else(|_| "?".to_owned());
    let reader = RowReader::new(row, "history", format!("{}#{seq}", aggregate_row_name(row, "kind", "id")));
    Ok(HistoryEntry {
        kind: reader.kind("kind")?,
        id: reader.text("id")?,
        seq: reader.positive("seq")?,
        from_state: reader.optional_text("from_state")?,
        to_state: reader.text("to_state")?,
        at_unix_ms: reader.millis("at_unix_ms")?,
        detail: reader.json("detail")?,
    })
}

/// Decodes a row selected with [`EFFECT_COLUMNS`].
pub(crate) fn effect_from_row(row: &AnyRow) -> Result<Effect, CorruptRow> {
    let effect_id = row.try_get::<i64, _>("effect_id").map(|id| id.to_string()).unwrap_or_else(|_| "?".to_owned());
    let reader = RowReader::new(row, "effects", format!("effect {effect_id}"));
    Ok(Effect {
        effect_id: reader.integer("effect_id")?,
        kind: reader.kind("kind")?,
        aggregate_id: reader.text("aggregate_id")?,
        aggregate_version: reader.positive("aggregate_version")?,
        body: reader.json("body")?,
        created_at_unix_ms: reader.millis("created_at_unix_ms")?,
        attempts: reader.count("attempts")?,
        next_attempt_unix_ms: reader.optional_millis("next_attempt_unix_ms")?,
        last_error: reader.optional_text("last_error")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scid_bits_survive_the_signed_column() {
        for scid in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX - 1, u64::MAX] {
            assert_eq!(scid_to_column(scid) as u64, scid);
        }
        assert_eq!(scid_to_column(u64::MAX), -1);
    }

    #[test]
    fn millis_above_i64_max_are_refused() {
        assert_eq!(millis_to_column("t", i64::MAX as u64).ok(), Some(i64::MAX));
        assert!(matches!(
            millis_to_column("deadline_unix_ms", u64::MAX),
            Err(StoreError::OutOfRange { field: "deadline_unix_ms", value: u64::MAX })
        ));
        assert!(optional_millis_to_column("t", None).is_ok_and(|value| value.is_none()));
    }
}
