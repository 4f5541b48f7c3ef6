//! A saved Hugging Face JSON or arXiv Atom response, told apart by content (not by file name).

use std::path::Path;

use serde_json::Value;

use super::{arxiv, hf, SourceError};
use crate::paper::Paper;

/// Loads the papers of a saved response: JSON (`[` or `{` first) goes to [`hf::parse`], XML (`<`
/// first) whose root is an Atom `<feed>` to [`arxiv::parse`]; anything else is
/// [`SourceError::UnknownFormat`].
pub fn load(path: &Path) -> Result<Vec<Paper>, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let origin = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|e| SourceError::Malformed {
        input: origin.clone(),
        message: format!("not UTF-8 text: {e}"),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let unknown = || SourceError::UnknownFormat {
        path: path.to_path_buf(),
    };
    match text.trim_start().chars().next() {
        Some('[' | '{') => {
            if !looks_like_daily_papers(text) {
                return Err(unknown());
            }
            hf::parse(text, &origin)
        }
        Some('<') => {
            if !arxiv::is_atom_feed(text, &origin)? {
                return Err(unknown());
            }
            arxiv::parse(text, &origin).map(|feed| feed.papers)
        }
        _ => Err(unknown()),
    }
}

/// A JSON list, or HF's error object; broken JSON counts too so that `hf::parse` can say what broke.
/// The list is only skimmed (no value tree of a large file is built just to look at it).
fn looks_like_daily_papers(text: &str) -> bool {
    if serde_json::from_str::<IgnoredList>(text).is_ok() {
        return true;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map.contains_key("error"),
        Ok(_) => false,
        Err(_) => true,
    }
}

/// Any JSON list, its items skipped.
#[derive(serde::Deserialize)]
struct IgnoredList(#[allow(dead_code)] Vec<serde::de::IgnoredAny>);
