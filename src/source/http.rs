//! The one GET every HTTP source shares: build the URL, send, read the body (never more than the
//! configured limit), map transport errors.

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Client, StatusCode, Url};

use super::SourceError;

/// The HTTP client the sources share: a timeout on every request and a cap on every body.
#[derive(Debug, Clone)]
pub struct SourceHttp {
    client: Client,
    max_body: usize,
}

impl SourceHttp {
    pub fn new(timeout: Duration, max_body: usize) -> Result<SourceHttp, SourceError> {
        let client = Client::builder()
            .timeout(timeout)
            .user_agent(concat!("paper-digest/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::BadBaseUrl {
                url: String::new(),
                message: format!("cannot build the HTTP client: {}", error_chain(e)),
            })?;
        Ok(SourceHttp { client, max_body })
    }
}

/// A response body with the status and the exact URL that produced it (for error messages).
pub(crate) struct Fetched {
    pub url: String,
    pub status: StatusCode,
    pub body: String,
    /// What a `Link` header says of a next page: `Some(true)` when it names one (`rel="next"`),
    /// `Some(false)` when it is there without one, `None` without a `Link` header.
    pub next_page: Option<bool>,
}

/// `base` + path segments, keeping any path the base already has (`https://mirror/hf` + `api`).
pub(crate) fn endpoint(base: &str, segments: &[&str]) -> Result<Url, SourceError> {
    let bad = |message: String| SourceError::BadBaseUrl {
        url: base.to_string(),
        message,
    };
    let mut url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    url.path_segments_mut()
        .map_err(|()| bad("the URL cannot have a path".to_string()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

pub(crate) async fn get(
    http: &SourceHttp,
    url: &Url,
    query: &[(&str, String)],
) -> Result<Fetched, SourceError> {
    let request = http
        .client
        .get(url.clone())
        .query(query)
        .build()
        .map_err(|e| SourceError::BadBaseUrl {
            url: url.to_string(),
            message: error_chain(e),
        })?;
    let url = request.url().to_string();
    let unreachable = |e: reqwest::Error| SourceError::Unreachable {
        url: url.clone(),
        message: error_chain(e),
    };
    let mut response = http.client.execute(request).await.map_err(unreachable)?;
    let status = response.status();
    let next_page = next_page(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > http.max_body {
            return Err(SourceError::TooLarge {
                url,
                limit: http.max_body,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(Fetched {
        url,
        status,
        body,
        next_page,
    })
}

/// `Link: <…?p=1>; rel="next", <…?p=0>; rel="first"` → whether a next page is named.
fn next_page(headers: &reqwest::header::HeaderMap) -> Option<bool> {
    let links: Vec<&str> = headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if links.is_empty() {
        return None;
    }
    Some(links.iter().flat_map(|value| value.split(',')).any(|link| {
        link.split(';').skip(1).any(|param| {
            let param = param.trim().to_ascii_lowercase();
            param
                .strip_prefix("rel=")
                .map(|rel| rel.trim_matches('"'))
                .is_some_and(|rel| rel.split_whitespace().any(|r| r == "next"))
        })
    }))
}

/// reqwest's own message is generic ("error sending request"); the cause is further down the chain.
/// The URL is left out: every source caller names it already, and a webhook's URL is a secret.
pub(crate) fn error_chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The start of an unexpected body, on one line, for an error message.
pub(crate) fn snippet(body: &str) -> String {
    const MAX_CHARS: usize = 200;
    let flat = crate::paper::normalize_whitespace(body);
    if flat.is_empty() {
        return "empty body".to_string();
    }
    match flat.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
