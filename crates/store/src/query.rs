//! The operator's queries: [`Search`] (filtered, paged listings) and [`StateCount`] (how many
//! aggregates of a kind are in each state). Read-only; flows never use them.

use sqlx::{AnyPool, Row};

use crate::rows::{record_from_row, RECORD_COLUMNS};
use crate::{Kind, Listing, Record, StoreError};

/// The most rows one [`Search`] returns.
pub const MAX_SEARCH_LIMIT: u32 = 1_000;

/// What an operator looks for among the aggregates of one kind. Every filter that is set must
/// match; rows come newest first (by creation time, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// The flow to search.
    pub kind: Kind,
    /// Only aggregates in this state (the short state name, e.g. `"completed"`).
    pub state: Option<String>,
    /// Only finished (`true`) or unfinished (`false`) aggregates.
    pub terminal: Option<bool>,
    /// Only this client's aggregates (its node id, hex).
    pub client_node_id: Option<String>,
    /// Only aggregates created at or after this time (Unix milliseconds).
    pub created_from_unix_ms: Option<u64>,
    /// Only aggregates created before this time (Unix milliseconds).
    pub created_before_unix_ms: Option<u64>,
    /// Only aggregates whose id contains this text (compared case-insensitively; `%` and `_`
    /// match themselves).
    pub id_contains: Option<String>,
    /// At most this many rows (capped at [`MAX_SEARCH_LIMIT`]).
    pub limit: u32,
    /// Skip this many matching rows first (paging).
    pub offset: u32,
}

impl Search {
    /// Every aggregate of `kind`, newest first, at most `limit`.
    pub fn new(kind: Kind, limit: u32) -> Search {
        Search {
            kind,
            state: None,
            terminal: None,
            client_node_id: None,
            created_from_unix_ms: None,
            created_before_unix_ms: None,
            id_contains: None,
            limit,
            offset: 0,
        }
    }
}

/// How many aggregates of one kind are in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// The short state name.
    pub state: String,
    /// Whether aggregates in this state are finished.
    pub terminal: bool,
    /// How many there are.
    pub count: u64,
}

/// One client's flows: how many of each kind, how many unfinished, and when one last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientActivity {
    /// The client's node id.
    pub client_node_id: String,
    /// The latest change of any of its flows, in Unix milliseconds.
    pub last_activity_unix_ms: u64,
    /// Per kind it has flows of, in kind order.
    pub counts: Vec<KindCount>,
}

/// How many flows of one kind a client has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCount {
    /// The kind.
    pub kind: Kind,
    /// All of them.
    pub total: u64,
    /// The unfinished ones.
    pub active: u64,
}

/// Escapes `%`, `_` and the escape character itself for `LIKE … ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for character in text.to_lowercase().chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

fn to_column(field: &'static str, value: u64) -> Result<i64, StoreError> {
    crate::rows::millis_to_column(field, value)
}

pub(crate) async fn search(pool: &AnyPool, search: &Search) -> Result<Listing<Record>, StoreError> {
    let mut conditions = vec!["kind = $1".to_owned()];
    let mut next = 2;
    let mut placeholder = |condition: &str| {
        let text = condition.replace('?', &format!("${next}"));
        next += 1;
        text
    };
    if search.state.is_some() {
        conditions.push(placeholder("state = ?"));
    }
    if search.terminal.is_some() {
        conditions.push(placeholder("terminal = ?"));
    }
    if search.client_node_id.is_some() {
        conditions.push(placeholder("client_node_id = ?"));
    }
    if search.created_from_unix_ms.is_some() {
        conditions.push(placeholder("created_at_unix_ms >= ?"));
    }
    if search.created_before_unix_ms.is_some() {
        conditions.push(placeholder("created_at_unix_ms < ?"));
    }
    if search.id_contains.is_some() {
        conditions.push(placeholder("LOWER(id) LIKE ? ESCAPE '\\'"));
    }
    let limit = placeholder("?");
    let offset = placeholder("?");
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM aggregates WHERE {} ORDER BY created_at_unix_ms DESC, id DESC LIMIT {limit} OFFSET {offset}",
        conditions.join(" AND ")
    );
    let mut query = sqlx::query(&sql).bind(search.kind.as_str());
    if let Some(state) = &search.state {
        query = query.bind(state.as_str());
    }
    if let Some(terminal) = search.terminal {
        query = query.bind(crate::rows::flag_to_column(terminal));
    }
    if let Some(client) = &search.client_node_id {
        query = query.bind(client.to_lowercase());
    }
    if let Some(from) = search.created_from_unix_ms {
        query = query.bind(to_column("created_from_unix_ms", from)?);
    }
    if let Some(before) = search.created_before_unix_ms {
        query = query.bind(to_column("created_before_unix_ms", before)?);
    }
    if let Some(text) = &search.id_contains {
        query = query.bind(like_pattern(text));
    }
    let rows = query
        .bind(i64::from(search.limit.min(MAX_SEARCH_LIMIT)))
        .bind(i64::from(search.offset))
        .fetch_all(pool)
        .await?;
    Ok(crate::sql_store::collect(&rows, record_from_row))
}

pub(crate) async fn count_by_state(pool: &AnyPool, kind: Kind) -> Result<Vec<StateCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT state, terminal, COUNT(*) AS how_many FROM aggregates WHERE kind = $1
         GROUP BY state, terminal ORDER BY state, terminal",
    )
    .bind(kind.as_str())
    .fetch_all(pool)
    .await?;
    let mut counts = Vec::with_capacity(rows.len());
    for row in &rows {
        let reader = crate::rows::RowReader::new(row, "aggregates", format!("{kind} state count"));
        let count: i64 = row.try_get("how_many")?;
        counts.push(StateCount {
            state: reader.text("state")?,
            terminal: reader.flag("terminal")?,
            count: u64::try_from(count).unwrap_or(0),
        });
    }
    Ok(counts)
}

pub(crate) async fn clients(pool: &AnyPool, limit: u32, offset: u32) -> Result<Vec<ClientActivity>, StoreError> {
    let rows = sqlx::query(
        "SELECT client_node_id, MAX(updated_at_unix_ms) AS last_activity FROM aggregates
         WHERE client_node_id IS NOT NULL GROUP BY client_node_id
         ORDER BY last_activity DESC, client_node_id LIMIT $1 OFFSET $2",
    )
    .bind(i64::from(limit.min(MAX_SEARCH_LIMIT)))
    .bind(i64::from(offset))
    .fetch_all(pool)
    .await?;
    let mut clients = Vec::with_capacity(rows.len());
    for row in &rows {
        let reader = crate::rows::RowReader::new(row, "aggregates", "client activity".to_owned());
        let client_node_id = reader.text("client_node_id")?;
        let last_activity: i64 = row.try_get("last_activity")?;
        let count_rows = sqlx::query(
            "SELECT kind, COUNT(*) AS total, SUM(CASE WHEN terminal = 0 THEN 1 ELSE 0 END) AS active
             FROM aggregates WHERE client_node_id = $1 GROUP BY kind ORDER BY kind",
        )
        .bind(client_node_id.as_str())
        .fetch_all(pool)
        .await?;
        let mut counts = Vec::with_capacity(count_rows.len());
        for count in &count_rows {
            let reader = crate::rows::RowReader::new(count, "aggregates", format!("{client_node_id} counts"));
            let total: i64 = count.try_get("total")?;
            let active: i64 = count.try_get("active")?;
            counts.push(KindCount {
                kind: reader.kind("kind")?,
                total: u64::try_from(total).unwrap_or(0),
                active: u64::try_from(active).unwrap_or(0),
            });
        }
        counts.sort_by_key(|count| count.kind);
        clients.push(ClientActivity {
            client_node_id,
            last_activity_unix_ms: u64::try_from(last_activity).unwrap_or(0),
            counts,
        });
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(super::like_pattern("AbC"), "%abc%");
        assert_eq!(super::like_pattern("5%_\\"), "%5\\%\\_\\\\%");
    }
}
