//! What an operator reads about the LSP's flows: LSPS1 orders and LSPS2 sessions listed,
//! searched and shown with their audit history, and how many flows are in each state.
//!
//! [`Operator`] is read-only and decodes the stored flows itself (the front ends never look
//! inside a stored body). The admin API serves it; the views serialise as its JSON.

mod views;

use std::sync::Arc;

use inbound_store::{Kind, Search, StateCount, Store, StoreError};
use serde::Deserialize;

use crate::lsps1::OrderBook;
use crate::lsps2::JitSession;
pub use views::{FlowDetail, HistoryView, OrderSummary, SessionSummary};

/// The listing size when a filter names none.
pub const DEFAULT_LIST_LIMIT: u32 = 100;

/// An operator's filter over one kind of flow (the admin API's query parameters). Every field
/// that is set must match; the listing is newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    /// Only flows in this state (`awaiting_payment`, `opening`, `completed`, … for orders;
    /// `awaiting_payment`, `awaiting_client`, `opening`, `forwarding`, `paid`, … for sessions).
    pub state: Option<String>,
    /// Only finished (`true`) or unfinished (`false`) flows.
    pub terminal: Option<bool>,
    /// Only this client's flows (its node id, hex).
    pub client: Option<String>,
    /// Only flows created at or after this time (Unix milliseconds).
    pub created_from: Option<u64>,
    /// Only flows created before this time (Unix milliseconds).
    pub created_before: Option<u64>,
    /// Only flows whose id contains this text.
    pub id: Option<String>,
    /// At most this many (default [`DEFAULT_LIST_LIMIT`], at most
    /// [`MAX_SEARCH_LIMIT`](inbound_store::MAX_SEARCH_LIMIT)).
    pub limit: Option<u32>,
    /// Skip this many first (paging).
    pub offset: Option<u32>,
}

impl ListFilter {
    fn search(&self, kind: Kind) -> Search {
        Search {
            kind,
            state: self.state.clone(),
            terminal: self.terminal,
            client_node_id: self.client.clone(),
            created_from_unix_ms: self.created_from,
            created_before_unix_ms: self.created_before,
            id_contains: self.id.clone(),
            limit: self.limit.unwrap_or(DEFAULT_LIST_LIMIT),
            offset: self.offset.unwrap_or(0),
        }
    }
}

/// A listing: the flows that decoded, and a line for each stored row that did not.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FlowList<T> {
    /// The flows, newest first.
    pub items: Vec<T>,
    /// Rows that could not be read (a corrupt row or body), by id and reason.
    pub unreadable: Vec<String>,
}

/// How many flows of each kind are in each state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FlowCounts {
    /// The store's kind name (`lsps1_order`, `lsps2_session`, …).
    pub kind: &'static str,
    /// Per state.
    pub states: Vec<StateCountView>,
}

/// One state's count.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateCountView {
    /// The short state name.
    pub state: String,
    /// Whether flows in this state are finished.
    pub terminal: bool,
    /// How many.
    pub count: u64,
}

impl From<StateCount> for StateCountView {
    fn from(count: StateCount) -> Self {
        StateCountView { state: count.state, terminal: count.terminal, count: count.count }
    }
}

/// One client as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClientView {
    /// The client's node id.
    pub client: String,
    /// When one of its flows last changed (Unix milliseconds).
    pub last_activity_unix_ms: u64,
    /// Its flows per kind (`lsps1_order`, `lsps2_session`, `lsps5_webhook`, …).
    pub flows: std::collections::BTreeMap<&'static str, KindCountView>,
    /// Whether the operator banned it.
    pub banned: bool,
}

/// How many flows of one kind a client has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KindCountView {
    /// All of them.
    pub total: u64,
    /// The unfinished ones.
    pub active: u64,
}

/// The operator's read access to the flows in one store.
#[derive(Clone)]
pub struct Operator {
    store: Arc<dyn Store>,
}

impl Operator {
    /// Reads the flows kept in `store`.
    pub fn new(store: Arc<dyn Store>) -> Operator {
        Operator { store }
    }

    /// LSPS1 orders matching `filter`, newest first.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn orders(&self, filter: &ListFilter) -> Result<FlowList<OrderSummary>, StoreError> {
        self.list(Kind::Lsps1Order, filter, |record| {
            let order: OrderBook = serde_json::from_value(record.body.clone())?;
            Ok(OrderSummary::new(&order, record))
        })
        .await
    }

    /// One LSPS1 order with its wire form and audit history, if it exists.
    ///
    /// # Errors
    /// If the store fails or the stored order cannot be read.
    pub async fn order(&self, id: &str) -> Result<Option<FlowDetail<OrderSummary>>, StoreError> {
        self.detail(Kind::Lsps1Order, id, |record| {
            let order: OrderBook = serde_json::from_value(record.body.clone())?;
            let wire = serde_json::to_value(crate::lsps1::to_wire(&order))?;
            Ok((OrderSummary::new(&order, record), Some(wire)))
        })
        .await
    }

    /// LSPS2 sessions matching `filter`, newest first.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn sessions(&self, filter: &ListFilter) -> Result<FlowList<SessionSummary>, StoreError> {
        self.list(Kind::Lsps2Session, filter, |record| {
            let session: JitSession = serde_json::from_value(record.body.clone())?;
            Ok(SessionSummary::new(&session, record))
        })
        .await
    }

    /// One LSPS2 session with its audit history, if it exists.
    ///
    /// # Errors
    /// If the store fails or the stored session cannot be read.
    pub async fn session(&self, id: &str) -> Result<Option<FlowDetail<SessionSummary>>, StoreError> {
        self.detail(Kind::Lsps2Session, id, |record| {
            let session: JitSession = serde_json::from_value(record.body.clone())?;
            Ok((SessionSummary::new(&session, record), None))
        })
        .await
    }

    /// How many flows of every kind are in each state.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn counts(&self) -> Result<Vec<FlowCounts>, StoreError> {
        let mut counts = Vec::with_capacity(Kind::ALL.len());
        for kind in Kind::ALL {
            let states = self.store.count_by_state(kind).await?;
            counts.push(FlowCounts { kind: kind.as_str(), states: states.into_iter().map(Into::into).collect() });
        }
        Ok(counts)
    }

    /// The clients with flows, most recently active first, with their counts per kind and
    /// whether they are banned.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn clients(&self, limit: u32, offset: u32) -> Result<Vec<ClientView>, StoreError> {
        let clients = self.store.clients(limit, offset).await?;
        Ok(clients
            .into_iter()
            .map(|activity| ClientView {
                banned: activity.counts.iter().any(|count| count.kind == Kind::ClientStanding && count.active > 0),
                flows: activity
                    .counts
                    .iter()
                    .filter(|count| count.kind != Kind::ClientStanding)
                    .map(|count| (count.kind.as_str(), KindCountView { total: count.total, active: count.active }))
                    .collect(),
                client: activity.client_node_id,
                last_activity_unix_ms: activity.last_activity_unix_ms,
            })
            .collect())
    }

    /// Whether the store answers: one small query, and how long it took.
    ///
    /// # Errors
    /// If the store fails.
    pub async fn ping(&self) -> Result<std::time::Duration, StoreError> {
        let started = std::time::Instant::now();
        self.store.count_by_state(Kind::HoldScid).await?;
        Ok(started.elapsed())
    }

    async fn list<T>(
        &self,
        kind: Kind,
        filter: &ListFilter,
        view: impl Fn(&inbound_store::Record) -> Result<T, serde_json::Error>,
    ) -> Result<FlowList<T>, StoreError> {
        let listing = self.store.search(&filter.search(kind)).await?;
        let mut list = FlowList { items: Vec::with_capacity(listing.items.len()), unreadable: Vec::new() };
        for record in &listing.items {
            match view(record) {
                Ok(item) => list.items.push(item),
                Err(error) => list.unreadable.push(format!("{kind} {}: {error}", record.id)),
            }
        }
        list.unreadable.extend(listing.corrupt.iter().map(ToString::to_string));
        Ok(list)
    }

    async fn detail<T>(
        &self,
        kind: Kind,
        id: &str,
        view: impl Fn(&inbound_store::Record) -> Result<(T, Option<serde_json::Value>), serde_json::Error>,
    ) -> Result<Option<FlowDetail<T>>, StoreError> {
        let Some(record) = self.store.get(kind, id).await? else { return Ok(None) };
        let (summary, wire) = view(&record).map_err(|error| {
            StoreError::Corrupt(inbound_store::CorruptRow {
                table: "aggregates",
                column: "body",
                row: format!("{kind}/{id}"),
                reason: error.to_string(),
            })
        })?;
        let history = self.store.history(kind, id).await?;
        Ok(Some(FlowDetail {
            summary,
            version: record.version,
            wire,
            body: record.body,
            history: history.into_iter().map(HistoryView::from).collect(),
        }))
    }
}
