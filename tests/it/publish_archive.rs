//! The repository archive against a local bare repository as its remote: `README.md` holds the
//! latest day, `paper_logs/YYYY/MM/DD.md` every day; one commit per published day, pushed; a rerun
//! makes no commit; a new archive folder continues the remote's history.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git (install it: Debian package `git`): {e}"));
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn archive_env(dir: &Path, remote: &Path) -> Vec<(String, String)> {
    let archive = dir.join("archive").display().to_string();
    let remote = remote.display().to_string();
    publish_env(
        dir,
        &[
            ("PAPER_DIGEST_PUBLISH__ARCHIVE__ENABLED", "true"),
            ("PAPER_DIGEST_PUBLISH__ARCHIVE__DIR", &archive),
            ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT", "true"),
            ("PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_REMOTE", &remote),
            (
                "PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_AUTHOR_NAME",
                "Digest Bot",
            ),
            (
                "PAPER_DIGEST_PUBLISH__ARCHIVE__GIT_AUTHOR_EMAIL",
                "bot@papers.test",
            ),
        ],
    )
}

fn digest_of(env: &[(String, String)], day: &str) -> String {
    text(&run_cli(env, &["digest", "--date", day, "--stdout"]).stdout)
}

/// Changes a folder's owner (and everything in it) when the tests run as root, as a volume mounted
/// from elsewhere would be owned; otherwise leaves it.
fn owned_by_someone_else(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    if meta.uid() != 0 {
        return false;
    }
    fn chown_all(path: &Path) {
        let _ = std::os::unix::fs::lchown(path, Some(4242), Some(4242));
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                chown_all(&entry.path());
            }
        }
    }
    chown_all(dir);
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn two_days_make_two_commits_in_the_remote_and_a_rerun_makes_none() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    git(dir.path(), &["init", "--quiet", "--bare", "remote.git"]);
    let db = dir.path().join("digest.db");
    store_day(
        &db,
        "2024-09-23",
        &(0..3).map(day_paper).collect::<Vec<_>>(),
    );
    let mut second: Vec<DayPaper> = (3..7).map(day_paper).collect();
    second[3].status = Some(paper_digest::paper::Status::Flagged);
    store_day(&db, "2024-09-24", &second);
    let env = archive_env(dir.path(), &remote);

    let first = run_cli(&env, &["publish", "--date", "2024-09-23"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    assert!(
        text(&first.stdout).contains("pushed 1 commit(s)"),
        "{}",
        text(&first.stdout)
    );
    // The folder may belong to another user (a volume): git must not refuse it.
    let foreign = owned_by_someone_else(&dir.path().join("archive"));
    let second_run = run_cli(&env, &["publish", "--date", "2024-09-24"]);
    assert_eq!(
        second_run.status.code(),
        Some(0),
        "foreign owner: {foreign}: {}",
        text(&second_run.stdout)
    );

    let log = git(&remote, &["log", "--format=%s|%an <%ae>", "main"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "Daily Papers 2024-09-24: 3 papers, 1 held for review|Digest Bot <bot@papers.test>",
            "Daily Papers 2024-09-23: 3 papers, 0 held for review|Digest Bot <bot@papers.test>",
        ]
    );
    let tree = git(&remote, &["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(
        tree.lines().collect::<Vec<_>>(),
        [
            "README.md",
            "paper_logs/2024/09/23.md",
            "paper_logs/2024/09/24.md"
        ]
    );
    let latest = digest_of(&env, "2024-09-24");
    assert!(latest.contains("not summarized yet: 1 paper."), "{latest}");
    assert_eq!(
        git(&remote, &["show", "main:README.md"]),
        latest,
        "README.md is the latest day"
    );
    assert_eq!(
        git(&remote, &["show", "main:paper_logs/2024/09/24.md"]),
        latest
    );
    assert_eq!(
        git(&remote, &["show", "main:paper_logs/2024/09/23.md"]),
        digest_of(&env, "2024-09-23")
    );

    // Reruns change nothing: no commit, nothing pushed, README keeps the latest day.
    let rerun = run_cli(&env, &["publish", "--all"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stdout));
    let stdout = text(&rerun.stdout);
    assert_eq!(stdout.matches("archive\tunchanged").count(), 2, "{stdout}");
    assert!(!stdout.contains("pushed"), "{stdout}");
    assert_eq!(git(&remote, &["rev-list", "--count", "main"]).trim(), "2");
    assert_eq!(git(&remote, &["show", "main:README.md"]), latest);

    // A new archive folder (a new volume) continues the remote's history; a changed day is an update.
    std::fs::remove_dir_all(dir.path().join("archive")).unwrap();
    let mut changed: Vec<DayPaper> = (0..3).map(day_paper).collect();
    changed[0].votes = Some(500);
    store_day(&db, "2024-09-23", &changed);
    let update = run_cli(&env, &["publish", "--date", "2024-09-23"]);
    assert_eq!(update.status.code(), Some(0), "{}", text(&update.stdout));
    let log = git(&remote, &["log", "--format=%s", "main"]);
    assert_eq!(
        log.lines().next(),
        Some("Daily Papers 2024-09-23: 3 papers, 0 held for review (updated)")
    );
    assert_eq!(git(&remote, &["rev-list", "--count", "main"]).trim(), "3");
    assert_eq!(
        git(&remote, &["show", "main:README.md"]),
        latest,
        "the latest day stays"
    );
    assert!(git(&remote, &["show", "main:paper_logs/2024/09/23.md"]).contains("Vote: 500"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_push_keeps_the_commit_and_the_next_publish_pushes_it() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote.git");
    git(dir.path(), &["init", "--quiet", "--bare", "remote.git"]);
    // The remote refuses every push for now.
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'remote: pushes are closed today' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    store_day(&dir.path().join("digest.db"), "2024-09-23", &[day_paper(0)]);
    let env = archive_env(dir.path(), &remote);

    let output = run_cli(&env, &["publish"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("2024-09-23\tarchive\tpublished"),
        "committed: {stdout}"
    );
    assert!(
        stdout.contains("-\tarchive\tfailed\tpush: git push failed"),
        "{stdout}"
    );
    assert!(stdout.contains("pushes are closed today"), "{stdout}");

    std::fs::remove_file(&hook).unwrap();
    let output = run_cli(&env, &["publish"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("2024-09-23\tarchive\tunchanged"),
        "{stdout}"
    );
    assert!(stdout.contains("pushed 1 commit(s)"), "{stdout}");
    assert_eq!(git(&remote, &["rev-list", "--count", "main"]).trim(), "1");
}
