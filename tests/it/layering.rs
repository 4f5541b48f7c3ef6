//! The code's layering, checked on the source text: every module of `src/` uses only modules of a
//! lower layer (no import circle, no edge from a lower stage to a higher one), and the pipeline's
//! stages use only the stages before them. The layers are the ones `src/lib.rs` and the README's
//! "Layout" section describe.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `src/` modules, lowest layer first; a module may use the modules of earlier layers only.
const LAYERS: &[&[&str]] = &[
    &["paper", "logging"],
    &["source", "prompt"],
    &["model"],
    &["checks"],
    &["store"],
    &["render"],
    &["publish"],
    &["pipeline"],
    &["review"],
    &["web"],
    &["settings"],
    &["cli"],
    &["app"],
];

/// The stages of `src/pipeline/`, in the order data flows; a stage may use earlier ones only.
const STAGES: &[&str] = &[
    "shutdown",
    "fetch",
    "select",
    "summarize",
    "record",
    "publish",
    "run",
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its unit tests (tests may use anything, e.g. the built-in settings).
fn code_without_tests(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Names that follow `prefix` in the code (`crate::store` → `store`), including inside a
/// `use crate::{a, b}` group.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = group.split('}').next().unwrap_or("");
            for item in inside.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `src/` module a file belongs to: `src/store/mod.rs` → `store`, `src/paper.rs` → `paper`.
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src()).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

#[test]
fn every_module_uses_only_lower_layers() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut unknown = Vec::new();
    let mut violations = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            unknown.push(module);
            continue;
        };
        for used in referenced(&code_without_tests(file), "crate::") {
            match layer_of(&used) {
                Some(layer) if used == module || layer < own => {}
                Some(_) => violations.push(format!(
                    "{} (layer {own}, {module}) uses crate::{used}",
                    file.display()
                )),
                None => violations.push(format!(
                    "{} uses crate::{used}, which is in no layer",
                    file.display()
                )),
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS: {unknown:?}"
    );
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn pipeline_stages_use_only_earlier_stages() {
    let dir = src().join("pipeline");
    let mut violations = Vec::new();
    for (index, stage) in STAGES.iter().enumerate() {
        let file = dir.join(format!("{stage}.rs"));
        for used in referenced(&code_without_tests(&file), "super::") {
            match STAGES.iter().position(|s| *s == used) {
                Some(position) if position < index => {}
                _ => violations.push(format!("pipeline::{stage} uses super::{used}")),
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The check itself catches what it must: a store that reaches up to the pipeline.
#[test]
fn a_use_of_a_higher_layer_is_found() {
    let code = "use crate::paper::Paper;\nuse crate::{pipeline::Shutdown, render};\nfn f() { crate::app::x(); }";
    let used = referenced(code, "crate::");
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["app", "paper", "pipeline", "render"]
    );
    let store = layer_of("store").unwrap_or(0);
    assert!(layer_of("pipeline").is_some_and(|pipeline| pipeline > store));
}
