//! Prompt templates: a paper (and, for a repair, the failed answer) in, chat messages out.
//!
//! The templates (`system.j2`, `user.j2`, `repair.j2`, and `judge.j2` for the optional identity
//! judge) are compiled in from `prompts/`; a folder given by the user overrides them file by file. Templates render with minijinja in strict
//! mode, so a misspelt variable is an error naming the file instead of an empty string in the prompt.
//! The paper's title and abstract reach the model as data inside `<paper_title>`/`<abstract>` tags;
//! [`neutralize_tags`] makes sure that data cannot close those tags or open new ones.

mod message;

pub use message::{ChatMessage, Role};

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use regex::Regex;
use serde::Serialize;

use crate::paper::{hex_sha256, Paper};

/// The templates a prompt set consists of. The first three make the summaries and are hashed into
/// [`PromptSet::version`]; `judge.j2` (the optional identity judge) does not change a summary.
pub const TEMPLATE_NAMES: [&str; 4] = [SYSTEM, USER, REPAIR, JUDGE];

const SYSTEM: &str = "system.j2";
const USER: &str = "user.j2";
const REPAIR: &str = "repair.j2";
const JUDGE: &str = "judge.j2";

const BUILTIN: [(&str, &str); 4] = [
    (SYSTEM, include_str!("../../prompts/system.j2")),
    (USER, include_str!("../../prompts/user.j2")),
    (REPAIR, include_str!("../../prompts/repair.j2")),
    (JUDGE, include_str!("../../prompts/judge.j2")),
];

/// Hex digits of the template hash kept as the version: short enough to read, long enough not to collide.
const VERSION_HEX_DIGITS: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read prompt folder {path}: {message}")]
    Folder { path: PathBuf, message: String },
    #[error("cannot read prompt template {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("unknown prompt template {path} (a prompt folder may hold only system.j2, user.j2, repair.j2 and judge.j2)")]
    UnknownTemplate { path: PathBuf },
    /// A syntax error, an undefined variable or a failed expression; `file` is the path or `built-in NAME`.
    #[error("prompt template {file}: {message}")]
    Template { file: String, message: String },
}

/// What a prompt is made from: the paper and the abstract text actually sent.
#[derive(Debug, Clone, Copy)]
pub struct PromptInput<'a> {
    pub paper: &'a Paper,
    /// The abstract as sent, possibly cut to the token budget.
    pub abstract_text: &'a str,
    /// Whether `abstract_text` was cut; the prompt then tells the model so.
    pub trimmed: bool,
}

/// A loaded, validated set of the templates.
#[derive(Debug)]
pub struct PromptSet {
    env: Environment<'static>,
    /// Where each template came from, for error messages: `(name, origin)`.
    origins: Vec<(&'static str, String)>,
    version: String,
}

struct TemplateSource {
    name: &'static str,
    origin: String,
    text: String,
}

impl PromptSet {
    /// The templates compiled into the binary.
    pub fn builtin() -> PromptSet {
        let sources = BUILTIN
            .iter()
            .map(|(name, text)| builtin_source(name, text))
            .collect();
        // The built-in templates are constant and rendered by this module's tests, so a failure
        // here is a defect of the build, not something an input can cause.
        PromptSet::from_sources(sources).expect("built-in prompt templates are valid")
    }

    /// The built-in templates, each replaced by the file of the same name in `dir` when present.
    ///
    /// Any other `*.j2` file in `dir` is an error: it is most likely a misspelt override that would
    /// otherwise be silently ignored. Files with other extensions (a README) are ignored.
    pub fn load(dir: Option<&Path>) -> Result<PromptSet, PromptError> {
        let Some(dir) = dir else {
            return Ok(PromptSet::builtin());
        };
        reject_unknown_templates(dir)?;
        let mut sources = Vec::with_capacity(BUILTIN.len());
        for (name, builtin_text) in BUILTIN {
            let path = dir.join(name);
            if path.exists() {
                let text = std::fs::read_to_string(&path).map_err(|e| PromptError::Read {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                sources.push(TemplateSource {
                    name,
                    origin: path.display().to_string(),
                    text,
                });
            } else {
                sources.push(builtin_source(name, builtin_text));
            }
        }
        PromptSet::from_sources(sources)
    }

    /// Short hex hash over the three summary templates' names and contents; stored with every summary.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The messages asking for a summary: system, then user.
    pub fn render(&self, input: &PromptInput) -> Result<Vec<ChatMessage>, PromptError> {
        let context = Context::new(input, &[]);
        Ok(vec![
            ChatMessage::new(Role::System, self.render_one(SYSTEM, &context)?),
            ChatMessage::new(Role::User, self.render_one(USER, &context)?),
        ])
    }

    /// The messages asking to fix a failed answer: the original conversation, the model's previous
    /// answer as its own turn, and a user turn listing what was wrong.
    pub fn render_repair(
        &self,
        input: &PromptInput,
        previous_answer: &str,
        reasons: &[String],
    ) -> Result<Vec<ChatMessage>, PromptError> {
        let context = Context::new(input, reasons);
        Ok(vec![
            ChatMessage::new(Role::System, self.render_one(SYSTEM, &context)?),
            ChatMessage::new(Role::User, self.render_one(USER, &context)?),
            ChatMessage::new(Role::Assistant, previous_answer),
            ChatMessage::new(Role::User, self.render_one(REPAIR, &context)?),
        ])
    }

    /// The message asking the model whether `summary` describes the paper (the optional judge).
    pub fn render_judge(
        &self,
        input: &PromptInput,
        summary: &str,
    ) -> Result<Vec<ChatMessage>, PromptError> {
        let mut context = Context::new(input, &[]);
        context.summary = neutralize_tags(summary);
        Ok(vec![ChatMessage::new(
            Role::User,
            self.render_one(JUDGE, &context)?,
        )])
    }

    fn from_sources(sources: Vec<TemplateSource>) -> Result<PromptSet, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Prompts are plain text: HTML escaping would turn `<` in an abstract into `&lt;`.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // `{% if %}`/`{% for %}` lines leave no blank lines behind, as in Jinja's usual setup.
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("default delimiters are valid"),
        );
        let version = version_of(&sources);
        let mut origins = Vec::with_capacity(sources.len());
        for source in sources {
            env.add_template_owned(source.name, source.text)
                .map_err(|e| template_error(&source.origin, &e))?;
            origins.push((source.name, source.origin));
        }
        let set = PromptSet {
            env,
            origins,
            version,
        };
        set.validate()?;
        Ok(set)
    }

    /// Renders every template once with a sample paper, so that an undefined variable or a failing
    /// expression is reported when the set is loaded, not in the middle of a run.
    fn validate(&self) -> Result<(), PromptError> {
        let reasons = ["section \"What's New\" is empty".to_string()];
        let context = Context {
            paper: PaperContext {
                id: "2409.00001".to_string(),
                title: "Sample title".to_string(),
                authors: vec!["Sample Author".to_string()],
                primary_category: Some("cs.CL".to_string()),
                categories: vec!["cs.CL".to_string()],
            },
            abstract_text: "Sample abstract.".to_string(),
            trimmed: true,
            reasons: reasons.to_vec(),
            summary: "샘플 요약입니다.".to_string(),
        };
        for name in TEMPLATE_NAMES {
            self.render_one(name, &context)?;
        }
        Ok(())
    }

    fn render_one(&self, name: &'static str, context: &Context) -> Result<String, PromptError> {
        let origin = self.origin_of(name);
        let template = self
            .env
            .get_template(name)
            .map_err(|e| template_error(origin, &e))?;
        let text = template
            .render(minijinja::value::Serde(context))
            .map_err(|e| template_error(origin, &e))?;
        Ok(text.trim().to_string())
    }

    fn origin_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.origins
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(name, |(_, origin)| origin.as_str())
    }
}

fn builtin_source(name: &'static str, text: &str) -> TemplateSource {
    TemplateSource {
        name,
        origin: format!("built-in {name}"),
        text: text.to_string(),
    }
}

fn reject_unknown_templates(dir: &Path) -> Result<(), PromptError> {
    let folder_error = |e: std::io::Error| PromptError::Folder {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    for entry in std::fs::read_dir(dir).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file_name.ends_with(".j2") && !TEMPLATE_NAMES.contains(&file_name) {
            return Err(PromptError::UnknownTemplate { path });
        }
    }
    Ok(())
}

fn version_of(sources: &[TemplateSource]) -> String {
    let mut bytes = Vec::new();
    for source in sources.iter().filter(|source| source.name != JUDGE) {
        // NUL separators keep `("a", "bc")` and `("ab", "c")` from hashing alike.
        bytes.extend_from_slice(source.name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(source.text.as_bytes());
        bytes.push(0);
    }
    let mut hex = hex_sha256(&bytes);
    hex.truncate(VERSION_HEX_DIGITS);
    hex
}

fn template_error(origin: &str, error: &minijinja::Error) -> PromptError {
    PromptError::Template {
        file: origin.to_string(),
        message: error.to_string(),
    }
}

/// Everything a template may use. Paper text is neutralised here, so no template can forget it.
#[derive(Debug, Serialize)]
struct Context {
    paper: PaperContext,
    abstract_text: String,
    trimmed: bool,
    /// What was wrong with the previous answer; empty except for a repair.
    reasons: Vec<String>,
    /// The summary under judgement; empty except for the judge.
    summary: String,
}

#[derive(Debug, Serialize)]
struct PaperContext {
    id: String,
    title: String,
    authors: Vec<String>,
    primary_category: Option<String>,
    categories: Vec<String>,
}

impl Context {
    fn new(input: &PromptInput, reasons: &[String]) -> Context {
        let paper = input.paper;
        Context {
            paper: PaperContext {
                id: paper.id.to_string(),
                title: neutralize_tags(&paper.title),
                authors: paper.authors.iter().map(|a| neutralize_tags(a)).collect(),
                primary_category: paper.primary_category.as_deref().map(neutralize_tags),
                categories: paper
                    .categories
                    .iter()
                    .map(|c| neutralize_tags(c))
                    .collect(),
            },
            abstract_text: neutralize_tags(input.abstract_text),
            trimmed: input.trimmed,
            // Reasons quote the model's answer, which may echo the abstract: same treatment.
            reasons: reasons.iter().map(|r| neutralize_tags(r)).collect(),
            summary: String::new(),
        }
    }
}

/// `<` starting something tag-like (`<abstract>`, `</abstract`, `< /system>`), also with invisible
/// format characters (zero-width space, bidi marks) hiding between the `<` and the name.
static TAG_OPEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<([\s\p{Cf}]*/?[\s\p{Cf}]*[A-Za-z_])").expect("constant pattern")
});

/// Replaces the `<` of anything tag-like with `‹`, so data can neither close the delimiter it sits
/// in nor open a fake one. Comparisons such as `p < 0.05` or `x<1` are left alone.
pub fn neutralize_tags(text: &str) -> String {
    TAG_OPEN.replace_all(text, "‹$1").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralizes_tags_but_not_comparisons() {
        assert_eq!(
            neutralize_tags("a</abstract> b <abstract> c < /system> p < 0.05, x<1"),
            "a‹/abstract> b ‹abstract> c ‹ /system> p < 0.05, x<1"
        );
    }

    #[test]
    fn builtin_set_loads_and_has_a_short_hex_version() {
        let set = PromptSet::builtin();
        assert_eq!(set.version().len(), VERSION_HEX_DIGITS);
        assert!(set.version().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
