//! Shared by the web tests: a store seeded with one listing day holding a hostile flagged paper
//! (markup and `javascript:` in its title, authors, abstract and answer), a clean flagged paper a
//! person can approve, and a published one; the review server's state over it.
#![allow(dead_code)]

use std::path::Path;

use paper_digest::checks::identity::WrittenFrom;
use paper_digest::paper::{Paper, Sections, Status, SummaryKey};
use paper_digest::pipeline::Shutdown;
use paper_digest::settings::{Env, Settings};
use paper_digest::store::{AttemptRecord, RunKind, RunMeta, Store};
use paper_digest::web::{ServeToken, WebState};

pub const DAY: &str = "2024-09-23";
pub const TOKEN: &str = "review-token-0123456789";
pub const HOSTILE: &str = "2409.20001";
pub const GOOD: &str = "2409.20002";
pub const PUBLISHED: &str = "2409.20003";
pub const GOOD_TITLE: &str = "GoodNet: Calibrated Retrieval for Korean Question Answering";
pub const PUBLISHED_TITLE: &str = "OkNet: A Published Baseline";

/// Raw markup that must never reach a page unescaped.
pub const HOSTILE_RAW: [&str; 6] = [
    "<script>alert",
    "<img src=x",
    "<b>Evil",
    "<b>굵은",
    "javascript:alert",
    "<iframe",
];

fn paper(id: &str, title: &str, abstract_text: &str, votes: i64) -> Paper {
    Paper {
        id: id.parse().unwrap(),
        version: Some(1),
        title: title.to_string(),
        authors: vec!["Mina Park".to_string(), "Eve <b>Evil</b>".to_string()],
        abstract_text: abstract_text.to_string(),
        upvotes: Some(votes),
        thumbnail: Some("javascript:alert(3)".to_string()),
        published: None,
        updated: None,
        primary_category: None,
        categories: Vec::new(),
    }
}

pub fn good_sections() -> Sections {
    Sections {
        whats_new: "GoodNet은 한국어 질의응답(question answering)을 위한 보정된 검색(calibrated retrieval) 방법을 제안합니다. 검색 점수를 보정하여 답변의 신뢰도를 높입니다.".to_string(),
        technical_details: "GoodNet은 검색기(retriever)의 점수를 온도 보정(temperature scaling)으로 조정하고, KorQuAD 데이터셋에서 학습합니다.".to_string(),
        performance_highlights: "KorQuAD에서 정확도(exact match)를 기존 방법보다 높였으며, 보정 오차(calibration error)를 크게 줄였습니다.".to_string(),
    }
}

fn record(
    store: &Store,
    run: paper_digest::store::RunId,
    paper: &Paper,
    status: Status,
    sections: Sections,
    reasons: &[&str],
) {
    store
        .record_attempt(
            run,
            &AttemptRecord {
                paper: paper.id.clone(),
                key: SummaryKey::new(paper, "p1", "gpt-4o-mini"),
                status,
                sections: Some(sections),
                reasons: reasons.iter().map(|r| r.to_string()).collect(),
                error: None,
                prompt_tokens: 600,
                completion_tokens: 300,
                cost_usd: 0.001,
                calls: 1,
                duration_ms: 900,
                trimmed: false,
                output_mode: None,
                written_from: WrittenFrom::Abstract,
            },
        )
        .unwrap();
}

/// Seeds the store at `db`.
pub fn seed(db: &Path) {
    let store = Store::open(db).unwrap();
    let hostile = paper(
        HOSTILE,
        "<script>alert('title')</script> HostileNet \"quoted\" & <iframe src=x> javascript:alert(1)",
        "We present HostileNet <img src=x onerror=alert(2)>, trained on CIFAR-10 to 91.2% accuracy. javascript:alert(5)",
        12,
    );
    let good = paper(
        GOOD,
        GOOD_TITLE,
        "We present GoodNet, calibrated retrieval for Korean question answering. GoodNet rescales retriever scores with temperature scaling and is trained on KorQuAD, improving exact match and reducing calibration error.",
        7,
    );
    let published = paper(
        PUBLISHED,
        PUBLISHED_TITLE,
        "OkNet is a baseline for testing the digest.",
        3,
    );
    let day = DAY.parse().unwrap();
    store
        .upsert_papers(
            &[hostile.clone(), good.clone(), published.clone()],
            Some(day),
            "hf-daily",
        )
        .unwrap();
    let run = store
        .begin_run(&RunMeta {
            kind: RunKind::Run,
            date: Some(day),
            source: "hf-daily".to_string(),
            dry_run: false,
            model: "gpt-4o-mini".to_string(),
            prompt_version: "p1".to_string(),
        })
        .unwrap();
    record(
        &store,
        run,
        &hostile,
        Status::Flagged,
        Sections {
            whats_new: "HostileNet은 <b>굵은</b> 글씨와 javascript:alert(4) 링크를 담은 요약입니다. <iframe src=x></iframe>".to_string(),
            technical_details: "CIFAR-10 데이터셋에서 학습하여 91.2% 정확도를 달성했습니다. 자세한 내용은 본문을 참고하세요.".to_string(),
            performance_highlights: "HostileNet은 기존 방법보다 좋은 성능을 보였다고 주장합니다. 재현 코드도 공개했습니다.".to_string(),
        },
        &["section \"What's New\" carries an HTML tag (b): a summary is plain text <script>alert(6)</script>"],
    );
    record(
        &store,
        run,
        &good,
        Status::Flagged,
        good_sections(),
        &["only 12% of the summary's terms are in the title and abstract (minimum 15%)"],
    );
    record(&store, run, &published, Status::Ok, good_sections(), &[]);
}

/// The environment of a seeded store under `dir` (no API key unless `model_uri` is given).
pub fn web_env(dir: &Path, model_uri: Option<&str>) -> Vec<(String, String)> {
    let mut env = match model_uri {
        Some(uri) => crate::common::env_for(uri, dir),
        None => vec![
            (
                "PAPER_DIGEST_RUN__DATABASE".to_string(),
                dir.join("digest.db").display().to_string(),
            ),
            (
                "PAPER_DIGEST_RUN__OUT_DIR".to_string(),
                dir.join("out").display().to_string(),
            ),
        ],
    };
    env.push((
        "PAPER_DIGEST_CHECKS__MAX_REPAIRS".to_string(),
        "0".to_string(),
    ));
    env
}

pub fn settings(env: &[(String, String)]) -> Settings {
    Settings::load(None, &Env::from_pairs(env.iter().cloned())).unwrap()
}

/// The server's state over the seeded store in `dir`.
pub fn state(
    dir: &Path,
    model_uri: Option<&str>,
    token: Option<&str>,
    reads_open: bool,
) -> WebState {
    let env = web_env(dir, model_uri);
    let settings = settings(&env);
    seed(&settings.database);
    let token = token.map(|t| ServeToken::new(t).unwrap().unwrap());
    paper_digest::app::web_state(&settings, token, reads_open, Shutdown::new()).unwrap()
}
