//! The low level: `config/default.toml` (compiled in) ← `--config FILE` ← `PAPER_DIGEST_*` variables,
//! merged as TOML and deserialized into plain [`RawConfig`] values, remembering where each key was set
//! so that every error names the key and the layer it came from.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, Env};
use crate::checks::identity::WrittenFrom;
use crate::source::SourceKind;

/// The defaults, compiled in so the binary runs without the repository next to it.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Environment variables starting with this override config keys: `PAPER_DIGEST_MODEL__BASE_URL`.
pub const ENV_PREFIX: &str = "PAPER_DIGEST_";

/// Variables with the prefix that are not config keys (read elsewhere; the publishing secrets are
/// listed in `super::publish::SECRETS`).
const ENV_NOT_KEYS: [&str; 6] = [
    "PAPER_DIGEST_CONFIG",
    "PAPER_DIGEST_LOG",
    "PAPER_DIGEST_LOG_FORMAT",
    "PAPER_DIGEST_SHARED_DATA",
    "PAPER_DIGEST_SERVE_TOKEN",
    "PAPER_DIGEST_SKIP_BROWSER",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub source: RawSource,
    pub model: RawModel,
    pub run: RawRun,
    pub checks: RawChecks,
    pub render: RawRender,
    pub lint: RawLint,
    pub serve: RawServe,
    pub publish: RawPublish,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub kind: SourceKind,
    pub hf_base_url: String,
    pub hf_page_size: usize,
    pub hf_max_pages: usize,
    pub arxiv_base_url: String,
    pub arxiv_html_base_url: String,
    pub arxiv_min_interval_secs: f64,
    pub arxiv_page_size: usize,
    pub categories: Vec<String>,
    pub request_timeout_secs: f64,
    pub max_response_bytes: usize,
    pub fetch_retries: u32,
    pub fetch_retry_initial_secs: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub base_url: String,
    pub name: String,
    pub temperature: f32,
    pub max_output_tokens: u32,
    pub max_tokens_field: String,
    pub request_timeout_secs: f64,
    pub max_retries: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_secs: f64,
    pub max_retry_after_secs: f64,
    pub max_response_bytes: usize,
    pub structured_output: bool,
    pub requests_per_minute: u32,
    pub tokens_per_minute: u32,
    pub max_abstract_tokens: usize,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub api_key_file: String,
    pub require_api_key: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRun {
    pub concurrency: usize,
    pub max_tokens: u64,
    pub max_cost_usd: f64,
    pub database: String,
    pub claim_lease_secs: f64,
    pub out_dir: String,
    pub prompts_dir: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecks {
    pub max_repairs: u32,
    pub min_hangul_share: f64,
    pub min_section_chars: usize,
    pub max_section_chars: usize,
    pub identity: RawIdentity,
    pub judge: RawJudge,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentity {
    pub min_anchor_coverage: f64,
    pub corroborate_below: f64,
    pub max_unsupported_figures: usize,
    pub min_specific: usize,
    pub contrast_margin: f64,
    pub max_listed: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJudge {
    pub enabled: bool,
    pub borderline_margin: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRender {
    pub include_flagged: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLint {
    pub written_from: WrittenFrom,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServe {
    pub bind: String,
    pub token_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub title: String,
    pub request_timeout_secs: f64,
    pub retries: u32,
    pub retry_initial_secs: f64,
    pub retry_max_wait_secs: f64,
    pub archive: RawArchive,
    pub site: RawSite,
    pub feed: RawFeed,
    pub slack: RawWebhook,
    pub discord: RawWebhook,
    pub webhook: RawWebhook,
    pub alert: RawAlert,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    pub enabled: bool,
    pub dir: String,
    pub git: bool,
    pub git_remote: String,
    pub git_branch: String,
    pub git_author_name: String,
    pub git_author_email: String,
    pub git_token_file: String,
    pub git_token_user: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub enabled: bool,
    pub dir: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub enabled: bool,
    pub dir: String,
    pub base_url: String,
    pub max_entries: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub enabled: bool,
    pub url_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlert {
    pub enabled: bool,
    pub kind: String,
    pub url_file: String,
    pub on_no_announcement: bool,
}

/// Where each key that a file or a variable set came from (keys left at their default are absent).
pub(super) type Origins = BTreeMap<String, String>;

/// Merges the layers and deserializes them; type errors and unknown keys name the key and its layer.
pub(super) fn load(file: Option<&Path>, env: &Env) -> Result<(RawConfig, Origins), ConfigError> {
    let mut merged = parse_toml(DEFAULT_TOML, Path::new("config/default.toml"))?;
    let mut origins = BTreeMap::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let overlay = parse_toml(&text, path)?;
        reject_key_in_config(&overlay, &path.display().to_string())?;
        merge(
            &mut merged,
            overlay,
            &path.display().to_string(),
            "",
            &mut origins,
        );
    }
    for (name, value) in env.iter() {
        apply_env(&mut merged, name, value, &mut origins)?;
    }
    let raw = serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
        let key = e.path().to_string();
        let origin = origin_of(&origins, &key);
        ConfigError::Key {
            key,
            origin,
            message: e.into_inner().to_string(),
        }
    })?;
    Ok((raw, origins))
}

fn parse_toml(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Secrets a config file never holds: (section, key).
const SECRET_KEYS: [(&str, &str); 2] = [("model", "api_key"), ("serve", "token")];

fn reject_key_in_config(table: &toml::Table, origin: &str) -> Result<(), ConfigError> {
    for (section, key) in SECRET_KEYS {
        let has_key = table
            .get(section)
            .and_then(toml::Value::as_table)
            .is_some_and(|table| table.contains_key(key));
        if has_key {
            return Err(secret_in_config(section, origin));
        }
    }
    let publish = table.get("publish").and_then(toml::Value::as_table);
    for secret in super::publish::SECRETS {
        let (section, key) = secret.key;
        let set = publish
            .and_then(|publish| publish.get(section))
            .and_then(toml::Value::as_table)
            .is_some_and(|table| table.contains_key(key));
        if set {
            return Err(super::publish::secret_in_config(secret, origin));
        }
    }
    Ok(())
}

fn secret_in_config(section: &str, origin: &str) -> ConfigError {
    match section {
        "serve" => ConfigError::TokenInConfig {
            origin: origin.to_string(),
        },
        _ => ConfigError::KeyInConfig {
            origin: origin.to_string(),
        },
    }
}

/// Deep-merges `overlay` into `base`, remembering where each leaf came from for error messages.
fn merge(
    base: &mut toml::Table,
    overlay: toml::Table,
    origin: &str,
    prefix: &str,
    origins: &mut Origins,
) {
    for (key, value) in overlay {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge(base_table, overlay_table, origin, &path, origins);
            }
            (_, value) => {
                origins.insert(path, origin.to_string());
                base.insert(key, value);
            }
        }
    }
}

fn apply_env(
    merged: &mut toml::Table,
    name: &str,
    value: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    if ENV_NOT_KEYS.contains(&name) || super::publish::SECRETS.iter().any(|s| s.env == name) {
        return Ok(());
    }
    let env_error = |message: &str| ConfigError::Env {
        name: name.to_string(),
        message: message.to_string(),
    };
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let Some((key, tables)) = path.split_last().filter(|(_, tables)| !tables.is_empty()) else {
        return Err(env_error(
            "expected PAPER_DIGEST_<SECTION>__<KEY>, e.g. PAPER_DIGEST_MODEL__BASE_URL",
        ));
    };
    if let Some((section, _)) = SECRET_KEYS.iter().find(|(s, k)| path == [*s, *k]) {
        return Err(secret_in_config(section, name));
    }
    if let Some(secret) = super::publish::SECRETS
        .iter()
        .find(|s| path == ["publish", s.key.0, s.key.1])
    {
        return Err(super::publish::secret_in_config(secret, name));
    }
    let mut table = &mut *merged;
    for (depth, section) in tables.iter().enumerate() {
        table = table
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| {
                env_error(&format!(
                    "unknown config section `{}`",
                    path[..=depth].join(".")
                ))
            })?;
    }
    table.insert(key.clone(), env_value(value));
    origins.insert(path.join("."), name.to_string());
    Ok(())
}

/// Environment values are TOML values when they parse as one (`4`, `true`, `["cs.CL"]`), else strings.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Which layer set `key` (or, for an unknown key reported at its parent, every layer that set
/// something under it).
pub(super) fn origin_of(origins: &Origins, key: &str) -> String {
    origins
        .iter()
        .filter(|(path, _)| key == path.as_str() || key.starts_with(&format!("{path}.")))
        .map(|(_, origin)| origin.clone())
        .next()
        .or_else(|| {
            let set: Vec<_> = origins
                .iter()
                .filter(|(path, _)| path.starts_with(&format!("{key}.")))
                .map(|(_, origin)| origin.clone())
                .collect();
            (!set.is_empty()).then(|| set.join(", "))
        })
        .unwrap_or_else(|| "config/default.toml".to_string())
}
