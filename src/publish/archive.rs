//! The repository archive: a folder laid out like the public daily-papers repositories —
//! `README.md` holding the latest day, `paper_logs/YYYY/MM/DD.md` one file per day — optionally
//! committed (one commit per changed day, as the configured author, the message giving the date and
//! the counts) and pushed to a remote, with the `git` command line. A day whose files did not change
//! makes no commit; commits a push did not deliver are pushed by the next publish.
//!
//! Every `git` call runs with `safe.directory` set to the archive folder (so a folder owned by
//! another user, as volumes often are, is not refused as "dubious ownership"), with no terminal
//! prompt, and, for an HTTPS remote with a token, with a credential helper that reads the token from
//! the environment `git` is given (never from its command line).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{Datelike, NaiveDate};
use secrecy::ExposeSecret;

use super::day::DayContent;
use super::{file_day_done, record, store_failed, write_if_changed, ArchiveSettings, GitSettings};
use crate::paper::normalize_whitespace;
use crate::render;
use crate::render::text::one_line;
use crate::store::{PublishOutcome, PublishRecord, Store};

/// The archive's name in reports and the store.
pub const TARGET: &str = "archive";

/// Where the git credential helper finds the user name and token (set only for `git`'s process).
const USER_VAR: &str = "PAPER_DIGEST_GIT_USERNAME";
const TOKEN_VAR: &str = "PAPER_DIGEST_GIT_PASSWORD";
/// Answers `git credential fill` from the two variables above.
const CREDENTIAL_HELPER: &str = "credential.helper=!f() { test \"$1\" = get && printf 'username=%s\\npassword=%s\\n' \"$PAPER_DIGEST_GIT_USERNAME\" \"$PAPER_DIGEST_GIT_PASSWORD\"; }; f";

/// `paper_logs/YYYY/MM/DD.md`, relative to the archive folder.
pub fn day_path(date: NaiveDate) -> PathBuf {
    PathBuf::from("paper_logs")
        .join(format!("{:04}", date.year()))
        .join(format!("{:02}", date.month()))
        .join(format!("{:02}.md", date.day()))
}

/// Writes (and commits, and pushes) the days, oldest first; one record per day, plus one for a push.
pub fn publish(
    settings: &ArchiveSettings,
    store: &Store,
    days: &[DayContent],
) -> Vec<PublishRecord> {
    let failed_all = |detail: String| {
        days.iter()
            .map(|day| {
                record(
                    Some(day.date),
                    TARGET,
                    PublishOutcome::Failed,
                    detail.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    if let Err(error) = fs::create_dir_all(&settings.dir) {
        return failed_all(format!(
            "cannot create the archive folder {}: {error}",
            settings.dir.display()
        ));
    }
    let git = match &settings.git {
        Some(git) => match Git::open(&settings.dir, git) {
            Ok(git) => Some(git),
            Err(error) => return failed_all(error.to_string()),
        },
        None => None,
    };
    let mut latest = match store.published_days(TARGET, 1) {
        Ok(days) => days.first().map(|p| p.date),
        Err(error) => return failed_all(error.to_string()),
    };
    let mut records = Vec::new();
    for day in days {
        records.push(publish_day(settings, git.as_ref(), store, day, &mut latest));
    }
    if let Some(git) = &git {
        match git.push() {
            Ok(Some(detail)) => {
                records.push(record(None, TARGET, PublishOutcome::Published, detail))
            }
            Ok(None) => {}
            Err(error) => records.push(record(
                None,
                TARGET,
                PublishOutcome::Failed,
                format!("push: {error} (the commits are kept; the next publish pushes them)"),
            )),
        }
    }
    records
}

fn publish_day(
    settings: &ArchiveSettings,
    git: Option<&Git>,
    store: &Store,
    day: &DayContent,
    latest: &mut Option<NaiveDate>,
) -> PublishRecord {
    let date = Some(day.date);
    let failed = |detail: String| record(date, TARGET, PublishOutcome::Failed, detail);
    let relative = day_path(day.date);
    let mut changed = match write_if_changed(&settings.dir.join(&relative), day.markdown.as_bytes())
    {
        Ok(changed) => changed,
        Err(error) => return failed(error.to_string()),
    };
    if latest.is_none_or(|latest| day.date >= latest) {
        match write_if_changed(&settings.dir.join("README.md"), day.markdown.as_bytes()) {
            Ok(readme) => changed |= readme,
            Err(error) => return failed(error.to_string()),
        }
        *latest = Some(day.date);
    }
    let previous = match store.latest_publication(day.date, TARGET) {
        Ok(previous) => previous,
        Err(error) => return store_failed(date, TARGET, &error),
    };
    let mut location = settings.dir.join(&relative).display().to_string();
    let mut published = changed;
    if let Some(git) = git {
        let update = previous
            .as_ref()
            .is_some_and(|p| p.content_hash != day.hash);
        match git.commit(day, update) {
            Ok(Some(commit)) => {
                location = format!("{location} (commit {commit})");
                published = true;
            }
            Ok(None) => published = false,
            Err(error) => return failed(error.to_string()),
        }
    }
    let known = previous
        .as_ref()
        .is_some_and(|p| p.content_hash == day.hash);
    file_day_done(store, day, TARGET, location, published, known)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error(
        "cannot run git ({0}); install git (Debian package `git`; the container image has it)"
    )]
    Missing(String),
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
    #[error("the archive folder {dir} is on branch {found:?}, but publish.archive.git_branch is {wanted:?}")]
    WrongBranch {
        dir: String,
        found: String,
        wanted: String,
    },
}

/// The archive folder as a git repository.
struct Git<'a> {
    dir: PathBuf,
    settings: &'a GitSettings,
}

impl<'a> Git<'a> {
    /// Makes the folder a repository on the configured branch (when it is not one), points `origin`
    /// at the remote and brings the branch up to date with it (fast-forward only).
    fn open(dir: &Path, settings: &'a GitSettings) -> Result<Git<'a>, GitError> {
        // safe.directory compares the real path.
        let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let git = Git { dir, settings };
        let branch = &settings.branch;
        if !git.dir.join(".git").exists() {
            git.run(&["init", "--quiet"])?;
            git.run(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])?;
        }
        let current = git.run(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        if current != *branch {
            return Err(GitError::WrongBranch {
                dir: git.dir.display().to_string(),
                found: current,
                wanted: branch.clone(),
            });
        }
        if let Some(remote) = &settings.remote {
            match git.run(&["remote", "get-url", "origin"]) {
                Ok(url) if url == *remote => {}
                Ok(_) => {
                    git.run(&["remote", "set-url", "origin", remote])?;
                }
                Err(_) => {
                    git.run(&["remote", "add", "origin", remote])?;
                }
            }
            git.run(&["fetch", "--quiet", "origin"])?;
            let tracking = git.tracking();
            if git.has(&tracking)? {
                if git.has("HEAD")? {
                    git.run(&["merge", "--quiet", "--ff-only", &tracking])?;
                } else {
                    // A new archive folder for a remote that has history: start from it.
                    git.run(&["reset", "--quiet", "--hard", &tracking])?;
                }
            }
        }
        Ok(git)
    }

    /// Commits the archive's files when they changed; the short commit hash, or `None`.
    fn commit(&self, day: &DayContent, update: bool) -> Result<Option<String>, GitError> {
        // Only the archive's own files (the folder may hold others); README.md may not exist yet
        // when an older day is published into a new folder.
        let mut add = vec!["add", "--all", "--", "paper_logs"];
        if self.dir.join("README.md").exists() {
            add.push("README.md");
        }
        self.run(&add)?;
        if self.succeeds(&["diff", "--cached", "--quiet"])? {
            return Ok(None);
        }
        let mut message = format!(
            "Daily Papers {}: {}, {} held for review",
            day.date,
            render::papers(day.papers()),
            day.held()
        );
        if update {
            message.push_str(" (updated)");
        }
        let name = format!("user.name={}", self.settings.author_name);
        let email = format!("user.email={}", self.settings.author_email);
        self.run(&[
            "-c", &name, "-c", &email, "commit", "--quiet", "-m", &message,
        ])?;
        self.run(&["rev-parse", "--short", "HEAD"]).map(Some)
    }

    /// Pushes the branch when the remote lacks commits; what was pushed, or `None`.
    fn push(&self) -> Result<Option<String>, GitError> {
        let Some(remote) = &self.settings.remote else {
            return Ok(None);
        };
        if !self.has("HEAD")? {
            return Ok(None);
        }
        let tracking = self.tracking();
        let range = match self.has(&tracking)? {
            true => format!("{tracking}..HEAD"),
            false => "HEAD".to_string(),
        };
        let ahead = self.run(&["rev-list", "--count", &range])?;
        if ahead == "0" {
            return Ok(None);
        }
        let branch = &self.settings.branch;
        self.run(&[
            "push",
            "--quiet",
            "origin",
            &format!("refs/heads/{branch}:refs/heads/{branch}"),
        ])?;
        Ok(Some(format!(
            "pushed {ahead} commit(s) to {} ({branch})",
            one_line(remote)
        )))
    }

    fn tracking(&self) -> String {
        format!("refs/remotes/origin/{}", self.settings.branch)
    }

    /// Whether a revision exists.
    fn has(&self, revision: &str) -> Result<bool, GitError> {
        self.succeeds(&["rev-parse", "--verify", "--quiet", revision])
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .arg("-c")
            .arg(format!("safe.directory={}", self.dir.display()))
            .args(["-c", "commit.gpgsign=false", "-c", "core.quotePath=false"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null());
        if let Some(token) = &self.settings.token {
            command
                .args(["-c", "credential.helper=", "-c", CREDENTIAL_HELPER])
                .env(USER_VAR, &self.settings.token_user)
                .env(TOKEN_VAR, token.expose_secret());
        }
        command.args(args);
        command
    }

    /// Runs git; its trimmed output, or its error.
    fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self
            .command(args)
            .output()
            .map_err(|e| self.spawn_error(e))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).trim().to_string());
        }
        Err(self.failed(args, &output.stderr, &output.stdout))
    }

    /// Runs git for its answer: exit 0 (yes) or 1 (no); anything else is an error.
    fn succeeds(&self, args: &[&str]) -> Result<bool, GitError> {
        let output = self
            .command(args)
            .output()
            .map_err(|e| self.spawn_error(e))?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failed(args, &output.stderr, &output.stdout)),
        }
    }

    fn spawn_error(&self, error: std::io::Error) -> GitError {
        match error.kind() {
            ErrorKind::NotFound => GitError::Missing("`git` is not on the PATH".to_string()),
            _ => GitError::Missing(error.to_string()),
        }
    }

    fn failed(&self, args: &[&str], stderr: &[u8], stdout: &[u8]) -> GitError {
        let mut message = String::from_utf8_lossy(stderr).trim().to_string();
        if message.is_empty() {
            message = String::from_utf8_lossy(stdout).trim().to_string();
        }
        if let Some(token) = &self.settings.token {
            message = message.replace(token.expose_secret(), "[REDACTED]");
        }
        // The subcommand (after any `-c` settings).
        let mut subcommand = "";
        let mut skip = false;
        for arg in args {
            if skip {
                skip = false;
            } else if *arg == "-c" {
                skip = true;
            } else {
                subcommand = arg;
                break;
            }
        }
        GitError::Failed {
            command: subcommand.to_string(),
            message: normalize_whitespace(&one_line(&message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_reaches_git_through_its_environment_never_its_arguments() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let settings = GitSettings {
            remote: None,
            branch: "main".into(),
            author_name: "a".into(),
            author_email: "a@b.test".into(),
            token_user: "x-access-token".into(),
            token: crate::publish::GitToken::new("tok-secret-123").unwrap(),
        };
        let git = Git {
            dir: dir.path().to_path_buf(),
            settings: &settings,
        };
        let mut command = git.command(&["credential", "fill"]);
        assert!(command
            .get_args()
            .all(|arg| !arg.to_string_lossy().contains("tok-secret")));
        let Ok(mut child) = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() else {
            return; // no git here: the archive's tests say so
        };
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(b"protocol=https\nhost=git.example.test\n\n")
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        let answer = String::from_utf8_lossy(&output.stdout);
        assert!(answer.contains("username=x-access-token\n"), "{answer}");
        assert!(answer.contains("password=tok-secret-123\n"), "{answer}");
    }

    #[test]
    fn days_are_filed_by_year_month_and_day() {
        let date = NaiveDate::from_ymd_opt(2024, 9, 3).unwrap();
        assert_eq!(day_path(date), PathBuf::from("paper_logs/2024/09/03.md"));
    }
}
