//! [`WebhookPoster`]: the HTTPS POST of one signed notification, with the guards bLIP-55 and
//! the digest (§5.6, §7) ask for.
//!
//! * HTTPS only, rustls with the webpki roots (plus an operator's extra CA file), no proxy;
//! * **SSRF**: the host is resolved at send time by a resolver that drops every address
//!   [`is_forbidden_ip`] refuses (loopback, private, link-local, CGNAT, multicast, ULA, …), and
//!   the connection goes only to an address that passed, so a DNS answer that switches to a
//!   private address is refused too; a literal IP host is checked before anything is sent;
//! * redirects are never followed; connect and total timeouts; at most
//!   `max_concurrent_deliveries` POSTs in flight; at most `max_response_bytes` of the response
//!   body are read, then the connection is dropped.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use lsps::lsps5::{is_forbidden_ip, SignedWebhookRequest};
use thiserror::Error;
use tokio::sync::Semaphore;
use url::{Host, Url};

use super::config::Lsps5Config;

/// What one POST came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostResult {
    /// The webhook answered with this status (any status: the caller judges it).
    Answered(u16),
    /// The destination is not public (and private destinations are not allowed).
    Forbidden(String),
    /// No answer: DNS, connect, TLS, timeout or a broken response.
    Network(String),
}

/// Why the poster could not be built.
#[derive(Debug, Error)]
pub enum PosterError {
    /// `extra_ca_file` could not be read or holds no certificate.
    #[error("extra_ca_file {path}: {error}")]
    ExtraCa {
        /// The file.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTPS client: {0}")]
    Client(String),
}

/// A resolved host had no public address.
#[derive(Debug, Error)]
#[error("{0} resolves only to non-public addresses")]
struct ForbiddenDestination(String);

/// Resolves with the system resolver and keeps only the addresses the SSRF guard allows.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.into_iter().filter(|address| allow_private || !is_forbidden_ip(address.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(ForbiddenDestination(host)) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// POSTs signed notifications; see the module docs.
pub struct WebhookPoster {
    client: reqwest::Client,
    allow_private: bool,
    max_response_bytes: usize,
    permits: Semaphore,
}

impl WebhookPoster {
    /// A poster with `config`'s timeouts, limits and trust roots.
    ///
    /// # Errors
    /// If the extra CA file cannot be read or parsed.
    pub fn new(config: &Lsps5Config) -> Result<WebhookPoster, PosterError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .timeout(Duration::from_secs(config.request_timeout_secs))
            .pool_max_idle_per_host(0)
            .dns_resolver(Arc::new(GuardedResolver { allow_private: config.allow_private_destinations }));
        if let Some(path) = &config.extra_ca_file {
            let ca_error = |error: String| PosterError::ExtraCa { path: path.display().to_string(), error };
            let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| ca_error(error.to_string()))?;
            if certificates.is_empty() {
                return Err(ca_error("no certificate in the file".into()));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let client = builder.build().map_err(|error| PosterError::Client(error.to_string()))?;
        Ok(WebhookPoster {
            client,
            allow_private: config.allow_private_destinations,
            max_response_bytes: config.max_response_bytes,
            permits: Semaphore::new(config.max_concurrent_deliveries.max(1)),
        })
    }

    /// POSTs `request` to `url` and reads at most `max_response_bytes` of the answer.
    pub async fn post(&self, url: &str, request: &SignedWebhookRequest) -> PostResult {
        let url = match Url::parse(url) {
            Ok(url) => url,
            Err(error) => return PostResult::Forbidden(format!("unparseable URL: {error}")),
        };
        if url.scheme() != "https" {
            return PostResult::Forbidden("not https".into());
        }
        if let Some(ip) = literal_ip(&url) {
            if !self.allow_private && is_forbidden_ip(ip) {
                return PostResult::Forbidden(format!("{ip} is not a public address"));
            }
        }
        let Ok(_permit) = self.permits.acquire().await else {
            return PostResult::Network("poster closed".into());
        };
        let mut post = self.client.post(url).body(request.body.clone());
        for (name, value) in &request.headers {
            post = post.header(*name, value);
        }
        let mut response = match post.send().await {
            Ok(response) => response,
            Err(error) => return classify(&error),
        };
        let status = response.status().as_u16();
        let mut read = 0usize;
        // The status is what counts; a body cut short or broken does not change it.
        while let Ok(Some(chunk)) = response.chunk().await {
            read = read.saturating_add(chunk.len());
            if read >= self.max_response_bytes {
                break;
            }
        }
        PostResult::Answered(status)
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// A send error as [`PostResult`]: the SSRF guard's refusal is [`PostResult::Forbidden`].
fn classify(error: &reqwest::Error) -> PostResult {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(forbidden) = current.downcast_ref::<ForbiddenDestination>() {
            return PostResult::Forbidden(forbidden.to_string());
        }
        source = current.source();
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    PostResult::Network(text)
}
