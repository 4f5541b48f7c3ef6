//! Configuration: `config/default.toml` (compiled in) ← `--config FILE` ← `PAPER_DIGEST_*` environment,
//! validated once into typed [`Settings`] the rest of the code trusts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::checks::identity::IdentitySettings;
use crate::checks::judge::JudgeSettings;
use crate::checks::shape::ShapeLimits;

/// The defaults, compiled in so the binary runs without the repository next to it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Environment variables starting with this override config keys: `PAPER_DIGEST_MODEL__BASE_URL`.
pub const ENV_PREFIX: &str = "PAPER_DIGEST_";

/// Variables with the prefix that are not config keys (read elsewhere).
const ENV_NOT_KEYS: [&str; 4] = [
    "PAPER_DIGEST_CONFIG",
    "PAPER_DIGEST_LOG",
    "PAPER_DIGEST_LOG_FORMAT",
    "PAPER_DIGEST_SHARED_DATA",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("config key `{key}` ({origin}): {message}")]
    Key {
        key: String,
        origin: String,
        message: String,
    },
    #[error("config: {key} = {value}: {message}")]
    Invalid {
        key: &'static str,
        value: String,
        message: String,
    },
    #[error("no API key: set OPENAI_API_KEY or model.api_key_file (or model.require_api_key = false for a local server)")]
    MissingApiKey,
    #[error("cannot read API key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("the API key is never read from a config file ({origin}); set OPENAI_API_KEY or model.api_key_file")]
    KeyInConfig { origin: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Hugging Face daily papers.
    HfDaily,
    /// arXiv API listing by category and date.
    Arxiv,
    /// A saved HF JSON or arXiv Atom response.
    File,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HfDaily => "hf-daily",
            SourceKind::Arxiv => "arxiv",
            SourceKind::File => "file",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    source: RawSource,
    model: RawModel,
    run: RawRun,
    checks: RawChecks,
    render: RawRender,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: SourceKind,
    hf_base_url: String,
    arxiv_base_url: String,
    arxiv_min_interval_secs: f64,
    arxiv_page_size: usize,
    categories: Vec<String>,
    request_timeout_secs: f64,
    fetch_retries: u32,
    fetch_retry_initial_secs: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    base_url: String,
    name: String,
    temperature: f32,
    max_output_tokens: u32,
    max_tokens_field: String,
    request_timeout_secs: f64,
    max_retries: u32,
    backoff_initial_ms: u64,
    backoff_max_secs: f64,
    structured_output: bool,
    requests_per_minute: u32,
    tokens_per_minute: u32,
    max_abstract_tokens: usize,
    price_input_per_mtok: f64,
    price_output_per_mtok: f64,
    api_key_file: String,
    require_api_key: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    concurrency: usize,
    max_tokens: u64,
    max_cost_usd: f64,
    database: String,
    out_dir: String,
    prompts_dir: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    max_repairs: u32,
    min_hangul_share: f64,
    min_section_chars: usize,
    max_section_chars: usize,
    #[serde(default)]
    identity: IdentitySettings,
    #[serde(default)]
    judge: JudgeSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRender {
    include_flagged: bool,
}

/// Validated settings. Durations are durations, optional limits are `Option`s, paths are paths.
#[derive(Debug, Clone)]
pub struct Settings {
    pub source: SourceSettings,
    pub model: ModelConfig,
    pub run: RunSettings,
    pub checks: CheckSettings,
    pub identity: IdentitySettings,
    pub judge: JudgeSettings,
    pub include_flagged: bool,
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub kind: SourceKind,
    pub hf_base_url: String,
    pub arxiv_base_url: String,
    pub arxiv_min_interval: Duration,
    pub arxiv_page_size: usize,
    pub categories: Vec<String>,
    pub request_timeout: Duration,
    pub fetch_retries: u32,
    pub fetch_retry_initial: Duration,
}

/// Model settings as configured; the key is resolved separately (see [`resolve_api_key`]).
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub base_url: String,
    pub name: String,
    pub temperature: f32,
    pub max_output_tokens: u32,
    pub max_tokens_field: String,
    pub request_timeout: Duration,
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub structured_output: bool,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub max_abstract_tokens: usize,
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub api_key_file: Option<PathBuf>,
    pub require_api_key: bool,
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub concurrency: usize,
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub database: PathBuf,
    pub out_dir: PathBuf,
    pub prompts_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub max_repairs: u32,
    pub min_hangul_share: f64,
    pub min_section_chars: usize,
    pub max_section_chars: usize,
}

impl CheckSettings {
    pub fn shape_limits(&self) -> ShapeLimits {
        ShapeLimits {
            min_hangul_share: self.min_hangul_share,
            min_section_chars: self.min_section_chars,
            max_section_chars: self.max_section_chars,
        }
    }
}

/// Loads defaults, then `file`, then the `PAPER_DIGEST_*` variables of `env`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
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
    for (name, value) in env {
        apply_env(&mut merged, &name, &value, &mut origins)?;
    }
    let raw: RawConfig =
        serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
            let key = e.path().to_string();
            let origin = origin_of(&origins, &key);
            ConfigError::Key {
                key,
                origin,
                message: e.into_inner().to_string(),
            }
        })?;
    validate(raw)
}

fn parse_toml(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

fn reject_key_in_config(table: &toml::Table, origin: &str) -> Result<(), ConfigError> {
    let has_key = table
        .get("model")
        .and_then(toml::Value::as_table)
        .is_some_and(|model| model.contains_key("api_key"));
    if has_key {
        return Err(ConfigError::KeyInConfig {
            origin: origin.to_string(),
        });
    }
    Ok(())
}

/// Deep-merges `overlay` into `base`, remembering where each leaf came from for error messages.
fn merge(
    base: &mut toml::Table,
    overlay: toml::Table,
    origin: &str,
    prefix: &str,
    origins: &mut BTreeMap<String, String>,
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
    origins: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    if ENV_NOT_KEYS.contains(&name) {
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
    if path == ["model", "api_key"] {
        return Err(ConfigError::KeyInConfig {
            origin: name.to_string(),
        });
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

fn origin_of(origins: &BTreeMap<String, String>, key: &str) -> String {
    origins
        .iter()
        .filter(|(path, _)| key == path.as_str() || key.starts_with(&format!("{path}.")))
        .map(|(_, origin)| origin.clone())
        .next()
        .or_else(|| {
            // An unknown key is reported at its parent path; name every layer that set something there.
            let set: Vec<_> = origins
                .iter()
                .filter(|(path, _)| path.starts_with(&format!("{key}.")))
                .map(|(_, origin)| origin.clone())
                .collect();
            (!set.is_empty()).then(|| set.join(", "))
        })
        .unwrap_or_else(|| "config/default.toml".to_string())
}

fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    Ok(Settings {
        source: SourceSettings {
            kind: raw.source.kind,
            hf_base_url: url("source.hf_base_url", raw.source.hf_base_url)?,
            arxiv_base_url: url("source.arxiv_base_url", raw.source.arxiv_base_url)?,
            arxiv_min_interval: seconds(
                "source.arxiv_min_interval_secs",
                raw.source.arxiv_min_interval_secs,
                0.0,
            )?,
            arxiv_page_size: at_least("source.arxiv_page_size", raw.source.arxiv_page_size, 1)?,
            categories: raw.source.categories,
            request_timeout: seconds(
                "source.request_timeout_secs",
                raw.source.request_timeout_secs,
                0.001,
            )?,
            fetch_retries: raw.source.fetch_retries,
            fetch_retry_initial: seconds(
                "source.fetch_retry_initial_secs",
                raw.source.fetch_retry_initial_secs,
                0.0,
            )?,
        },
        model: validate_model(raw.model)?,
        run: RunSettings {
            concurrency: at_least("run.concurrency", raw.run.concurrency, 1)?,
            max_tokens: (raw.run.max_tokens > 0).then_some(raw.run.max_tokens),
            max_cost_usd: non_negative("run.max_cost_usd", raw.run.max_cost_usd)?
                .gt(&0.0)
                .then_some(raw.run.max_cost_usd),
            database: non_empty_path("run.database", raw.run.database)?,
            out_dir: non_empty_path("run.out_dir", raw.run.out_dir)?,
            prompts_dir: optional_path(raw.run.prompts_dir),
        },
        checks: CheckSettings {
            max_repairs: raw.checks.max_repairs,
            min_hangul_share: share("checks.min_hangul_share", raw.checks.min_hangul_share)?,
            min_section_chars: raw.checks.min_section_chars,
            max_section_chars: at_least(
                "checks.max_section_chars",
                raw.checks.max_section_chars,
                raw.checks.min_section_chars.max(1),
            )?,
        },
        identity: validate_identity(raw.checks.identity)?,
        judge: JudgeSettings {
            borderline_margin: share(
                "checks.judge.borderline_margin",
                raw.checks.judge.borderline_margin,
            )?,
            ..raw.checks.judge
        },
        include_flagged: raw.render.include_flagged,
    })
}

fn validate_identity(identity: IdentitySettings) -> Result<IdentitySettings, ConfigError> {
    share(
        "checks.identity.min_anchor_coverage",
        identity.min_anchor_coverage,
    )?;
    share(
        "checks.identity.corroborate_below",
        identity.corroborate_below,
    )?;
    share("checks.identity.contrast_margin", identity.contrast_margin)?;
    Ok(identity)
}

fn validate_model(raw: RawModel) -> Result<ModelConfig, ConfigError> {
    if !matches!(
        raw.max_tokens_field.as_str(),
        "max_tokens" | "max_completion_tokens"
    ) {
        return Err(invalid(
            "model.max_tokens_field",
            &raw.max_tokens_field,
            "expected \"max_tokens\" or \"max_completion_tokens\"",
        ));
    }
    if raw.name.trim().is_empty() {
        return Err(invalid("model.name", "\"\"", "a model name is required"));
    }
    if !(0.0..=2.0).contains(&raw.temperature) {
        return Err(invalid(
            "model.temperature",
            &raw.temperature.to_string(),
            "expected 0.0 to 2.0",
        ));
    }
    Ok(ModelConfig {
        base_url: url("model.base_url", raw.base_url)?,
        name: raw.name,
        temperature: raw.temperature,
        max_output_tokens: at_least("model.max_output_tokens", raw.max_output_tokens, 1)?,
        max_tokens_field: raw.max_tokens_field,
        request_timeout: seconds(
            "model.request_timeout_secs",
            raw.request_timeout_secs,
            0.001,
        )?,
        max_retries: raw.max_retries,
        backoff_initial: Duration::from_millis(raw.backoff_initial_ms),
        backoff_max: seconds("model.backoff_max_secs", raw.backoff_max_secs, 0.0)?,
        structured_output: raw.structured_output,
        requests_per_minute: (raw.requests_per_minute > 0).then_some(raw.requests_per_minute),
        tokens_per_minute: (raw.tokens_per_minute > 0).then_some(raw.tokens_per_minute),
        max_abstract_tokens: at_least("model.max_abstract_tokens", raw.max_abstract_tokens, 16)?,
        price_input_per_mtok: non_negative("model.price_input_per_mtok", raw.price_input_per_mtok)?,
        price_output_per_mtok: non_negative(
            "model.price_output_per_mtok",
            raw.price_output_per_mtok,
        )?,
        api_key_file: optional_path(raw.api_key_file),
        require_api_key: raw.require_api_key,
    })
}

fn invalid(key: &'static str, value: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        message: message.to_string(),
    }
}

fn url(key: &'static str, value: String) -> Result<String, ConfigError> {
    match reqwest::Url::parse(&value) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            Ok(value.trim_end_matches('/').to_string())
        }
        Ok(_) => Err(invalid(key, &value, "expected an http:// or https:// URL")),
        Err(e) => Err(invalid(key, &value, &format!("not a URL: {e}"))),
    }
}

fn seconds(key: &'static str, value: f64, minimum: f64) -> Result<Duration, ConfigError> {
    if !value.is_finite() || value < minimum || value > 86_400.0 {
        return Err(invalid(
            key,
            &value.to_string(),
            &format!("expected seconds between {minimum} and 86400"),
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn at_least<T: PartialOrd + Copy + std::fmt::Display>(
    key: &'static str,
    value: T,
    minimum: T,
) -> Result<T, ConfigError> {
    if value < minimum {
        return Err(invalid(
            key,
            &value.to_string(),
            &format!("must be at least {minimum}"),
        ));
    }
    Ok(value)
}

fn non_negative(key: &'static str, value: f64) -> Result<f64, ConfigError> {
    if !value.is_finite() || value < 0.0 {
        return Err(invalid(key, &value.to_string(), "must be 0 or more"));
    }
    Ok(value)
}

fn share(key: &'static str, value: f64) -> Result<f64, ConfigError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(invalid(key, &value.to_string(), "expected 0.0 to 1.0"));
    }
    Ok(value)
}

fn non_empty_path(key: &'static str, value: String) -> Result<PathBuf, ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(key, "\"\"", "a path is required"));
    }
    Ok(PathBuf::from(value))
}

fn optional_path(value: String) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
}

/// The API key from `OPENAI_API_KEY`, else from `model.api_key_file`. `Ok(None)` only when no key is
/// required. The key is returned to the caller and never logged or stored.
pub fn resolve_api_key(
    model: &ModelConfig,
    env_key: Option<String>,
) -> Result<Option<String>, ConfigError> {
    if let Some(key) = env_key.filter(|k| !k.trim().is_empty()) {
        return Ok(Some(key.trim().to_string()));
    }
    if let Some(path) = &model.api_key_file {
        let key = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::KeyFile {
                path: path.clone(),
                message: "the file is empty".to_string(),
            });
        }
        return Ok(Some(key.to_string()));
    }
    if model.require_api_key {
        return Err(ConfigError::MissingApiKey);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_validate() {
        let settings = load(None, Vec::new()).unwrap();
        assert_eq!(settings.source.kind, SourceKind::HfDaily);
        assert_eq!(settings.source.arxiv_min_interval, Duration::from_secs(3));
        assert_eq!(settings.model.max_tokens_field, "max_tokens");
        assert_eq!(settings.run.max_tokens, None);
        assert_eq!(settings.checks.max_repairs, 2);
    }

    #[test]
    fn file_then_env_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[model]\nname = \"from-file\"\nbase_url = \"http://127.0.0.1:9/v1/\"\n[run]\nconcurrency = 8\n",
        )
        .unwrap();
        let settings = load(
            Some(&path),
            env(&[
                ("PAPER_DIGEST_RUN__CONCURRENCY", "2"),
                ("PAPER_DIGEST_SOURCE__CATEGORIES", "[\"cs.CV\", \"cs.LG\"]"),
                ("PAPER_DIGEST_CHECKS__IDENTITY__CONTRAST_MARGIN", "0.1"),
                ("PAPER_DIGEST_CHECKS__JUDGE__ENABLED", "true"),
                ("PAPER_DIGEST_CONFIG", "ignored"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.model.name, "from-file");
        assert_eq!(settings.model.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(settings.run.concurrency, 2);
        assert_eq!(settings.source.categories, vec!["cs.CV", "cs.LG"]);
        assert_eq!(settings.identity.contrast_margin, 0.1);
        assert!(settings.judge.enabled);
    }

    #[test]
    fn wrong_type_names_key_and_origin() {
        let err = load(None, env(&[("PAPER_DIGEST_RUN__CONCURRENCY", "many")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("run.concurrency"), "{text}");
        assert!(text.contains("PAPER_DIGEST_RUN__CONCURRENCY"), "{text}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[model]\ntemprature = 0.1\n").unwrap();
        let text = load(Some(&path), Vec::new()).unwrap_err().to_string();
        assert!(text.contains("temprature"), "{text}");
        assert!(text.contains("c.toml"), "{text}");
    }

    #[test]
    fn api_key_is_refused_in_config_file_and_env_key_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[model]\napi_key = \"sk-secret\"\n").unwrap();
        let text = load(Some(&path), Vec::new()).unwrap_err().to_string();
        assert!(text.contains("never read from a config file"), "{text}");
        assert!(!text.contains("sk-secret"));
        let err = load(None, env(&[("PAPER_DIGEST_MODEL__API_KEY", "sk-secret")])).unwrap_err();
        assert!(!err.to_string().contains("sk-secret"));
    }

    #[test]
    fn invalid_values_are_explained() {
        let cases = [
            (
                "PAPER_DIGEST_MODEL__BASE_URL",
                "not a url",
                "model.base_url",
            ),
            ("PAPER_DIGEST_RUN__CONCURRENCY", "0", "run.concurrency"),
            (
                "PAPER_DIGEST_CHECKS__MIN_HANGUL_SHARE",
                "1.5",
                "checks.min_hangul_share",
            ),
            ("PAPER_DIGEST_SOURCE__KIND", "\"rss\"", "source.kind"),
            ("PAPER_DIGEST_NOPE__X", "1", "unknown config section"),
            (
                "PAPER_DIGEST_CHECKS__NOPE__X",
                "1",
                "unknown config section `checks.nope`",
            ),
            ("PAPER_DIGEST_CHECKS__JUDGE__ENABLD", "true", "enabld"),
            ("PAPER_DIGEST_MODEL", "x", "PAPER_DIGEST_<SECTION>__<KEY>"),
        ];
        for (name, value, expected) in cases {
            let text = load(None, env(&[(name, value)])).unwrap_err().to_string();
            assert!(text.contains(expected), "{name}={value}: {text}");
        }
    }

    #[test]
    fn api_key_resolution() {
        let mut model = load(None, Vec::new()).unwrap().model;
        assert!(matches!(
            resolve_api_key(&model, None),
            Err(ConfigError::MissingApiKey)
        ));
        assert_eq!(
            resolve_api_key(&model, Some(" sk-env \n".into())).unwrap(),
            Some("sk-env".to_string())
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-file\n").unwrap();
        model.api_key_file = Some(path);
        assert_eq!(
            resolve_api_key(&model, None).unwrap(),
            Some("sk-file".to_string())
        );
        model.api_key_file = None;
        model.require_api_key = false;
        assert_eq!(resolve_api_key(&model, None).unwrap(), None);
    }
}
