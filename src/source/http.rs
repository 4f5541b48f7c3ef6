//! The one GET both HTTP sources share: build the URL, send, read the body, map transport errors.

use std::error::Error as _;

use reqwest::{Client, StatusCode, Url};

use super::SourceError;

/// A response body with the status and the exact URL that produced it (for error messages).
pub(crate) struct Fetched {
    pub url: String,
    pub status: StatusCode,
    pub body: String,
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
    http: &Client,
    url: &Url,
    query: &[(&str, String)],
) -> Result<Fetched, SourceError> {
    let request =
        http.get(url.clone())
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
    let response = http.execute(request).await.map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    Ok(Fetched { url, status, body })
}

/// reqwest's own message is generic ("error sending request"); the cause is further down the chain.
/// The URL is left out: every caller names it already.
fn error_chain(error: reqwest::Error) -> String {
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
