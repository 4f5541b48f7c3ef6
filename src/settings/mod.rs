//! Settings, read once: the raw layers ([`layers`]: defaults ← `--config FILE` ← `PAPER_DIGEST_*`)
//! are turned here, in one place, into the final types each stage takes (URLs as URLs, durations,
//! enums, optional limits as `Option`s, the API key as a secret). Every error names the key and the
//! layer that set it; nothing downstream validates again, and no default lives anywhere but
//! `config/default.toml`.

mod layers;
mod publish;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

pub use layers::{DEFAULT_TOML, ENV_PREFIX};
pub use publish::PublishConfig;

use crate::checks::identity::{IdentitySettings, WrittenFrom};
use crate::checks::judge::JudgeSettings;
use crate::checks::shape::ShapeLimits;
use crate::model::{ApiKey, MaxTokensField, ModelSettings};
use crate::pipeline::fetch::FetchSettings;
use crate::pipeline::summarize::{BudgetLimits, SummarizeSettings};
use crate::web::{ServeToken, WebSettings};
use layers::{origin_of, Origins, RawConfig, RawModel, RawServe};

/// The process environment as data: commands read variables from here, never from the process, so
/// every command runs in-process in tests with the variables a test gives it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The variables of this process (those that are not valid UTF-8 are skipped).
    pub fn from_process() -> Env {
        Env::from_pairs(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            vars: pairs.into_iter().collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The variable the API key is read from.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The variable the review server's token is read from.
pub const SERVE_TOKEN_ENV: &str = "PAPER_DIGEST_SERVE_TOKEN";

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
    #[error("config key `{key}` ({origin}): {value} {message}")]
    Invalid {
        key: &'static str,
        origin: String,
        value: String,
        message: String,
    },
    #[error("no API key: set OPENAI_API_KEY or model.api_key_file (or model.require_api_key = false for a local server)")]
    MissingApiKey,
    #[error("cannot read API key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("the API key in {origin} contains control characters (a line break inside it?)")]
    KeyUnusable { origin: String },
    #[error("the API key is never read from a config file ({origin}); set OPENAI_API_KEY or model.api_key_file")]
    KeyInConfig { origin: String },
    #[error("the serve token is never read from a config file ({origin}); set PAPER_DIGEST_SERVE_TOKEN or serve.token_file")]
    TokenInConfig { origin: String },
    #[error("cannot read serve token file {path}: {message}")]
    TokenFile { path: PathBuf, message: String },
    #[error("the serve token in {origin} contains control characters (a line break inside it?)")]
    TokenUnusable { origin: String },
    #[error("config key `{key}` ({origin}): {what} is a secret and never read from a config file; set {env} or {file_key}")]
    SecretInConfig {
        key: String,
        origin: String,
        what: &'static str,
        env: &'static str,
        file_key: &'static str,
    },
    #[error("{section} is enabled but {what} is not set: set {env} or {file_key}")]
    SecretMissing {
        section: &'static str,
        what: &'static str,
        env: &'static str,
        file_key: &'static str,
    },
    #[error("{what} in {origin} {message}")]
    Secret {
        what: &'static str,
        origin: String,
        message: String,
    },
}

/// Where the review server's token comes from; read when `serve` starts.
#[derive(Debug, Clone)]
pub enum ServeTokenSource {
    /// `PAPER_DIGEST_SERVE_TOKEN`, already read.
    Env(ServeToken),
    /// `serve.token_file` (e.g. a Docker secret), read on use.
    File(PathBuf),
    /// Neither is set: the server is read-only.
    Missing,
}

impl ServeTokenSource {
    /// The token, or `None` when none is set.
    pub fn resolve(&self) -> Result<Option<ServeToken>, ConfigError> {
        match self {
            ServeTokenSource::Env(token) => Ok(Some(token.clone())),
            ServeTokenSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::TokenFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let token = ServeToken::new(&text).map_err(|_| ConfigError::TokenUnusable {
                    origin: path.display().to_string(),
                })?;
                token.map(Some).ok_or_else(|| ConfigError::TokenFile {
                    path: path.clone(),
                    message: "the file is empty".to_string(),
                })
            }
            ServeTokenSource::Missing => Ok(None),
        }
    }
}

/// Where the API key comes from; read when a command needs the model (`digest` or `report` need none).
#[derive(Debug, Clone)]
pub enum ApiKeySource {
    /// `OPENAI_API_KEY`, already read.
    Env(ApiKey),
    /// `model.api_key_file` (e.g. a Docker secret), read on use.
    File(PathBuf),
    /// Neither is set.
    Missing { required: bool },
}

impl ApiKeySource {
    /// The key, or `None` when none is set and none is required (a local server).
    pub fn resolve(&self) -> Result<Option<ApiKey>, ConfigError> {
        match self {
            ApiKeySource::Env(key) => Ok(Some(key.clone())),
            ApiKeySource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::KeyFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let key = ApiKey::new(&text).map_err(|_| ConfigError::KeyUnusable {
                    origin: path.display().to_string(),
                })?;
                key.map(Some).ok_or_else(|| ConfigError::KeyFile {
                    path: path.clone(),
                    message: "the file is empty".to_string(),
                })
            }
            ApiKeySource::Missing { required: true } => Err(ConfigError::MissingApiKey),
            ApiKeySource::Missing { required: false } => Ok(None),
        }
    }
}

/// Everything the commands need, in the types the stages take.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The fetch stage: which source, where, how patiently.
    pub source: FetchSettings,
    /// The chat model client.
    pub model: ModelSettings,
    pub api_key: ApiKeySource,
    /// The summarize stage: checks, repairs, concurrency and the run's budget.
    pub summarize: SummarizeSettings,
    pub database: PathBuf,
    /// How long a run's claim on a paper holds without renewal.
    pub claim_lease: Duration,
    pub out_dir: PathBuf,
    /// A folder whose `*.j2` files replace the built-in prompt templates.
    pub prompts_dir: Option<PathBuf>,
    /// Flagged summaries go into the digest, under a warning line.
    pub include_flagged: bool,
    /// What the digests `lint` audits were written from.
    pub lint_written_from: WrittenFrom,
    /// The review server (`serve`).
    pub web: WebSettings,
    pub serve_token: ServeTokenSource,
    /// Where days are published and who hears about a run that needs a person (`[publish]`).
    pub publish: PublishConfig,
}

impl Settings {
    /// Loads defaults, then `file`, then the `PAPER_DIGEST_*` variables (and the API key) of `env`.
    pub fn load(file: Option<&Path>, env: &Env) -> Result<Settings, ConfigError> {
        let (raw, origins) = layers::load(file, env)?;
        let api_key = api_key_source(&raw.model, env)?;
        let serve_token = serve_token_source(&raw.serve, env)?;
        Validator { origins: &origins }.settings(raw, api_key, serve_token, env)
    }

    /// The built-in defaults alone (`config/default.toml`).
    pub fn defaults() -> Result<Settings, ConfigError> {
        Settings::load(None, &Env::default())
    }
}

fn api_key_source(model: &RawModel, env: &Env) -> Result<ApiKeySource, ConfigError> {
    if let Some(text) = env.get(API_KEY_ENV) {
        let unusable = |_| ConfigError::KeyUnusable {
            origin: API_KEY_ENV.to_string(),
        };
        if let Some(key) = ApiKey::new(text).map_err(unusable)? {
            return Ok(ApiKeySource::Env(key));
        }
    }
    Ok(match optional_path(&model.api_key_file) {
        Some(path) => ApiKeySource::File(path),
        None => ApiKeySource::Missing {
            required: model.require_api_key,
        },
    })
}

fn serve_token_source(serve: &RawServe, env: &Env) -> Result<ServeTokenSource, ConfigError> {
    if let Some(text) = env.get(SERVE_TOKEN_ENV) {
        let unusable = |_| ConfigError::TokenUnusable {
            origin: SERVE_TOKEN_ENV.to_string(),
        };
        if let Some(token) = ServeToken::new(text).map_err(unusable)? {
            return Ok(ServeTokenSource::Env(token));
        }
    }
    Ok(match optional_path(&serve.token_file) {
        Some(path) => ServeTokenSource::File(path),
        None => ServeTokenSource::Missing,
    })
}

/// Turns raw values into final types; each error names the key and the layer that set it.
struct Validator<'a> {
    origins: &'a Origins,
}

impl Validator<'_> {
    fn settings(
        &self,
        raw: RawConfig,
        api_key: ApiKeySource,
        serve_token: ServeTokenSource,
        env: &Env,
    ) -> Result<Settings, ConfigError> {
        let concurrency = self.at_least("run.concurrency", raw.run.concurrency, 1)?;
        let source = &raw.source;
        Ok(Settings {
            source: FetchSettings {
                kind: source.kind,
                hf_base_url: self.url("source.hf_base_url", &source.hf_base_url)?,
                hf_page_size: self.at_least("source.hf_page_size", source.hf_page_size, 1)?,
                hf_max_pages: self.at_least("source.hf_max_pages", source.hf_max_pages, 1)?,
                arxiv_base_url: self.url("source.arxiv_base_url", &source.arxiv_base_url)?,
                arxiv_html_base_url: self
                    .url("source.arxiv_html_base_url", &source.arxiv_html_base_url)?,
                arxiv_min_interval: self.seconds(
                    "source.arxiv_min_interval_secs",
                    source.arxiv_min_interval_secs,
                    0.0,
                )?,
                arxiv_page_size: self.at_least(
                    "source.arxiv_page_size",
                    source.arxiv_page_size,
                    1,
                )?,
                categories: source.categories.clone(),
                request_timeout: self.seconds(
                    "source.request_timeout_secs",
                    source.request_timeout_secs,
                    0.001,
                )?,
                max_response_bytes: self.at_least(
                    "source.max_response_bytes",
                    source.max_response_bytes,
                    1024,
                )?,
                fetch_retries: source.fetch_retries,
                fetch_retry_initial: self.seconds(
                    "source.fetch_retry_initial_secs",
                    source.fetch_retry_initial_secs,
                    0.0,
                )?,
            },
            model: self.model(&raw.model, concurrency)?,
            api_key,
            summarize: SummarizeSettings {
                concurrency,
                max_repairs: raw.checks.max_repairs,
                max_abstract_tokens: self.at_least(
                    "model.max_abstract_tokens",
                    raw.model.max_abstract_tokens,
                    16,
                )?,
                shape: ShapeLimits {
                    min_hangul_share: self
                        .share("checks.min_hangul_share", raw.checks.min_hangul_share)?,
                    min_section_chars: raw.checks.min_section_chars,
                    max_section_chars: self.at_least(
                        "checks.max_section_chars",
                        raw.checks.max_section_chars,
                        raw.checks.min_section_chars.max(1),
                    )?,
                },
                identity: self.identity(&raw)?,
                judge: JudgeSettings {
                    enabled: raw.checks.judge.enabled,
                    borderline_margin: self.share(
                        "checks.judge.borderline_margin",
                        raw.checks.judge.borderline_margin,
                    )?,
                },
                budget: BudgetLimits {
                    max_tokens: (raw.run.max_tokens > 0).then_some(raw.run.max_tokens),
                    max_cost_usd: Some(
                        self.non_negative("run.max_cost_usd", raw.run.max_cost_usd)?,
                    )
                    .filter(|cost| *cost > 0.0),
                },
            },
            database: self.path("run.database", &raw.run.database)?,
            claim_lease: self.seconds("run.claim_lease_secs", raw.run.claim_lease_secs, 1.0)?,
            out_dir: self.path("run.out_dir", &raw.run.out_dir)?,
            prompts_dir: optional_path(&raw.run.prompts_dir),
            include_flagged: raw.render.include_flagged,
            lint_written_from: raw.lint.written_from,
            web: WebSettings {
                bind: raw.serve.bind.trim().parse().map_err(|_| {
                    self.invalid(
                        "serve.bind",
                        &format!("{:?}", raw.serve.bind),
                        "is not an IP address and port like 127.0.0.1:8080",
                    )
                })?,
            },
            serve_token,
            publish: self.publish(&raw.publish, env)?,
        })
    }

    fn identity(&self, raw: &RawConfig) -> Result<IdentitySettings, ConfigError> {
        let identity = &raw.checks.identity;
        Ok(IdentitySettings {
            min_anchor_coverage: self.share(
                "checks.identity.min_anchor_coverage",
                identity.min_anchor_coverage,
            )?,
            corroborate_below: self.share(
                "checks.identity.corroborate_below",
                identity.corroborate_below,
            )?,
            max_unsupported_figures: identity.max_unsupported_figures,
            min_specific: identity.min_specific,
            contrast_margin: self
                .share("checks.identity.contrast_margin", identity.contrast_margin)?,
            max_listed: identity.max_listed,
        })
    }

    fn model(&self, raw: &RawModel, concurrency: usize) -> Result<ModelSettings, ConfigError> {
        let max_tokens_field: MaxTokensField = raw.max_tokens_field.parse().map_err(|_| {
            self.invalid(
                "model.max_tokens_field",
                &raw.max_tokens_field,
                "is not one of \"max_tokens\", \"max_completion_tokens\"",
            )
        })?;
        if raw.name.trim().is_empty() {
            return Err(self.invalid("model.name", "\"\"", "is empty: a model name is required"));
        }
        if !(0.0..=2.0).contains(&raw.temperature) {
            return Err(self.invalid(
                "model.temperature",
                &raw.temperature.to_string(),
                "is outside 0.0 to 2.0",
            ));
        }
        Ok(ModelSettings {
            base_url: self.url("model.base_url", &raw.base_url)?,
            model: raw.name.trim().to_string(),
            temperature: raw.temperature,
            max_output_tokens: self.at_least(
                "model.max_output_tokens",
                raw.max_output_tokens,
                1,
            )?,
            max_tokens_field,
            request_timeout: self.seconds(
                "model.request_timeout_secs",
                raw.request_timeout_secs,
                0.001,
            )?,
            max_retries: raw.max_retries,
            backoff_initial: Duration::from_millis(raw.backoff_initial_ms),
            backoff_max: self.seconds("model.backoff_max_secs", raw.backoff_max_secs, 0.0)?,
            max_retry_after: self.seconds(
                "model.max_retry_after_secs",
                raw.max_retry_after_secs,
                0.0,
            )?,
            max_response_bytes: self.at_least(
                "model.max_response_bytes",
                raw.max_response_bytes,
                1024,
            )?,
            max_concurrency: concurrency,
            requests_per_minute: NonZeroU32::new(raw.requests_per_minute),
            tokens_per_minute: NonZeroU32::new(raw.tokens_per_minute),
            structured_output: raw.structured_output,
            price_input_per_mtok: self
                .non_negative("model.price_input_per_mtok", raw.price_input_per_mtok)?,
            price_output_per_mtok: self
                .non_negative("model.price_output_per_mtok", raw.price_output_per_mtok)?,
        })
    }

    fn invalid(&self, key: &'static str, value: &str, message: &str) -> ConfigError {
        ConfigError::Invalid {
            key,
            origin: origin_of(self.origins, key),
            value: value.to_string(),
            message: message.to_string(),
        }
    }

    fn url(&self, key: &'static str, value: &str) -> Result<Url, ConfigError> {
        let trimmed = value.trim().trim_end_matches('/');
        match Url::parse(trimmed) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(parsed),
            Ok(_) => Err(self.invalid(
                key,
                &format!("{value:?}"),
                "is not an http:// or https:// URL",
            )),
            Err(e) => Err(self.invalid(key, &format!("{value:?}"), &format!("is not a URL: {e}"))),
        }
    }

    fn seconds(
        &self,
        key: &'static str,
        value: f64,
        minimum: f64,
    ) -> Result<Duration, ConfigError> {
        if !value.is_finite() || value < minimum || value > 86_400.0 {
            return Err(self.invalid(
                key,
                &value.to_string(),
                &format!("is not a number of seconds between {minimum} and 86400"),
            ));
        }
        Ok(Duration::from_secs_f64(value))
    }

    fn at_least<T: PartialOrd + Copy + std::fmt::Display>(
        &self,
        key: &'static str,
        value: T,
        minimum: T,
    ) -> Result<T, ConfigError> {
        if value < minimum {
            return Err(self.invalid(key, &value.to_string(), &format!("is less than {minimum}")));
        }
        Ok(value)
    }

    fn non_negative(&self, key: &'static str, value: f64) -> Result<f64, ConfigError> {
        if !value.is_finite() || value < 0.0 {
            return Err(self.invalid(key, &value.to_string(), "is not 0 or more"));
        }
        Ok(value)
    }

    fn share(&self, key: &'static str, value: f64) -> Result<f64, ConfigError> {
        if !(0.0..=1.0).contains(&value) {
            return Err(self.invalid(key, &value.to_string(), "is outside 0.0 to 1.0"));
        }
        Ok(value)
    }

    fn path(&self, key: &'static str, value: &str) -> Result<PathBuf, ConfigError> {
        if value.trim().is_empty() {
            return Err(self.invalid(key, "\"\"", "is empty: a path is required"));
        }
        Ok(PathBuf::from(value))
    }
}

fn optional_path(value: &str) -> Option<PathBuf> {
    (!value.trim().is_empty()).then(|| PathBuf::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_load_and_validate() {
        let settings = Settings::defaults().unwrap();
        assert_eq!(settings.source.kind, crate::source::SourceKind::HfDaily);
        assert_eq!(settings.source.arxiv_min_interval, Duration::from_secs(3));
        assert_eq!(settings.model.max_tokens_field, MaxTokensField::MaxTokens);
        assert_eq!(settings.summarize.budget.max_tokens, None);
        assert_eq!(settings.summarize.max_repairs, 2);
        assert_eq!(settings.summarize.shape.min_hangul_share, 0.3);
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
        let settings = Settings::load(
            Some(&path),
            &env(&[
                ("PAPER_DIGEST_RUN__CONCURRENCY", "2"),
                ("PAPER_DIGEST_SOURCE__CATEGORIES", "[\"cs.CV\", \"cs.LG\"]"),
                ("PAPER_DIGEST_CHECKS__IDENTITY__CONTRAST_MARGIN", "0.1"),
                ("PAPER_DIGEST_CHECKS__JUDGE__ENABLED", "true"),
                ("PAPER_DIGEST_CONFIG", "ignored"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.model.model, "from-file");
        assert_eq!(settings.model.base_url.as_str(), "http://127.0.0.1:9/v1");
        assert_eq!(settings.summarize.concurrency, 2);
        assert_eq!(settings.model.max_concurrency, 2);
        assert_eq!(settings.source.categories, vec!["cs.CV", "cs.LG"]);
        assert_eq!(settings.summarize.identity.contrast_margin, 0.1);
        assert!(settings.summarize.judge.enabled);
    }

    #[test]
    fn wrong_type_names_key_and_origin() {
        let err =
            Settings::load(None, &env(&[("PAPER_DIGEST_RUN__CONCURRENCY", "many")])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("run.concurrency"), "{text}");
        assert!(text.contains("PAPER_DIGEST_RUN__CONCURRENCY"), "{text}");
    }

    #[test]
    fn invalid_value_names_key_and_origin() {
        let err = Settings::load(
            None,
            &env(&[("PAPER_DIGEST_MODEL__BASE_URL", "localhost:8081")]),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("model.base_url"), "{text}");
        assert!(text.contains("PAPER_DIGEST_MODEL__BASE_URL"), "{text}");
        assert!(text.contains("localhost:8081"), "{text}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[model]\ntemprature = 0.1\n").unwrap();
        let text = Settings::load(Some(&path), &Env::default())
            .unwrap_err()
            .to_string();
        assert!(text.contains("temprature"), "{text}");
        assert!(text.contains("c.toml"), "{text}");
    }

    #[test]
    fn api_key_is_refused_in_config_file_and_env_key_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[model]\napi_key = \"sk-secret\"\n").unwrap();
        let text = Settings::load(Some(&path), &Env::default())
            .unwrap_err()
            .to_string();
        assert!(text.contains("never read from a config file"), "{text}");
        assert!(!text.contains("sk-secret"));
        let err = Settings::load(None, &env(&[("PAPER_DIGEST_MODEL__API_KEY", "sk-secret")]))
            .unwrap_err();
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
            (
                "PAPER_DIGEST_MODEL__MAX_TOKENS_FIELD",
                "maxTokens",
                "model.max_tokens_field",
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
            let text = Settings::load(None, &env(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(text.contains(expected), "{name}={value}: {text}");
        }
    }

    #[test]
    fn serve_settings_and_token() {
        let defaults = Settings::defaults().unwrap();
        assert_eq!(defaults.web.bind.to_string(), "127.0.0.1:8080");
        assert!(defaults.serve_token.resolve().unwrap().is_none());
        let from_env = Settings::load(None, &env(&[("PAPER_DIGEST_SERVE_TOKEN", " tok-1 \n")]))
            .unwrap()
            .serve_token
            .resolve()
            .unwrap()
            .unwrap();
        assert!(from_env.matches("tok-1"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok-file\n").unwrap();
        let file = path.display().to_string();
        let from_file = Settings::load(None, &env(&[("PAPER_DIGEST_SERVE__TOKEN_FILE", &file)]))
            .unwrap()
            .serve_token
            .resolve()
            .unwrap()
            .unwrap();
        assert!(from_file.matches("tok-file"));
        let bad = Settings::load(None, &env(&[("PAPER_DIGEST_SERVE__BIND", "localhost:80")]))
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("serve.bind") && bad.contains("PAPER_DIGEST_SERVE__BIND"),
            "{bad}"
        );
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "[serve]\ntoken = \"tok-secret\"\n").unwrap();
        let refused = Settings::load(Some(&config), &Env::default())
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("never read from a config file"),
            "{refused}"
        );
        assert!(!refused.contains("tok-secret"), "{refused}");
    }

    #[test]
    fn api_key_resolution() {
        let missing = Settings::defaults().unwrap().api_key;
        assert!(matches!(missing.resolve(), Err(ConfigError::MissingApiKey)));
        let from_env = Settings::load(None, &env(&[("OPENAI_API_KEY", " sk-env \n")]))
            .unwrap()
            .api_key
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!(from_env.expose_secret(), "sk-env");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-file\n").unwrap();
        let file = path.display().to_string();
        let from_file = Settings::load(None, &env(&[("PAPER_DIGEST_MODEL__API_KEY_FILE", &file)]))
            .unwrap()
            .api_key
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!(from_file.expose_secret(), "sk-file");
        let keyless = Settings::load(
            None,
            &env(&[("PAPER_DIGEST_MODEL__REQUIRE_API_KEY", "false")]),
        )
        .unwrap()
        .api_key;
        assert!(keyless.resolve().unwrap().is_none());
        let broken =
            Settings::load(None, &env(&[("OPENAI_API_KEY", "sk-abc\nsk-def")])).unwrap_err();
        assert!(!broken.to_string().contains("sk-abc"), "{broken}");
    }
}
