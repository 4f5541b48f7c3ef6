//! The review web page (`paper-digest serve`) over the same store as the job: the days with their
//! counts, a day's digest as HTML, the review queue, a paper page (summary beside title and
//! abstract, the checks' terms marked, the reasons, the history and the trail) with forms to
//! approve, reject, edit and re-summarize; and a JSON API that mirrors the pages for scripts.
//!
//! Server-rendered HTML (no script, no external asset), every value escaped; see [`auth`] for who
//! may read and write. [`router`] builds the whole application (the tests drive it in-process);
//! [`serve`] runs it on a listener until the shutdown.

mod api;
mod auth;
mod pages;
mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::Level;

pub use auth::{ServeToken, UnusableToken};

use crate::paper::{ArxivId, Sections};
use crate::pipeline::{PipelineError, Shutdown, Stages};
use crate::render::html::HtmlError;
use crate::review::{actor_name, Decided, ReviewError, Reviewer};
use crate::store::{DecideError, PublishRecord};
use auth::{Bearer, Session, Sessions};

/// Largest request body taken (an edit's three sections and a note fit many times over).
const BODY_LIMIT: usize = 256 * 1024;
/// Reads and logins answer within this; decisions and re-summarizations are bounded by their clients.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Content-Security-Policy of every answer: nothing but the page's own inline style, images over
/// http(s) (thumbnails), forms posting back here; never framed.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http:; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `serve`'s settings (`[serve]`), read once by `settings`.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Where to listen (`serve.bind`).
    pub bind: SocketAddr,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct WebState {
    reviewer: Reviewer,
    /// The summarize stage for re-summarizing; why it is unavailable otherwise (no API key...).
    stages: Result<Arc<Stages>, String>,
    token: Option<ServeToken>,
    /// Reading needs no login (the server is bound to a loopback address).
    reads_open: bool,
    sessions: Sessions,
}

impl WebState {
    /// `reads_open` should be true only when the server is bound to a loopback address
    /// ([`reads_open_on`]).
    pub fn new(
        reviewer: Reviewer,
        stages: Result<Stages, String>,
        token: Option<ServeToken>,
        reads_open: bool,
    ) -> WebState {
        WebState {
            reviewer,
            stages: stages.map(Arc::new),
            token,
            reads_open,
            sessions: Sessions::default(),
        }
    }
}

/// A person's decision on a paper's current summary, from a page's form or the API.
enum Change {
    Approve,
    Reject,
    Edit(Sections),
}

/// Reads are open without a login only on a loopback address (`127.0.0.0/8`, `::1`).
pub fn reads_open_on(bind: &SocketAddr) -> bool {
    bind.ip().is_loopback()
}

/// The whole application: pages, forms, the JSON API, security headers, request logs.
pub fn router(state: WebState) -> Router {
    let quick = Router::new()
        .route("/", get(pages::index))
        .route("/days/{date}", get(pages::day))
        .route("/queue", get(pages::queue))
        .route("/papers/{id}", get(pages::paper))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/api/days", get(api::days))
        .route("/api/days/{date}", get(api::day))
        .route("/api/queue", get(api::queue))
        .route("/api/papers/{id}", get(api::paper))
        .fallback(pages::not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ));
    // Decisions publish the paper's days and a re-summarization waits for the model: each is
    // bounded by its own client's timeouts and retries, and must not be dropped half-way (a
    // decision recorded, its publishing cut off unrecorded, the reviewer told 503).
    let slow = Router::new()
        .route("/papers/{id}/approve", post(pages::approve))
        .route("/papers/{id}/reject", post(pages::reject))
        .route("/papers/{id}/edit", post(pages::edit))
        .route("/api/papers/{id}/approve", post(api::approve))
        .route("/api/papers/{id}/reject", post(api::reject))
        .route("/api/papers/{id}/edit", post(api::edit))
        .route("/papers/{id}/resummarize", post(pages::resummarize))
        .route("/api/papers/{id}/resummarize", post(api::resummarize));
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    quick
        .merge(slow)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(axum::middleware::from_fn(log_request))
        // A span per request (method, URI); failures logged. Never headers: the token and the
        // cookies stay out of the logs.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(()),
        )
        .with_state(state)
}

/// One log line per request: method, path (without the query), status, duration.
async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Serves on `listener` until `shutdown` stops (SIGTERM/SIGINT), then lets the requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.stopped().await })
        .await
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Render(#[from] HtmlError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{1}")]
    Status(StatusCode, String),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::Status(status, _) => *status,
            WebError::Render(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Review(error) => match error {
                ReviewError::UnknownPaper(_) => StatusCode::NOT_FOUND,
                ReviewError::NoSummary { .. }
                | ReviewError::NotApplicable { .. }
                | ReviewError::Decide(
                    DecideError::Changed { .. } | DecideError::InProgress { .. },
                ) => StatusCode::CONFLICT,
                ReviewError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                ReviewError::BadInput(_) => StatusCode::BAD_REQUEST,
                ReviewError::ModelUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                ReviewError::Pipeline(PipelineError::Fetch(_)) => StatusCode::BAD_GATEWAY,
                ReviewError::Decide(_)
                | ReviewError::Store(_)
                | ReviewError::Publish(_)
                | ReviewError::Pipeline(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The answer's status, with the error logged when it is the server's.
    fn logged_status(&self) -> StatusCode {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        status
    }

    fn unauthorized(message: &str) -> WebError {
        WebError::Status(StatusCode::UNAUTHORIZED, message.to_string())
    }

    fn forbidden(message: &str) -> WebError {
        WebError::Status(StatusCode::FORBIDDEN, message.to_string())
    }

    fn bad_request(message: String) -> WebError {
        WebError::Status(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(message: String) -> WebError {
        WebError::Status(StatusCode::NOT_FOUND, message)
    }
}

impl WebState {
    /// The session the request's cookie names, if it is open.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = auth::cookie(headers, auth::SESSION_COOKIE)?;
        self.sessions.get(id).map(|s| (id.to_string(), s))
    }

    /// Reads are open, or the request carries a session or the bearer token.
    fn may_read(&self, headers: &HeaderMap) -> Result<(), WebError> {
        if self.reads_open || self.session(headers).is_some() {
            return Ok(());
        }
        self.bearer_ok(headers)
    }

    /// The bearer token of a JSON API call: 401 when none is given, 403 when it is wrong.
    fn bearer_ok(&self, headers: &HeaderMap) -> Result<(), WebError> {
        let Some(token) = &self.token else {
            return Err(WebError::forbidden(
                "no serve token is configured: this server is read-only",
            ));
        };
        match auth::bearer(headers) {
            Bearer::Missing => Err(WebError::unauthorized(
                "this needs the serve token: Authorization: Bearer <token>",
            )),
            Bearer::Malformed => Err(WebError::unauthorized(
                "the Authorization header is not \"Bearer <token>\"",
            )),
            Bearer::Given(given) if token.matches(given) => Ok(()),
            Bearer::Given(_) => Err(WebError::forbidden("wrong serve token")),
        }
    }

    /// A form post: 401 without a session, 403 with a wrong CSRF token.
    fn form_session(&self, headers: &HeaderMap, csrf: &str) -> Result<Session, WebError> {
        if self.token.is_none() {
            return Err(WebError::forbidden(
                "no serve token is configured: this server is read-only",
            ));
        }
        let Some((_, session)) = self.session(headers) else {
            return Err(WebError::unauthorized(
                "log in with the serve token to take decisions",
            ));
        };
        if !auth::same_secret(&session.csrf, csrf) {
            return Err(WebError::forbidden(
                "the form's security token does not match your session: reload the page and try again",
            ));
        }
        Ok(session)
    }

    /// Takes a person's decision (off the async runtime), then publishes the paper's days: what
    /// a target failed to get is recorded there, for the next run or `publish` to send.
    async fn decide(
        &self,
        id: &ArxivId,
        change: Change,
        actor: String,
        note: Option<String>,
        seen: Option<i64>,
    ) -> Result<(Decided, Vec<PublishRecord>), WebError> {
        let reviewer = self.reviewer.clone();
        let paper = id.clone();
        let decided = blocking(move || {
            let note = note.as_deref();
            match change {
                Change::Approve => reviewer.approve(&paper, &actor, note, seen),
                Change::Reject => reviewer.reject(&paper, &actor, note, seen),
                Change::Edit(sections) => reviewer.edit(&paper, sections, &actor, note, seen),
            }
        })
        .await?;
        let published = self.reviewer.publish(id).await?;
        Ok((decided, published))
    }

    /// The summarize stage for a re-summarization, or why the model is unavailable.
    fn stages(&self) -> Result<Arc<Stages>, ReviewError> {
        self.stages.clone().map_err(ReviewError::ModelUnavailable)
    }

    fn nav(&self, headers: &HeaderMap) -> views::Nav {
        let session = self.session(headers).map(|(_, s)| s);
        views::Nav {
            actor: session.as_ref().map(|s| s.actor.clone()),
            csrf: session.map(|s| s.csrf).unwrap_or_default(),
            writes_enabled: self.token.is_some(),
        }
    }
}

/// Who a write is recorded as: `name` as the trail keeps it, or `default` when none is given.
fn actor_or(name: Option<&str>, default: &str) -> Result<String, ReviewError> {
    match name.map(str::trim) {
        None | Some("") => Ok(default.to_string()),
        Some(name) => actor_name(name),
    }
}

/// Runs store work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, WebError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(WebError::from)
}

/// An error as an HTML page.
pub(crate) struct PageError(WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(error: E) -> Self {
        PageError(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.logged_status();
        let body = pages::message_page(status, &self.0.to_string());
        (status, Html(body)).into_response()
    }
}

/// An error as JSON: `{"error": "..."}`.
pub(crate) struct ApiError(WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.logged_status();
        let body = axum::Json(serde_json::json!({ "error": self.0.to_string() }));
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
