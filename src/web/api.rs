//! The JSON API: the pages' data for scripts. Reads as the pages (open on loopback); every write
//! takes the serve token as `Authorization: Bearer <token>` (no cookie: a script has no session,
//! and a cookie-authenticated JSON write would need a CSRF token).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::pages::{parse_date, parse_id, QueueQuery};
use super::{actor_or, blocking, ApiError, Change, WebError, WebState};
use crate::paper::{ArxivId, Sections};
use crate::review::ReviewError;
use crate::store::ReviewState;

type ApiResult = Result<Json<Value>, ApiError>;

pub(super) async fn days(State(state): State<WebState>, headers: HeaderMap) -> ApiResult {
    state.may_read(&headers)?;
    let store = state.reviewer.store.clone();
    let days = blocking(move || Ok(store.days()?)).await?;
    Ok(Json(json!({ "days": days })))
}

pub(super) async fn day(
    State(state): State<WebState>,
    Path(date): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let date = parse_date(&date)?;
    state.may_read(&headers)?;
    let store = state.reviewer.store.clone();
    let entries = blocking(move || Ok(store.current_for_date(date)?)).await?;
    if entries.is_empty() {
        return Err(WebError::not_found(format!("no papers are stored for {date}")).into());
    }
    let papers: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "paper": entry.paper,
                "position": entry.position,
                "state": entry.summary.as_ref().map(ReviewState::of_current),
                "summary": entry.summary,
            })
        })
        .collect();
    Ok(Json(json!({ "date": date, "papers": papers })))
}

pub(super) async fn queue(
    State(state): State<WebState>,
    Query(query): Query<QueueQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let (date, filter) = query.parse()?;
    state.may_read(&headers)?;
    let store = state.reviewer.store.clone();
    let entries = blocking(move || Ok(store.queue(date, filter)?)).await?;
    Ok(Json(json!({ "papers": entries })))
}

pub(super) async fn paper(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let id = parse_id(&id)?;
    state.may_read(&headers)?;
    let reviewer = state.reviewer.clone();
    let review = blocking(move || reviewer.paper(&id)).await?;
    Ok(Json(
        serde_json::to_value(review).map_err(|e| WebError::Internal(e.to_string()))?,
    ))
}

/// The body of a decision: all optional but an edit's sections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiDecision {
    #[serde(default)]
    note: Option<String>,
    /// Who decides (default `api`).
    #[serde(default)]
    actor: Option<String>,
    /// The attempt the script looked at: refused with 409 when the summary changed since.
    #[serde(default)]
    attempt: Option<i64>,
    #[serde(default)]
    sections: Option<Sections>,
}

pub(super) async fn approve(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApiDecision>>,
) -> ApiResult {
    decide(state, id, headers, body, |_| Ok(Change::Approve)).await
}

pub(super) async fn reject(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApiDecision>>,
) -> ApiResult {
    decide(state, id, headers, body, |_| Ok(Change::Reject)).await
}

pub(super) async fn edit(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApiDecision>>,
) -> ApiResult {
    decide(state, id, headers, body, |sections| {
        sections.map(Change::Edit).ok_or_else(|| {
            ReviewError::BadInput(
                "an edit needs \"sections\": {\"whats_new\", \"technical_details\", \"performance_highlights\"}"
                    .to_string(),
            )
        })
    })
    .await
}

async fn decide(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApiDecision>>,
    change: fn(Option<Sections>) -> Result<Change, ReviewError>,
) -> ApiResult {
    let id = parse_id(&id)?;
    state.bearer_ok(&headers)?;
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let actor = actor_or(body.actor.as_deref(), "api")?;
    let change = change(body.sections)?;
    let (decided, published) = state
        .decide(&id, change, actor, body.note, body.attempt)
        .await?;
    Ok(Json(json!({
        "decision": decided.decision,
        "digests_rendered": decided.digests.len(),
        "published": published,
    })))
}

pub(super) async fn resummarize(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<ApiDecision>>,
) -> ApiResult {
    let id: ArxivId = parse_id(&id)?;
    state.bearer_ok(&headers)?;
    let body = body.map(|Json(body)| body).unwrap_or_default();
    let actor = actor_or(body.actor.as_deref(), "api")?;
    let stages = state.stages()?;
    let done = state
        .reviewer
        .resummarize(&stages, &id, &actor, body.note.as_deref())
        .await
        .map_err(WebError::from)?;
    Ok(Json(json!({
        "decision": done.decision,
        "run": done.run.run,
        "state": done.decision.status_after,
        "model_error": done.run.tally.stop.as_ref().map(ToString::to_string),
        "published": done.run.published,
    })))
}
