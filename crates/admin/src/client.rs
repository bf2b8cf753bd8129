//! [`AdminClient`]: the admin API over HTTP, for the `inbound admin` CLI and for tests.

use std::time::Duration;

use crate::error::{AdminError, ErrorBody};

/// How long one admin request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// The request did not get an answer (connection refused, timeout, …).
    #[error("the admin API at {url}: {source}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What failed.
        source: reqwest::Error,
    },
    /// The API answered with an error.
    #[error("the admin API answered HTTP {status}: {error}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The typed error.
        error: AdminError,
    },
    /// The answer was not what the API sends.
    #[error("the admin API answered HTTP {status} with an unexpected body: {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

/// A client of one LSP's admin API.
#[derive(Clone, Debug)]
pub struct AdminClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:9781`) with the admin `key`.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(base_url: &str, key: String) -> Result<AdminClient, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).no_proxy().build()?;
        Ok(AdminClient { base: base_url.trim_end_matches('/').to_owned(), key, http })
    }

    /// `GET path?query` with the key, the body as JSON.
    ///
    /// # Errors
    /// See [`AdminClientError`].
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<serde_json::Value, AdminClientError> {
        let (status, body) = self.get(path, query, true).await?;
        serde_json::from_str(&body).map_err(|_| AdminClientError::Unexpected { status, body: preview(&body) })
    }

    /// `POST path` with the key and a JSON body, the answer as JSON.
    ///
    /// # Errors
    /// See [`AdminClientError`].
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, AdminClientError> {
        let url = format!("{}{path}", self.base);
        let (status, body) = self.exchange(self.http.post(&url).json(body), url, false).await?;
        serde_json::from_str(&body).map_err(|_| AdminClientError::Unexpected { status, body: preview(&body) })
    }

    /// `GET path` with the key, the body as text (for `/metrics`).
    ///
    /// # Errors
    /// See [`AdminClientError`].
    pub async fn get_text(&self, path: &str) -> Result<String, AdminClientError> {
        self.get(path, &[], true).await.map(|(_, body)| body)
    }

    /// `GET /readyz` (no key): whether the LSP is ready, and the checks' answers. A 503 is
    /// an answer here, not an error.
    ///
    /// # Errors
    /// See [`AdminClientError`].
    pub async fn readiness(&self) -> Result<crate::Readiness, AdminClientError> {
        let (status, body) = self.get("/readyz", &[], false).await?;
        serde_json::from_str(&body).map_err(|_| AdminClientError::Unexpected { status, body: preview(&body) })
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        ready_is_error: bool,
    ) -> Result<(u16, String), AdminClientError> {
        let url = format!("{}{path}", self.base);
        self.exchange(self.http.get(&url).query(query), url, !ready_is_error).await
    }

    /// Sends `request` to `url` with the key; a 2xx answer (or a 503 when `accept_503`), or the
    /// API's typed error.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        url: String,
        accept_503: bool,
    ) -> Result<(u16, String), AdminClientError> {
        let unreachable = |source| AdminClientError::Unreachable { url: url.clone(), source };
        let response = request.bearer_auth(&self.key).send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        answer(status, body, accept_503)
    }
}

/// A 2xx answer (or a 503 when `accept_503`), or the API's typed error.
fn answer(status: u16, body: String, accept_503: bool) -> Result<(u16, String), AdminClientError> {
    if (200..300).contains(&status) || (accept_503 && status == 503) {
        return Ok((status, body));
    }
    match serde_json::from_str::<ErrorBody>(&body) {
        Ok(answer) => Err(AdminClientError::Api { status, error: answer.error }),
        Err(_) => Err(AdminClientError::Unexpected { status, body: preview(&body) }),
    }
}

fn preview(body: &str) -> String {
    body.chars().take(200).collect()
}
