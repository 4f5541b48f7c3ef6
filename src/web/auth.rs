//! Who may do what on the review page.
//!
//! - Reading is open when the server is bound to a loopback address; on any other address every
//!   page and API call needs a login or the bearer token too.
//! - Every write needs the token (`serve.token`): pages take it once on the login form, which opens
//!   a session kept in an `HttpOnly`, `SameSite=Strict` cookie, and every form carries the
//!   session's CSRF token; the JSON API takes it as `Authorization: Bearer <token>` on each call.
//! - Without a configured token the server is read-only.
//!
//! Tokens are compared through their SHA-256 digests (no early exit on the secret's bytes) and never
//! logged or shown.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The session cookie.
pub(super) const SESSION_COOKIE: &str = "pd_session";
/// The login form's own CSRF cookie (double submit: there is no session yet).
pub(super) const LOGIN_COOKIE: &str = "pd_login";
/// How long a login lasts.
pub(super) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// How long a login form may be left open.
pub(super) const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Sessions kept at most; the oldest go first (a bound on what repeated logins can hold).
const MAX_SESSIONS: usize = 1000;

/// The token that opens writes (and reads, off loopback). `Debug` shows `[REDACTED]`.
#[derive(Clone)]
pub struct ServeToken(SecretString);

/// The token text contains control characters (a line break in the middle of a token file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the serve token contains control characters")]
pub struct UnusableToken;

impl ServeToken {
    /// The token from `text`, trimmed; `None` when nothing is left.
    pub fn new(text: &str) -> Result<Option<ServeToken>, UnusableToken> {
        crate::model::secret_text(text)
            .map(|token| token.map(ServeToken))
            .map_err(|crate::model::ControlCharacters| UnusableToken)
    }

    /// Whether `given` is the token.
    pub fn matches(&self, given: &str) -> bool {
        same_secret(self.0.expose_secret(), given.trim())
    }
}

impl fmt::Debug for ServeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServeToken([REDACTED])")
    }
}

/// Compares two secrets by their digests, so the time taken says nothing about their bytes.
pub(super) fn same_secret(expected: &str, given: &str) -> bool {
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

/// 32 random bytes as hex: session IDs and CSRF tokens.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A logged-in person.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub actor: String,
    pub csrf: String,
    expires: Instant,
}

/// The open sessions, in memory: a restart logs everyone out.
#[derive(Debug, Clone, Default)]
pub(super) struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    /// Opens a session for `actor`; returns its ID (the cookie's value).
    pub fn open(&self, actor: String) -> String {
        let id = random_token();
        let mut sessions = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                actor,
                csrf: random_token(),
                expires: now + SESSION_LIFETIME,
            },
        );
        id
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        let sessions = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .get(id)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    pub fn close(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// `Set-Cookie` for a cookie only this site's own pages send back, never readable by script.
pub(super) fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    )
}

/// `Set-Cookie` that removes a cookie.
pub(super) fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// What the `Authorization` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bearer<'a> {
    Missing,
    Given(&'a str),
    /// Not `Bearer <token>`.
    Malformed,
}

pub(super) fn bearer(headers: &HeaderMap) -> Bearer<'_> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Bearer::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Bearer::Malformed;
    };
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Bearer::Given(token.trim())
        }
        _ => Bearer::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves_and_never_show() {
        let token = ServeToken::new(" s3cret-token\n").unwrap().unwrap();
        assert!(token.matches("s3cret-token"));
        assert!(!token.matches("s3cret-tokeN"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(ServeToken::new("  ").unwrap().is_none());
        assert!(ServeToken::new("a\nb").is_err());
    }

    #[test]
    fn sessions_open_and_close() {
        let sessions = Sessions::default();
        let id = sessions.open("kim".to_string());
        let session = sessions.get(&id).unwrap();
        assert_eq!(session.actor, "kim");
        assert_eq!(session.csrf.len(), 64);
        assert!(sessions.get("other").is_none());
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn cookies_and_bearer_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; pd_session=abc ; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(bearer(&headers), Bearer::Missing);
        headers.insert(AUTHORIZATION, "Bearer tok".parse().unwrap());
        assert_eq!(bearer(&headers), Bearer::Given("tok"));
        headers.insert(AUTHORIZATION, "Basic eA==".parse().unwrap());
        assert_eq!(bearer(&headers), Bearer::Malformed);
    }
}
