//! The mock over real HTTP on loopback: wire format, counts, limits and every injected fault.

use std::time::Duration;

use paper_digest_mock_llm::{Faults, MockLlm, Stats};
use serde_json::{json, Value};

fn chat_body(id: &str, name: &str) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "max_tokens": 100,
        "messages": [
            {"role": "system", "content": "You write Korean summaries."},
            {"role": "user", "content": format!(
                "Summarise this paper (arXiv {id}, cs.CL).\n\n<paper_title>{name}: Sparse Routing</paper_title>\n\n<abstract>We present {name}, built on K4-Router. It cuts memory by 37% on PG-19.</abstract>"
            )}
        ]
    })
}

async fn post(mock: &MockLlm, body: &Value) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()?
        .post(format!("{}/v1/chat/completions", mock.uri()))
        .json(body)
        .send()
        .await
}

#[tokio::test]
async fn answers_a_korean_summary_in_the_openai_format_and_counts_it() {
    let mock = MockLlm::builder().start().await.unwrap();
    let response = post(&mock, &chat_body("2409.00004", "Q4Former"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let completion: Value = response.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "gpt-4o-mini");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    let sections: Value = serde_json::from_str(content).unwrap();
    assert!(sections["whats_new"].as_str().unwrap().contains("Q4Former"));
    assert!(sections["technical_details"]
        .as_str()
        .unwrap()
        .contains("K4-Router"));
    assert!(sections["performance_highlights"]
        .as_str()
        .unwrap()
        .contains("37%"));
    assert!(completion["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    post(&mock, &chat_body("2409.00004", "Q4Former"))
        .await
        .unwrap();
    let stats = mock.stats();
    assert_eq!((stats.requests, stats.delivered), (2, 2));
    let paper = stats.papers["2409.00004"];
    assert_eq!(
        (
            paper.requests,
            paper.delivered,
            paper.requests_after_delivery
        ),
        (2, 2, 1)
    );
    assert_eq!(stats.paid_twice(), vec!["2409.00004"]);

    let served: Stats = reqwest::get(format!("{}/stats", mock.uri()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, stats);
    mock.shutdown().await;
}

#[tokio::test]
async fn requests_without_a_paper_prompt_are_400() {
    let mock = MockLlm::builder().start().await.unwrap();
    let response = post(
        &mock,
        &json!({"messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(mock.stats().outcomes.bad_requests, 1);
}

#[tokio::test]
async fn over_the_requests_per_minute_limit_is_429_with_retry_after_and_headers() {
    let mock = MockLlm::builder()
        .requests_per_minute(2)
        .start()
        .await
        .unwrap();
    let first = post(&mock, &chat_body("2409.00001", "Q1Net"))
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header(&first, "x-ratelimit-limit-requests").as_deref(),
        Some("2")
    );
    assert_eq!(
        header(&first, "x-ratelimit-remaining-requests").as_deref(),
        Some("1")
    );
    assert!(header(&first, "x-ratelimit-reset-requests").is_some());
    assert_eq!(
        post(&mock, &chat_body("2409.00001", "Q1Net"))
            .await
            .unwrap()
            .status(),
        200
    );
    let third = post(&mock, &chat_body("2409.00001", "Q1Net"))
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(header(&third, "retry-after").as_deref(), Some("30"));
    assert_eq!(
        header(&third, "x-ratelimit-remaining-requests").as_deref(),
        Some("0")
    );
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let stats = mock.stats();
    assert_eq!((stats.outcomes.limited, stats.delivered), (1, 2));
}

/// One server where every request gets `faults`.
async fn always(faults: Faults) -> MockLlm {
    MockLlm::builder()
        .faults(faults)
        .hold(Duration::from_secs(5))
        .retry_after(Duration::from_millis(1500))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_fault_looks_like_the_real_thing() {
    let body = chat_body("2409.00002", "Q2Net");

    let mock = always(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    let response = post(&mock, &body).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["retry-after-ms"], "1500");

    let mock = always(Faults {
        server_error: 1.0,
        ..Faults::default()
    })
    .await;
    let status = post(&mock, &body).await.unwrap().status().as_u16();
    assert!([500, 502, 503].contains(&status), "{status}");

    let mock = always(Faults {
        reset: 1.0,
        ..Faults::default()
    })
    .await;
    let error = post(&mock, &body).await.unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");

    let mock = always(Faults {
        timeout: 1.0,
        ..Faults::default()
    })
    .await;
    assert!(post(&mock, &body).await.unwrap_err().is_timeout());
    assert_eq!(mock.stats().outcomes.timeouts, 1);

    let mock = always(Faults {
        malformed: 1.0,
        ..Faults::default()
    })
    .await;
    let text = post(&mock, &body).await.unwrap().text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    let mock = always(Faults {
        truncated: 1.0,
        ..Faults::default()
    })
    .await;
    let completion: Value = post(&mock, &body).await.unwrap().json().await.unwrap();
    assert_eq!(completion["choices"][0]["finish_reason"], "length");

    let mock = always(Faults {
        empty: 1.0,
        ..Faults::default()
    })
    .await;
    let completion: Value = post(&mock, &body).await.unwrap().json().await.unwrap();
    assert_eq!(completion["choices"][0]["message"]["content"], "");
    let stats = mock.stats();
    assert_eq!(
        (stats.requests, stats.delivered, stats.outcomes.empty),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn invalid_settings_are_refused() {
    let error = MockLlm::builder()
        .faults(Faults {
            reset: 0.7,
            timeout: 0.7,
            ..Faults::default()
        })
        .start()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("more than 1"), "{error}");
}
