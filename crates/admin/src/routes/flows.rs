//! `GET /v1/orders[/{id}]`, `/v1/sessions[/{id}]`, `/v1/flows`: the LSPS1 orders and LSPS2
//! sessions in the store, filtered by the query parameters of
//! [`ListFilter`](inbound_service::operator::ListFilter), and how many flows are in each state.

use axum::extract::{Path, Query, State};
use axum::Json;
use inbound_service::operator::{FlowCounts, FlowDetail, FlowList, ListFilter, Operator, OrderSummary, SessionSummary};

use crate::app::AdminState;
use crate::error::{AdminError, ErrorCode};

/// Query parameters that do not parse are a 400 with the reason ([`crate::routes::query`]).
pub(crate) type Filter = Result<Query<ListFilter>, axum::extract::rejection::QueryRejection>;

fn operator(state: &AdminState) -> Result<&Operator, AdminError> {
    state.operator.as_ref().ok_or_else(|| {
        AdminError::new(ErrorCode::NoFlows, "this LSP serves no LSPS1, LSPS2 or LSPS5 flows (lsps.enabled)")
    })
}

fn found<T>(detail: Option<T>, noun: &str, id: &str) -> Result<Json<T>, AdminError> {
    detail.map(Json).ok_or_else(|| AdminError::new(ErrorCode::NotFound, format!("no {noun} {id}")))
}

pub(crate) async fn orders(
    State(state): State<AdminState>,
    query: Filter,
) -> Result<Json<FlowList<OrderSummary>>, AdminError> {
    let filter = crate::routes::query(query)?;
    Ok(Json(operator(&state)?.orders(&filter).await?))
}

pub(crate) async fn order(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<FlowDetail<OrderSummary>>, AdminError> {
    found(operator(&state)?.order(&id).await?, "order", &id)
}

pub(crate) async fn sessions(
    State(state): State<AdminState>,
    query: Filter,
) -> Result<Json<FlowList<SessionSummary>>, AdminError> {
    let filter = crate::routes::query(query)?;
    Ok(Json(operator(&state)?.sessions(&filter).await?))
}

pub(crate) async fn session(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<FlowDetail<SessionSummary>>, AdminError> {
    found(operator(&state)?.session(&id).await?, "session", &id)
}

/// `GET /v1/clients?limit=&offset=`: paging only.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Page {
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) async fn clients(
    State(state): State<AdminState>,
    query: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<inbound_service::operator::ClientView>>, AdminError> {
    let page = crate::routes::query(query)?;
    let limit = page.limit.unwrap_or(inbound_service::operator::DEFAULT_LIST_LIMIT);
    Ok(Json(operator(&state)?.clients(limit, page.offset.unwrap_or(0)).await?))
}

pub(crate) async fn counts(State(state): State<AdminState>) -> Result<Json<Vec<FlowCounts>>, AdminError> {
    Ok(Json(operator(&state)?.counts().await?))
}
