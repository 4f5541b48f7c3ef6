//! Output files: the daily digest ([`digest`]; as HTML: [`html`]), the run's review report ([`report`]), and
//! [`write_atomic`] so a reader or a crash never sees half a file.

pub mod digest;
pub mod html;
pub mod report;
pub mod text;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// "1 paper" or "3 papers": the English count in the texts readers see.
pub fn papers(count: usize) -> String {
    match count {
        1 => "1 paper".to_owned(),
        n => format!("{n} papers"),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {message}")]
pub struct WriteError {
    pub path: PathBuf,
    pub message: String,
}

/// Writes `bytes` to `path` through a temporary file in the same folder (synced, then renamed over
/// the target), so the file is either the old one or the complete new one. Creates the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let fail = |message: String| WriteError {
        path: path.to_path_buf(),
        message,
    };
    if path.file_name().is_none() {
        return Err(fail("the path names no file".to_string()));
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)
        .map_err(|e| fail(format!("cannot create the folder {}: {e}", dir.display())))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(e.to_string()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| fail(e.to_string()))?;
    temp.persist(path).map_err(|e| fail(e.error.to_string()))?;
    // Persist the rename itself; not every platform can open a folder, so this is best effort.
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}
