//! `[publish]`, validated once into the publishing targets' types. Webhook URLs and the git token are
//! secrets: they come from an environment variable or a file (e.g. a Docker or Kubernetes secret),
//! never from a config file, and are read when a command publishes (`run`, `publish`), not before.

use std::fmt;
use std::path::PathBuf;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

use super::layers::{RawArchive, RawPublish};
use super::{optional_path, ConfigError, Env, Validator};
use crate::publish::{
    AlertSettings, ArchiveSettings, Delivery, FeedSettings, GitSettings, GitToken, PublishSettings,
    SiteSettings, WebhookKind, WebhookTarget, WebhookUrl,
};

/// A secret of `[publish]`: the variable it is read from, the config key it must not be given as,
/// and the key naming a file that holds it.
#[derive(Debug)]
pub(super) struct Secret {
    pub env: &'static str,
    /// `(section, key)` under `[publish]`.
    pub key: (&'static str, &'static str),
    pub file_key: &'static str,
    pub what: &'static str,
}

static SLACK: Secret = Secret {
    env: "PAPER_DIGEST_SLACK_WEBHOOK_URL",
    key: ("slack", "url"),
    file_key: "publish.slack.url_file",
    what: "the Slack webhook URL",
};
static DISCORD: Secret = Secret {
    env: "PAPER_DIGEST_DISCORD_WEBHOOK_URL",
    key: ("discord", "url"),
    file_key: "publish.discord.url_file",
    what: "the Discord webhook URL",
};
static WEBHOOK: Secret = Secret {
    env: "PAPER_DIGEST_WEBHOOK_URL",
    key: ("webhook", "url"),
    file_key: "publish.webhook.url_file",
    what: "the JSON webhook URL",
};
static ALERT: Secret = Secret {
    env: "PAPER_DIGEST_ALERT_WEBHOOK_URL",
    key: ("alert", "url"),
    file_key: "publish.alert.url_file",
    what: "the alert webhook URL",
};
static GIT_TOKEN: Secret = Secret {
    env: "PAPER_DIGEST_GIT_TOKEN",
    key: ("archive", "git_token"),
    file_key: "publish.archive.git_token_file",
    what: "the git token",
};

/// Every secret of `[publish]` (their variables are not config keys).
pub(super) static SECRETS: [&Secret; 5] = [&SLACK, &DISCORD, &WEBHOOK, &ALERT, &GIT_TOKEN];

pub(super) fn secret_in_config(secret: &Secret, origin: &str) -> ConfigError {
    ConfigError::SecretInConfig {
        key: format!("publish.{}.{}", secret.key.0, secret.key.1),
        origin: origin.to_string(),
        what: secret.what,
        env: secret.env,
        file_key: secret.file_key,
    }
}

/// Where a secret comes from; read when a command publishes.
#[derive(Clone)]
enum Source {
    Env(&'static Secret, SecretString),
    File(&'static Secret, PathBuf),
    Missing(&'static Secret),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(secret, _) => write!(f, "Env({}, [REDACTED])", secret.env),
            Source::File(_, path) => write!(f, "File({})", path.display()),
            Source::Missing(secret) => write!(f, "Missing({})", secret.env),
        }
    }
}

impl Source {
    fn of(secret: &'static Secret, file: &str, env: &Env) -> Source {
        match env.get(secret.env).filter(|value| !value.trim().is_empty()) {
            Some(value) => Source::Env(secret, SecretString::from(value.to_string())),
            None => match optional_path(file) {
                Some(path) => Source::File(secret, path),
                None => Source::Missing(secret),
            },
        }
    }

    /// The secret's text and where it came from (a variable's name or a file's path).
    fn read(&self) -> Result<Option<(SecretString, String)>, ConfigError> {
        match self {
            Source::Env(secret, value) => Ok(Some((value.clone(), secret.env.to_string()))),
            Source::File(secret, path) => {
                let origin = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Secret {
                    what: secret.what,
                    origin: origin.clone(),
                    message: format!("cannot be read: {e}"),
                })?;
                Ok(Some((SecretString::from(text), origin)))
            }
            Source::Missing(_) => Ok(None),
        }
    }

    fn secret(&self) -> &'static Secret {
        match self {
            Source::Env(secret, _) | Source::File(secret, _) | Source::Missing(secret) => secret,
        }
    }

    fn webhook_url(&self, section: &'static str) -> Result<WebhookUrl, ConfigError> {
        let secret = self.secret();
        let (text, origin) = self.read()?.ok_or(ConfigError::SecretMissing {
            section,
            what: secret.what,
            env: secret.env,
            file_key: secret.file_key,
        })?;
        WebhookUrl::parse(text.expose_secret()).map_err(|e| ConfigError::Secret {
            what: secret.what,
            origin,
            message: e.to_string(),
        })
    }

    fn token(&self) -> Result<Option<GitToken>, ConfigError> {
        let secret = self.secret();
        let Some((text, origin)) = self.read()? else {
            return Ok(None);
        };
        GitToken::new(text.expose_secret()).map_err(|e| ConfigError::Secret {
            what: secret.what,
            origin,
            message: e.to_string(),
        })
    }
}

/// `[publish]` as validated; [`PublishConfig::resolve`] reads the secrets.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    title: String,
    delivery: Delivery,
    archive: Option<(ArchiveSettings, Source)>,
    site: Option<SiteSettings>,
    feed: Option<FeedSettings>,
    webhooks: Vec<(WebhookKind, Source)>,
    alert: Option<(WebhookKind, Source, bool)>,
}

impl PublishConfig {
    /// Whether a day is published anywhere (the alert alone publishes nothing).
    pub fn any_target(&self) -> bool {
        self.archive.is_some()
            || self.site.is_some()
            || self.feed.is_some()
            || !self.webhooks.is_empty()
    }

    /// Whether anything at all is configured (a target or the alert).
    pub fn any(&self) -> bool {
        self.any_target() || self.alert.is_some()
    }

    /// The targets' settings, with their secrets read from the environment or their files.
    pub fn resolve(&self) -> Result<PublishSettings, ConfigError> {
        let archive = match &self.archive {
            Some((archive, token)) => {
                let mut archive = archive.clone();
                if let Some(git) = &mut archive.git {
                    git.token = token.token()?;
                }
                Some(archive)
            }
            None => None,
        };
        let webhooks = self
            .webhooks
            .iter()
            .map(|(kind, source)| {
                Ok(WebhookTarget {
                    kind: *kind,
                    url: source.webhook_url(section_of(*kind))?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let alert = match &self.alert {
            Some((kind, source, on_no_announcement)) => Some(AlertSettings {
                target: WebhookTarget {
                    kind: *kind,
                    url: source.webhook_url("publish.alert")?,
                },
                on_no_announcement: *on_no_announcement,
            }),
            None => None,
        };
        Ok(PublishSettings {
            title: self.title.clone(),
            delivery: self.delivery.clone(),
            archive,
            site: self.site.clone(),
            feed: self.feed.clone(),
            webhooks,
            alert,
        })
    }
}

fn section_of(kind: WebhookKind) -> &'static str {
    match kind {
        WebhookKind::Slack => "publish.slack",
        WebhookKind::Discord => "publish.discord",
        WebhookKind::Json => "publish.webhook",
    }
}

impl Validator<'_> {
    pub(super) fn publish(
        &self,
        raw: &RawPublish,
        env: &Env,
    ) -> Result<PublishConfig, ConfigError> {
        if raw.title.trim().is_empty() {
            return Err(self.invalid("publish.title", "\"\"", "is empty"));
        }
        let delivery = Delivery {
            request_timeout: self.seconds(
                "publish.request_timeout_secs",
                raw.request_timeout_secs,
                0.001,
            )?,
            retries: raw.retries,
            retry_initial: self.seconds(
                "publish.retry_initial_secs",
                raw.retry_initial_secs,
                0.0,
            )?,
            retry_max_wait: self.seconds(
                "publish.retry_max_wait_secs",
                raw.retry_max_wait_secs,
                0.0,
            )?,
        };
        let archive = match raw.archive.enabled {
            true => Some((
                self.archive(&raw.archive)?,
                Source::of(&GIT_TOKEN, &raw.archive.git_token_file, env),
            )),
            false => None,
        };
        let site = match raw.site.enabled {
            true => Some(SiteSettings {
                dir: self.path("publish.site.dir", &raw.site.dir)?,
            }),
            false => None,
        };
        let feed = match raw.feed.enabled {
            true => Some(FeedSettings {
                dir: self.path("publish.feed.dir", &raw.feed.dir)?,
                base_url: self.base_url(&raw.feed.base_url)?,
                max_entries: self.at_least("publish.feed.max_entries", raw.feed.max_entries, 1)?,
            }),
            false => None,
        };
        let mut webhooks = Vec::new();
        for (kind, hook, secret) in [
            (WebhookKind::Slack, &raw.slack, &SLACK),
            (WebhookKind::Discord, &raw.discord, &DISCORD),
            (WebhookKind::Json, &raw.webhook, &WEBHOOK),
        ] {
            if hook.enabled {
                webhooks.push((kind, Source::of(secret, &hook.url_file, env)));
            }
        }
        let alert_kind = match raw.alert.kind.as_str() {
            "slack" => WebhookKind::Slack,
            "discord" => WebhookKind::Discord,
            "json" => WebhookKind::Json,
            other => {
                return Err(self.invalid(
                    "publish.alert.kind",
                    &format!("{other:?}"),
                    "is not one of \"slack\", \"discord\", \"json\"",
                ))
            }
        };
        let alert = raw.alert.enabled.then(|| {
            (
                alert_kind,
                Source::of(&ALERT, &raw.alert.url_file, env),
                raw.alert.on_no_announcement,
            )
        });
        Ok(PublishConfig {
            title: raw.title.trim().to_string(),
            delivery,
            archive,
            site,
            feed,
            webhooks,
            alert,
        })
    }

    fn archive(&self, raw: &RawArchive) -> Result<ArchiveSettings, ConfigError> {
        let dir = self.path("publish.archive.dir", &raw.dir)?;
        if !raw.git {
            return Ok(ArchiveSettings { dir, git: None });
        }
        let branch = raw.git_branch.trim();
        let bad_branch = branch.is_empty()
            || branch.starts_with('-')
            || branch.contains("..")
            || branch
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
        if bad_branch {
            return Err(self.invalid(
                "publish.archive.git_branch",
                &format!("{:?}", raw.git_branch),
                "is not a usable git branch name",
            ));
        }
        for (key, value) in [
            ("publish.archive.git_author_name", &raw.git_author_name),
            ("publish.archive.git_author_email", &raw.git_author_email),
            ("publish.archive.git_token_user", &raw.git_token_user),
        ] {
            if value.trim().is_empty()
                || value
                    .chars()
                    .any(|c| c.is_control() || c == '<' || c == '>')
            {
                return Err(self.invalid(
                    key,
                    &format!("{value:?}"),
                    "is empty or has control characters or angle brackets",
                ));
            }
        }
        let remote = raw.git_remote.trim();
        if Url::parse(remote).is_ok_and(|url| url.password().is_some()) {
            // Never quote it: it carries a password.
            return Err(self.invalid(
                "publish.archive.git_remote",
                "(not shown)",
                "has a password in it; give the token in PAPER_DIGEST_GIT_TOKEN or publish.archive.git_token_file",
            ));
        }
        Ok(ArchiveSettings {
            dir,
            git: Some(GitSettings {
                remote: (!remote.is_empty()).then(|| remote.to_string()),
                branch: branch.to_string(),
                author_name: raw.git_author_name.trim().to_string(),
                author_email: raw.git_author_email.trim().to_string(),
                token_user: raw.git_token_user.trim().to_string(),
                token: None,
            }),
        })
    }

    fn base_url(&self, value: &str) -> Result<Url, ConfigError> {
        if value.trim().is_empty() {
            return Err(self.invalid(
                "publish.feed.base_url",
                "\"\"",
                "is empty: the feed needs the site's public address for its links and ids",
            ));
        }
        self.url("publish.feed.base_url", value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match Settings::load(None, &env(pairs)).and_then(|s| s.publish.resolve()) {
            Ok(_) => panic!("{pairs:?} should be refused"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn everything_is_off_by_default() {
        let settings = Settings::defaults().unwrap();
        assert!(!settings.publish.any());
        let resolved = settings.publish.resolve().unwrap();
        assert!(resolved.webhooks.is_empty() && resolved.archive.is_none());
    }

    #[test]
    fn targets_are_typed_once_with_their_secrets() {
        let settings = Settings::load(
            None,
            &env(&[
                ("PAPER_DIGEST_PUBLISH__ARCHIVE__ENABLED", "true"),
                ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT", "true"),
                (
                    "PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_REMOTE",
                    "https://git.test/a.git",
                ),
                ("PAPER_DIGEST_GIT_TOKEN", "tok"),
                ("PAPER_DIGEST_PUBLISH__FEED__ENABLED", "true"),
                (
                    "PAPER_DIGEST_PUBLISH__FEED__BASE_URL",
                    "https://papers.test/",
                ),
                ("PAPER_DIGEST_PUBLISH__DISCORD__ENABLED", "true"),
                (
                    "PAPER_DIGEST_DISCORD_WEBHOOK_URL",
                    "https://discord.test/api/webhooks/1/x",
                ),
                ("PAPER_DIGEST_PUBLISH__ALERT__ENABLED", "true"),
                ("PAPER_DIGEST_PUBLISH__ALERT__KIND", "json"),
                ("PAPER_DIGEST_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/alert"),
            ]),
        )
        .unwrap();
        assert!(!format!("{:?}", settings.publish).contains("tok\""));
        let resolved = settings.publish.resolve().unwrap();
        let git = resolved.archive.and_then(|a| a.git).unwrap();
        assert_eq!(git.remote.as_deref(), Some("https://git.test/a.git"));
        assert_eq!(
            git.token.map(|t| t.expose_secret().to_string()).as_deref(),
            Some("tok")
        );
        assert_eq!(
            resolved.feed.unwrap().base_url.as_str(),
            "https://papers.test/"
        );
        assert_eq!(resolved.webhooks[0].kind, WebhookKind::Discord);
        assert_eq!(resolved.alert.unwrap().target.kind, WebhookKind::Json);
    }

    #[test]
    fn bad_values_name_their_key_and_never_a_secret() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("PAPER_DIGEST_PUBLISH__ALERT__KIND", "email")],
                "publish.alert.kind",
            ),
            (
                &[("PAPER_DIGEST_PUBLISH__FEED__ENABLED", "true")],
                "publish.feed.base_url",
            ),
            (
                &[
                    ("PAPER_DIGEST_PUBLISH__ARCHIVE__ENABLED", "true"),
                    ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT", "true"),
                    ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_BRANCH", "a b"),
                ],
                "publish.archive.git_branch",
            ),
            (
                &[
                    ("PAPER_DIGEST_PUBLISH__ARCHIVE__ENABLED", "true"),
                    ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT", "true"),
                    (
                        "PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_REMOTE",
                        "https://u:pw-secret@git.test/a.git",
                    ),
                ],
                "publish.archive.git_remote",
            ),
            (
                &[(
                    "PAPER_DIGEST_PUBLISH__ALERT__URL",
                    "https://hooks.test/pw-secret",
                )],
                "never read from a config file",
            ),
        ];
        for (pairs, expected) in cases {
            let text = error(pairs);
            assert!(text.contains(expected), "{pairs:?}: {text}");
            assert!(!text.contains("pw-secret"), "{text}");
        }
    }
}
