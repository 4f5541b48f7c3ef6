//! The answer parser and the shape checks on Korean answers written for these tests.

use paper_digest::checks::answer::{self, AnswerFormat};
use paper_digest::checks::shape::{self, check_sections};
use paper_digest::checks::Reason;
use paper_digest::model::{ChatAnswer, FinishReason, Usage};
use paper_digest::paper::OutputMode;
use paper_digest::paper::Sections;
use proptest::prelude::*;

const ANSWER_JSON: &str = include_str!("../fixtures/checks/answer_ok.json");
const ANSWER_MD: &str = include_str!("../fixtures/checks/answer_ok.md");

fn answer(content: Option<&str>, finish_reason: FinishReason) -> ChatAnswer {
    ChatAnswer {
        content: content.map(str::to_string),
        refusal: None,
        finish_reason,
        usage: Usage::default(),
        cost_usd: 0.0,
        mode: OutputMode::Plain,
        model: "test-model".to_string(),
        http_attempts: 1,
        retries_429: 0,
    }
}

fn stop(content: &str) -> ChatAnswer {
    answer(Some(content), FinishReason::Stop)
}

fn expected_sections() -> Sections {
    let value: serde_json::Value = serde_json::from_str(ANSWER_JSON).unwrap();
    let text = |key: &str| value[key].as_str().unwrap().to_string();
    Sections {
        whats_new: text("whats_new"),
        technical_details: text("technical_details"),
        performance_highlights: text("performance_highlights"),
    }
}

/// The reasons an answer fails with, one message per line (for snapshots).
fn failures(answer: &ChatAnswer) -> String {
    let reasons = shape::check(answer, &crate::common::defaults().summarize.shape).unwrap_err();
    messages(&reasons)
}

fn messages(reasons: &[Reason]) -> String {
    reasons
        .iter()
        .map(|r| format!("[{}] {}", r.check, r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json_with(whats_new: &str, technical_details: &str, performance_highlights: &str) -> String {
    serde_json::json!({
        "whats_new": whats_new,
        "technical_details": technical_details,
        "performance_highlights": performance_highlights,
    })
    .to_string()
}

/// llama.cpp's JSON grammar lets raw newlines into string values; the text is still unambiguous.
#[test]
fn raw_newlines_inside_json_strings_are_read_as_spaces() {
    let expected = expected_sections();
    let raw = format!(
        "{{\"whats_new\": \"{}\",\n\"technical_details\": \"{}\",\n\"performance_highlights\": \"{}\"}}",
        expected.whats_new.replacen(' ', "\n", 1),
        expected.technical_details.replacen(' ', "\t", 1),
        expected.performance_highlights,
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&raw).is_err(),
        "strict JSON rejects it"
    );
    let parsed = answer::parse(&raw).unwrap();
    assert_eq!(parsed.sections, expected);
}

#[test]
fn correct_json_answer_passes() {
    let parsed = answer::parse(ANSWER_JSON).unwrap();
    assert_eq!(parsed.format, AnswerFormat::Json);
    assert!(!parsed.fenced);
    assert_eq!(parsed.outside_text(), None);
    assert_eq!(
        shape::check(
            &stop(ANSWER_JSON),
            &crate::common::defaults().summarize.shape
        ),
        Ok(expected_sections())
    );
}

#[test]
fn same_answer_in_digest_markdown_passes() {
    let parsed = answer::parse(ANSWER_MD).unwrap();
    assert_eq!(parsed.format, AnswerFormat::Markdown);
    assert_eq!(parsed.outside_text(), None);
    assert_eq!(
        shape::check(&stop(ANSWER_MD), &crate::common::defaults().summarize.shape),
        Ok(expected_sections())
    );
}

#[test]
fn markdown_headings_and_bold_colon_titles_are_sections() {
    let s = expected_sections();
    let headings = format!(
        "## What's New\n\n{}\n\n## Technical Details\n{}\n\n### Performance Highlights:\n{}\n",
        s.whats_new, s.technical_details, s.performance_highlights
    );
    let bold = format!(
        "**What's New:** {}\n\n**Technical Details:** {}\n\n**Performance Highlights:**\n{}",
        s.whats_new, s.technical_details, s.performance_highlights
    );
    for text in [headings, bold] {
        let parsed = answer::parse(&text).unwrap();
        assert_eq!(parsed.format, AnswerFormat::Markdown);
        assert_eq!(parsed.sections, s, "{text}");
    }
}

#[test]
fn lines_wrapped_inside_a_section_are_joined() {
    let text = "## What's New\n첫 줄입니다.\n  둘째 줄입니다.\n## Technical Details\n기술.\n## Performance Highlights\n성능.";
    let parsed = answer::parse(text).unwrap();
    assert_eq!(parsed.sections.whats_new, "첫 줄입니다. 둘째 줄입니다.");
}

#[test]
fn fenced_json_with_title_keys_is_tolerated() {
    let s = expected_sections();
    let body = serde_json::json!({
        "What's New": s.whats_new,
        "Technical Details": s.technical_details,
        "Performance Highlights": s.performance_highlights,
    });
    let fenced = format!("```json\n{body:#}\n```");
    let parsed = answer::parse(&fenced).unwrap();
    assert!(parsed.fenced);
    assert_eq!(parsed.format, AnswerFormat::Json);
    assert_eq!(
        shape::check(&stop(&fenced), &crate::common::defaults().summarize.shape),
        Ok(s)
    );
}

#[test]
fn chatty_preamble_and_postscript_are_reported() {
    let english = format!("Sure, here is the summary:\n\n{ANSWER_JSON}");
    let korean = format!(
        "물론입니다! 요청하신 요약입니다.\n```json\n{ANSWER_JSON}```\n도움이 되길 바랍니다."
    );
    let markdown = format!("다음은 논문 요약입니다.\n\n{ANSWER_MD}");
    let parsed = answer::parse(&korean).unwrap();
    assert!(parsed.fenced);
    assert_eq!(
        parsed.preamble.as_deref(),
        Some("물론입니다! 요청하신 요약입니다.")
    );
    assert_eq!(parsed.postscript.as_deref(), Some("도움이 되길 바랍니다."));
    insta::assert_snapshot!(
        "chatty",
        [english, korean, markdown]
            .iter()
            .map(|text| failures(&stop(text)))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

#[test]
fn english_answer_has_too_little_hangul() {
    let english = json_with(
        "This paper proposes Sparse Mixture Adapters (SMA) for low-resource speech recognition.",
        "A router activates the top two adapters per audio frame in each Transformer layer.",
        "SMA lowers the word error rate by 8.3% on 12 FLEURS languages.",
    );
    insta::assert_snapshot!("english", failures(&stop(&english)));
}

#[test]
fn truncated_answers_are_reported() {
    let cut_json = &ANSWER_JSON[..ANSWER_JSON.len() - 120];
    let cut_sentence = json_with(
        &expected_sections().whats_new,
        &expected_sections().technical_details,
        "FLEURS 벤치마크의 12개 저자원 언어에서 SMA는 전체 미세 조정 대비 평균 단어 오류율(WER)을 상대적으로",
    );
    insta::assert_snapshot!(
        "truncated",
        [
            failures(&answer(Some(cut_json), FinishReason::Length)),
            failures(&stop(&cut_sentence)),
        ]
        .join("\n---\n")
    );
}

#[test]
fn refusals_are_reported_from_the_field_and_from_the_text() {
    let mut field = answer(None, FinishReason::Stop);
    field.refusal = Some("I can't help with that.".to_string());
    let english = stop("I'm sorry, but I can't help with summarising this paper.");
    let korean = stop("죄송하지만 요청하신 논문 요약은 도와드릴 수 없습니다.");
    let in_json = stop(&json_with(
        "죄송합니다. 이 논문의 요약은 제공할 수 없습니다.",
        &expected_sections().technical_details,
        &expected_sections().performance_highlights,
    ));
    insta::assert_snapshot!(
        "refusals",
        [field, english, korean, in_json]
            .iter()
            .map(failures)
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

#[test]
fn quoted_refusal_inside_a_summary_of_a_safety_paper_passes() {
    let text = json_with(
        &expected_sections().whats_new,
        "이 연구는 언어 모델이 무해한 요청에도 '죄송합니다, 도와드릴 수 없습니다'처럼 답하는 과잉 거부(over-refusal) 현상을 측정하는 벤치마크를 구축하고, 거부 응답을 분류하는 기준을 제시합니다.",
        &expected_sections().performance_highlights,
    );
    assert!(shape::check(&stop(&text), &crate::common::defaults().summarize.shape).is_ok());
}

#[test]
fn empty_answers_are_reported() {
    for content in [None, Some(""), Some("  \n ")] {
        assert_eq!(
            failures(&answer(content, FinishReason::Stop)),
            "[empty] empty answer"
        );
    }
}

#[test]
fn stray_json_and_code_fences_inside_sections_are_reported() {
    let s = expected_sections();
    let dict_like = json_with(
        &s.whats_new,
        "{'Model Architecture': 'SMA는 각 트랜스포머(Transformer) 층에 경량 어댑터를 둡니다.'}",
        &format!("{}\n```python\nprint(1)\n```", s.performance_highlights),
    );
    let nested = format!(
        r#"{{"whats_new": {:?}, "technical_details": {{"router": "상위 두 개"}}, "performance_highlights": {:?}}}"#,
        s.whats_new, s.performance_highlights
    );
    insta::assert_snapshot!(
        "stray_json",
        [failures(&stop(&dict_like)), failures(&stop(&nested))].join("\n---\n")
    );
}

#[test]
fn markdown_with_a_json_block_inside_a_section_stays_markdown() {
    let s = expected_sections();
    let text = format!(
        "- **What's New**: {}\n- **Technical Details**: {}\n```json\n{{\"router\": \"top-2\"}}\n```\n- **Performance Highlights**: {}",
        s.whats_new, s.technical_details, s.performance_highlights
    );
    assert_eq!(answer::parse(&text).unwrap().format, AnswerFormat::Markdown);
    let reasons =
        shape::check(&stop(&text), &crate::common::defaults().summarize.shape).unwrap_err();
    let checks: Vec<&str> = reasons.iter().map(|r| r.check.as_str()).collect();
    assert_eq!(checks, ["code_fence", "stray_json", "truncated"]);
}

#[test]
fn braces_in_a_preamble_do_not_hide_the_json_object() {
    let text = format!("G_{{stack}} 논문의 요약:\n{ANSWER_JSON}");
    let parsed = answer::parse(&text).unwrap();
    assert_eq!(parsed.format, AnswerFormat::Json);
    assert_eq!(parsed.preamble.as_deref(), Some("G_{stack} 논문의 요약:"));
    assert_eq!(parsed.sections, expected_sections());
}

#[test]
fn missing_extra_repeated_and_misordered_sections_are_reported() {
    let s = expected_sections();
    let missing = format!(r#"{{"whats_new": {:?}}}"#, s.whats_new);
    let extra = format!("{ANSWER_MD}- **Limitations**: 데이터가 적은 언어에서만 평가했습니다.\n");
    let misordered = format!(
        "- **Technical Details**: {}\n- **What's New**: {}\n- **Performance Highlights**: {}",
        s.technical_details, s.whats_new, s.performance_highlights
    );
    let repeated = format!("{ANSWER_MD}- **What's New**: 다시 한 번 소개합니다.\n");
    insta::assert_snapshot!(
        "sections",
        [missing, extra, misordered, repeated]
            .iter()
            .map(|text| failures(&stop(text)))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

#[test]
fn prose_without_sections_is_not_an_answer() {
    let prose = "이 논문은 G_{stack} 연산자를 이용한 모델 성장(model growth) 방법을 다룹니다.";
    insta::assert_snapshot!("not_sections", failures(&stop(prose)));
}

#[test]
fn length_limits_are_reported_with_figures() {
    let s = expected_sections();
    let long = "성능이 향상되었습니다. ".repeat(200);
    let text = json_with("새 방법입니다.", &s.technical_details, &long);
    insta::assert_snapshot!("length", failures(&stop(&text)));
}

#[test]
fn unknown_or_missing_finish_reason_is_lenient_but_content_filter_is_not() {
    let limits = crate::common::defaults().summarize.shape;
    for finish in [
        FinishReason::Other("eos_token".into()),
        FinishReason::Missing,
    ] {
        assert!(shape::check(&answer(Some(ANSWER_JSON), finish), &limits).is_ok());
    }
    insta::assert_snapshot!(
        "content_filter",
        failures(&answer(Some(ANSWER_JSON), FinishReason::ContentFilter))
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = format!(
        "Here is the summary:\n{}",
        json_with("", "Plain English text and the model", "짧음.")
    );
    let reasons = shape::check(
        &answer(Some(&text), FinishReason::Length),
        &crate::common::defaults().summarize.shape,
    )
    .unwrap_err();
    insta::assert_snapshot!("everything", messages(&reasons));
}

#[test]
fn check_sections_accepts_the_fixture_and_flags_empty_sections() {
    let limits = crate::common::defaults().summarize.shape;
    assert!(check_sections(&expected_sections(), &limits).is_empty());
    let empty = Sections {
        whats_new: " ".into(),
        technical_details: String::new(),
        performance_highlights: String::new(),
    };
    assert_eq!(check_sections(&empty, &limits).len(), 3);
}

fn structured_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-*#{}\\[\\]\"':`\n ,가나다ab.]{0,120}",
        "(- \\*\\*(What's New|Technical Details|Performance Highlights|X)\\*\\*:? [가-힣a-z{}\"' ]{0,20}\n){0,5}",
        "```(json)?\n?\\{(\"[a-z_' ]{0,20}\": ?\"[^\"]{0,10}\",? ?){0,4}\\}?(```)?",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(text in structured_text()) {
        let _ = answer::parse(&text);
    }

    #[test]
    fn check_never_panics(text in structured_text(), refusal in proptest::option::of(any::<String>())) {
        let mut chat = stop(&text);
        chat.refusal = refusal;
        let _ = shape::check(&chat, &crate::common::defaults().summarize.shape);
    }

    #[test]
    fn check_sections_never_panics(a in structured_text(), b in any::<String>(), c in "\\PC{0,50}") {
        let sections = Sections { whats_new: a, technical_details: b, performance_highlights: c };
        let _ = check_sections(&sections, &crate::common::defaults().summarize.shape);
    }
}
