//! The HTML templates and their styles: built into the binary (so a report
//! needs nothing beside it), each replaceable by a file of the same name in
//! a `--templates DIR`, so users can restyle without rebuilding.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Every template file, by name, with its built-in text.
const BUILT_IN: &[(&str, &str)] = &[
    ("report.html", include_str!("../../templates/report.html")),
    ("report.css", include_str!("../../templates/report.css")),
    ("report.js", include_str!("../../templates/report.js")),
    ("matrix.html", include_str!("../../templates/matrix.html")),
];

#[derive(Debug, Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--templates {0}: not a directory")]
    NotADirectory(PathBuf),
    #[error("template {name}: {detail}")]
    Render { name: String, detail: String },
}

/// The template texts in use: the built-in ones, with any file found in the
/// override directory taking the place of its namesake.
#[derive(Debug, Clone)]
pub struct TemplateSet {
    sources: Vec<(&'static str, String)>,
}

impl TemplateSet {
    pub fn load(overrides: Option<&Path>) -> Result<Self, TemplateError> {
        if let Some(dir) = overrides {
            if !dir.is_dir() {
                return Err(TemplateError::NotADirectory(dir.to_path_buf()));
            }
        }
        let mut sources = Vec::with_capacity(BUILT_IN.len());
        for (name, built_in) in BUILT_IN {
            let text = match overrides.map(|d| d.join(name)) {
                Some(path) if path.is_file() => std::fs::read_to_string(&path)
                    .map_err(|source| TemplateError::Read { path, source })?,
                _ => built_in.to_string(),
            };
            sources.push((*name, text));
        }
        Ok(TemplateSet { sources })
    }

    /// The text in use for `name` (built-in or override).
    pub fn source(&self, name: &str) -> &str {
        self.sources
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, text)| text.as_str())
    }

    /// A template environment over these texts. HTML files are
    /// auto-escaped (minijinja's default for `.html`): every value an Agent
    /// or a test-case file supplied is escaped unless a template says
    /// otherwise.
    pub fn environment(&self) -> Result<minijinja::Environment<'_>, TemplateError> {
        let mut env = minijinja::Environment::new();
        for (name, text) in &self.sources {
            env.add_template(name, text)
                .map_err(|e| render_error(name, &e))?;
        }
        Ok(env)
    }
}

pub fn render_error(name: &str, e: &minijinja::Error) -> TemplateError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(&format!(": {s}"));
        source = s.source();
    }
    TemplateError::Render {
        name: name.to_string(),
        detail,
    }
}
