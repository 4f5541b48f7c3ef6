//! The HTML pages and their forms.

use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::views::{self, paper_path, segments, Segment};
use super::{actor_or, auth, blocking, Change, PageError, WebError, WebState};
use crate::paper::{ArxivId, Sections};
use crate::render::digest::DigestEntry;
use crate::render::html;
use crate::render::text::one_line;
use crate::review::{PaperReview, ReviewError};
use crate::store::{QueueFilter, ReviewState};

type PageResult = Result<Response, PageError>;

pub(super) async fn index(State(state): State<WebState>, headers: HeaderMap) -> PageResult {
    state.may_read(&headers).map_err(|e| login_needed(e, "/"))?;
    let store = state.reviewer.store.clone();
    let days = blocking(move || Ok(store.days()?)).await?;
    let rows: Vec<_> = days
        .iter()
        .map(|d| {
            minijinja::context! {
                date => d.date.to_string(), listed => d.listed, ok => d.ok, flagged => d.flagged,
                failed => d.failed, rejected => d.rejected, unsummarized => d.unsummarized,
                by_people => d.by_people,
            }
        })
        .collect();
    html_page(
        "Daily Papers — 검토 (review)",
        "index",
        minijinja::context! { nav => ser(state.nav(&headers)), days => rows },
    )
}

pub(super) async fn day(
    State(state): State<WebState>,
    Path(date): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let date = parse_date(&date)?;
    state
        .may_read(&headers)
        .map_err(|e| login_needed(e, &format!("/days/{date}")))?;
    let store = state.reviewer.store.clone();
    let entries = blocking(move || Ok(store.current_for_date(date)?)).await?;
    if entries.is_empty() {
        return Err(WebError::not_found(format!("no papers are stored for {date}")).into());
    }
    let entries: Vec<DigestEntry> = entries.iter().map(DigestEntry::from).collect();
    let day = html::day(date, &entries, state.reviewer.digests.include_flagged)?;
    html_page(
        &format!("Daily Papers ({date})"),
        "day",
        minijinja::context! { nav => ser(state.nav(&headers)), date => date.to_string(), day => day },
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct QueueQuery {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

impl QueueQuery {
    pub(super) fn parse(&self) -> Result<(Option<NaiveDate>, QueueFilter), WebError> {
        let date = match self.date.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_date(text)?),
        };
        let filter = match self.status.as_deref().map(str::trim) {
            None | Some("") => QueueFilter::Pending,
            Some(name) => QueueFilter::ALL
                .into_iter()
                .find(|filter| filter.as_str() == name)
                .ok_or_else(|| {
                    WebError::bad_request(format!(
                        "unknown status {:?}: expected pending, flagged, failed or all",
                        one_line(name)
                    ))
                })?,
        };
        Ok((date, filter))
    }
}

pub(super) async fn queue(
    State(state): State<WebState>,
    Query(query): Query<QueueQuery>,
    headers: HeaderMap,
) -> PageResult {
    let (date, filter) = query.parse()?;
    state
        .may_read(&headers)
        .map_err(|e| login_needed(e, "/queue"))?;
    let store = state.reviewer.store.clone();
    let entries = blocking(move || Ok(store.queue(date, filter)?)).await?;
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            minijinja::context! {
                path => paper_path(&e.paper), id => e.paper.to_string(), title => one_line(&e.title),
                state => e.state.map(ReviewState::as_str).unwrap_or("none"),
                reasons => e.reasons.iter().map(|r| one_line(r)).collect::<Vec<_>>(),
                dates => e.dates.iter().map(ToString::to_string).collect::<Vec<_>>(),
                decided => e.decided.as_ref().map(|d| format!("{} · {}", d.action, one_line(&d.actor))),
            }
        })
        .collect();
    html_page(
        "검토 대기열 (review queue)",
        "queue",
        minijinja::context! {
            nav => ser(state.nav(&headers)), entries => rows, status => filter.as_str(),
            date => date.map(|d| d.to_string()).unwrap_or_default(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PaperQuery {
    #[serde(default)]
    done: Option<String>,
}

pub(super) async fn paper(
    State(state): State<WebState>,
    Path(id): Path<String>,
    Query(query): Query<PaperQuery>,
    headers: HeaderMap,
) -> PageResult {
    let id = parse_id(&id)?;
    state
        .may_read(&headers)
        .map_err(|e| login_needed(e, &paper_path(&id)))?;
    let message = query.done.as_deref().and_then(done_message);
    render_paper(&state, &headers, &id, StatusCode::OK, message, None, None).await
}

/// The paper page, with a message or an error and (after a refused edit) the person's draft.
async fn render_paper(
    state: &WebState,
    headers: &HeaderMap,
    id: &ArxivId,
    status: StatusCode,
    message: Option<&str>,
    error: Option<String>,
    draft: Option<Sections>,
) -> PageResult {
    let reviewer = state.reviewer.clone();
    let key = id.clone();
    let review = blocking(move || reviewer.paper(&key)).await?;
    let view = PaperView::of(&review, draft);
    let title = format!("{} — 검토 (review)", review.paper.title);
    let body = views::page(
        &title,
        "paper",
        minijinja::context! {
            nav => ser(state.nav(headers)), paper => ser(view), message => message, error => error,
            resummarize_available => state.stages.is_ok(),
        },
    )?;
    Ok((status, Html(body)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: Option<String>,
    /// The attempt the page showed.
    #[serde(default)]
    attempt: Option<String>,
    #[serde(default)]
    whats_new: Option<String>,
    #[serde(default)]
    technical_details: Option<String>,
    #[serde(default)]
    performance_highlights: Option<String>,
}

impl DecisionForm {
    fn seen(&self) -> Result<Option<i64>, WebError> {
        match self.attempt.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                WebError::bad_request(format!("attempt {:?} is not a number", one_line(text)))
            }),
        }
    }

    /// An edit's text; a field left out is empty.
    fn sections(&self) -> Sections {
        Sections {
            whats_new: self.whats_new.clone().unwrap_or_default(),
            technical_details: self.technical_details.clone().unwrap_or_default(),
            performance_highlights: self.performance_highlights.clone().unwrap_or_default(),
        }
    }
}

pub(super) async fn approve(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    form: Form<DecisionForm>,
) -> PageResult {
    decide(state, id, headers, form, Change::Approve).await
}

pub(super) async fn reject(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    form: Form<DecisionForm>,
) -> PageResult {
    decide(state, id, headers, form, Change::Reject).await
}

pub(super) async fn edit(
    state: State<WebState>,
    id: Path<String>,
    headers: HeaderMap,
    form: Form<DecisionForm>,
) -> PageResult {
    let change = Change::Edit(form.sections());
    decide(state, id, headers, form, change).await
}

async fn decide(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
    change: Change,
) -> PageResult {
    let id = parse_id(&id)?;
    let session = state.form_session(&headers, &form.csrf)?;
    let seen = form.seen()?;
    // A refused edit comes back with the person's text.
    let draft = match &change {
        Change::Edit(sections) => Some(sections.clone()),
        Change::Approve | Change::Reject => None,
    };
    match state
        .decide(&id, change, session.actor, form.note, seen)
        .await
    {
        Ok((decided, _)) => {
            let done = decided.decision.action.as_str();
            Ok(Redirect::to(&format!("{}?done={done}", paper_path(&id))).into_response())
        }
        // A decision the page can explain: shown on the paper page, with the person's draft.
        Err(
            error @ WebError::Review(
                ReviewError::Refused { .. }
                | ReviewError::NotApplicable { .. }
                | ReviewError::NoSummary { .. }
                | ReviewError::Decide(_),
            ),
        ) => {
            let status = error.status();
            render_paper(
                &state,
                &headers,
                &id,
                status,
                None,
                Some(error.to_string()),
                draft,
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn resummarize(
    State(state): State<WebState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> PageResult {
    let id = parse_id(&id)?;
    let session = state.form_session(&headers, &form.csrf)?;
    let result = match state.stages() {
        Ok(stages) => {
            state
                .reviewer
                .resummarize(&stages, &id, &session.actor, form.note.as_deref())
                .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("{}?done=resummarize", paper_path(&id))).into_response()),
        Err(error @ (ReviewError::Decide(_) | ReviewError::ModelUnavailable(_))) => {
            let error = WebError::Review(error);
            let status = error.status();
            render_paper(
                &state,
                &headers,
                &id,
                status,
                None,
                Some(error.to_string()),
                None,
            )
            .await
        }
        Err(error) => Err(WebError::Review(error).into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn login_form(
    State(state): State<WebState>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> PageResult {
    login_page(
        &state,
        &headers,
        StatusCode::OK,
        query.next.as_deref(),
        None,
    )
}

fn login_page(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> PageResult {
    let csrf = auth::random_token();
    let body = views::page(
        "로그인 (log in)",
        "login",
        minijinja::context! {
            nav => ser(state.nav(headers)), csrf => csrf.clone(), next => safe_next(next),
            error => error,
        },
    )?;
    let cookie = auth::set_cookie(auth::LOGIN_COOKIE, &csrf, auth::LOGIN_FORM_LIFETIME);
    Ok((status, AppendHeaders([(SET_COOKIE, cookie)]), Html(body)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let next = safe_next(form.next.as_deref());
    let Some(token) = &state.token else {
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some(&next),
            Some("no serve token is configured: this server is read-only"),
        );
    };
    let form_cookie = auth::cookie(&headers, auth::LOGIN_COOKIE).unwrap_or("");
    if form_cookie.is_empty() || !auth::same_secret(form_cookie, &form.csrf) {
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some(&next),
            Some("the login form expired or was not sent from this site: try again"),
        );
    }
    if !token.matches(&form.token) {
        tracing::warn!("login refused: wrong serve token");
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some(&next),
            Some("wrong token"),
        );
    }
    let actor = actor_or(Some(&form.name), "web")?;
    tracing::info!(%actor, "logged in");
    let session = state.sessions.open(actor);
    Ok((
        AppendHeaders([
            (
                SET_COOKIE,
                auth::set_cookie(auth::SESSION_COOKIE, &session, auth::SESSION_LIFETIME),
            ),
            (SET_COOKIE, auth::clear_cookie(auth::LOGIN_COOKIE)),
        ]),
        Redirect::to(&next),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> PageResult {
    if let Some((id, session)) = state.session(&headers) {
        if !auth::same_secret(&session.csrf, &form.csrf) {
            return Err(WebError::forbidden(
                "the form's security token does not match your session",
            )
            .into());
        }
        state.sessions.close(&id);
    }
    Ok((
        AppendHeaders([(SET_COOKIE, auth::clear_cookie(auth::SESSION_COOKIE))]),
        Redirect::to("/"),
    )
        .into_response())
}

pub(super) async fn not_found() -> PageResult {
    Err(WebError::not_found("no such page".to_string()).into())
}

/// A whole page for an error or a notice.
pub(super) fn message_page(status: StatusCode, message: &str) -> String {
    let login = matches!(status, StatusCode::UNAUTHORIZED);
    let nav = views::Nav {
        actor: None,
        csrf: String::new(),
        writes_enabled: true,
    };
    views::page(
        &format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
        "message",
        minijinja::context! {
            nav => ser(nav), status => status.as_u16(),
            reason => status.canonical_reason().unwrap_or(""),
            message => one_line(message), login => login,
        },
    )
    .unwrap_or_else(|error| {
        tracing::error!(%error, "cannot render the error page");
        format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
    })
}

/// Reads need a login here: the login page, which comes back to `path`.
fn login_needed(error: WebError, path: &str) -> PageError {
    match error {
        WebError::Status(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
            PageError(WebError::Status(
                StatusCode::UNAUTHORIZED,
                format!(
                    "this server is not on a local address: log in to read (then go to {path})"
                ),
            ))
        }
        other => PageError(other),
    }
}

/// A value for a template context.
fn ser<T: Serialize>(value: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

fn html_page(title: &str, name: &'static str, context: minijinja::Value) -> PageResult {
    Ok(Html(views::page(title, name, context)?).into_response())
}

fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "approve" => "승인했습니다: 다이제스트에 실립니다. (Approved: the summary is published.)",
        "reject" => "거부했습니다: 다이제스트에서 빠집니다. (Rejected: the summary is kept out.)",
        "edit" => "수정한 요약을 저장했습니다. (Your edit is saved.)",
        "resummarize" => "모델에 다시 요청했습니다. (The model was asked again.)",
        _ => return None,
    })
}

/// Where to go after logging in: a path of this site only.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

pub(super) fn parse_date(text: &str) -> Result<NaiveDate, WebError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        WebError::bad_request(format!(
            "{:?} is not a date in the form YYYY-MM-DD",
            one_line(text)
        ))
    })
}

pub(super) fn parse_id(text: &str) -> Result<ArxivId, WebError> {
    ArxivId::parse(text)
        .map(|v| v.id)
        .map_err(|e| WebError::bad_request(one_line(&e.to_string())))
}

/// The paper page's values, every text through the shared rule.
#[derive(Debug, Serialize)]
struct PaperView {
    id: String,
    path: String,
    /// The login page, coming back here.
    login_path: String,
    abs_url: String,
    title: String,
    authors: String,
    abstract_segments: Vec<Segment>,
    dates: Vec<String>,
    state: &'static str,
    decided: Option<String>,
    attempt: Option<i64>,
    sections: Vec<SectionView>,
    /// What the edit form starts with: the person's refused draft, or the current text.
    draft: Vec<DraftField>,
    reasons: Vec<String>,
    found: Vec<String>,
    missing: Vec<String>,
    model: Option<String>,
    prompt_version: Option<String>,
    created_at: Option<String>,
    claimed_by: Option<i64>,
    history: Vec<HistoryRow>,
    decisions: Vec<DecisionRow>,
}

#[derive(Debug, Serialize)]
struct SectionView {
    title: &'static str,
    segments: Vec<Segment>,
}

#[derive(Debug, Serialize)]
struct DraftField {
    name: &'static str,
    title: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct HistoryRow {
    id: i64,
    at: String,
    by: String,
    status: String,
    model: String,
    prompt_version: String,
    calls: u64,
    current: bool,
}

#[derive(Debug, Serialize)]
struct DecisionRow {
    at: String,
    actor: String,
    action: String,
    note: Option<String>,
    change: String,
}

impl PaperView {
    fn of(review: &PaperReview, draft: Option<Sections>) -> PaperView {
        let paper = &review.paper;
        let current = review.current.as_ref();
        let marks = review.marks.as_ref();
        let sections = current
            .and_then(|c| c.sections.as_ref())
            .map(|s| {
                s.iter()
                    .into_iter()
                    .map(|(title, text)| SectionView {
                        title,
                        segments: segments(text, marks, true),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let base = draft.or_else(|| current.and_then(|c| c.sections.clone()));
        let texts = base.as_ref().map(|s| {
            [
                s.whats_new.as_str(),
                s.technical_details.as_str(),
                s.performance_highlights.as_str(),
            ]
        });
        let draft = ["whats_new", "technical_details", "performance_highlights"]
            .into_iter()
            .zip(Sections::TITLES)
            .enumerate()
            .map(|(i, (name, title))| DraftField {
                name,
                title,
                text: texts.map(|t| one_line(t[i])).unwrap_or_default(),
            })
            .collect();
        PaperView {
            id: paper.id.to_string(),
            path: paper_path(&paper.id),
            login_path: format!("/login?next={}", paper_path(&paper.id).replace('%', "%25")),
            abs_url: paper.id.abs_url(),
            title: one_line(&paper.title),
            authors: paper
                .authors
                .iter()
                .map(|a| one_line(a))
                .collect::<Vec<_>>()
                .join(", "),
            abstract_segments: segments(&paper.abstract_text, marks, false),
            dates: review.dates.iter().map(ToString::to_string).collect(),
            state: review.state.map(ReviewState::as_str).unwrap_or("none"),
            decided: current
                .and_then(|c| c.decided.as_ref())
                .map(|d| format!("{} · {} · {}", d.action, one_line(&d.actor), d.at)),
            attempt: current.map(|c| c.attempt),
            sections,
            draft,
            reasons: current
                .map(|c| c.reasons.iter().map(|r| one_line(r)).collect())
                .unwrap_or_default(),
            found: marks
                .map(|m| m.found.iter().map(|t| one_line(t)).collect())
                .unwrap_or_default(),
            missing: marks
                .map(|m| m.missing.iter().map(|t| one_line(t)).collect())
                .unwrap_or_default(),
            model: current.map(|c| one_line(&c.key.model)),
            prompt_version: current.map(|c| c.key.prompt_version.clone()),
            created_at: current.map(|c| c.created_at.clone()),
            claimed_by: review.claimed_by.map(|run| run.0),
            history: review
                .history
                .iter()
                .map(|a| HistoryRow {
                    id: a.id,
                    at: a.created_at.clone(),
                    by: match &a.actor {
                        Some(actor) => format!("{} · {}", a.kind, one_line(actor)),
                        None => format!("{} (run {})", a.kind, a.run),
                    },
                    status: a.status.to_string(),
                    model: one_line(&a.model),
                    prompt_version: a.prompt_version.clone(),
                    calls: a.calls,
                    current: a.current,
                })
                .collect(),
            decisions: review
                .decisions
                .iter()
                .rev()
                .map(|d| DecisionRow {
                    at: d.decided_at.clone(),
                    actor: one_line(&d.actor),
                    action: d.action.to_string(),
                    note: d.note.as_deref().map(one_line),
                    change: format!(
                        "{} → {}",
                        d.status_before.map(ReviewState::as_str).unwrap_or("none"),
                        d.status_after.map(ReviewState::as_str).unwrap_or("none")
                    ),
                })
                .collect(),
        }
    }
}
