//! The API key: a secret that cannot be printed, logged or serialized by accident.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A bearer token for the model server. `Debug` shows `[REDACTED]`; the text is reachable only
/// through [`ExposeSecret`], where it is put into the `Authorization` header or redacted from errors.
#[derive(Clone)]
pub struct ApiKey(SecretString);

/// The key text contains control characters (a line break in the middle of a key file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the API key contains control characters")]
pub struct UnusableKey;

impl ApiKey {
    /// The key from `text`, trimmed; `None` when nothing is left.
    pub fn new(text: &str) -> Result<Option<ApiKey>, UnusableKey> {
        secret_text(text)
            .map(|key| key.map(ApiKey))
            .map_err(|ControlCharacters| UnusableKey)
    }
}

/// A secret's text has control characters (a line break in the middle of a key or token file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("contains control characters")]
pub(crate) struct ControlCharacters;

/// A secret (key, token) from `text`, trimmed; `None` when nothing is left. Each secret's type says
/// which secret it is in its own error.
pub(crate) fn secret_text(text: &str) -> Result<Option<SecretString>, ControlCharacters> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().any(char::is_control) {
        return Err(ControlCharacters);
    }
    Ok(Some(SecretString::from(text.to_string())))
}

impl ExposeSecret<str> for ApiKey {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key_and_text_is_trimmed() {
        let key = ApiKey::new(" sk-secret-123\n").unwrap().unwrap();
        assert_eq!(key.expose_secret(), "sk-secret-123");
        let shown = format!("{key:?}");
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert_eq!(
            ApiKey::new("  \n")
                .unwrap()
                .map(|k| k.expose_secret().len()),
            None
        );
        assert!(ApiKey::new("sk-a\nsk-b").is_err());
    }
}
