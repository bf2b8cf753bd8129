//! One file per group of endpoints.

pub(crate) mod clients;
pub(crate) mod flows;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod node;
pub(crate) mod node_ops;
pub(crate) mod orders;
