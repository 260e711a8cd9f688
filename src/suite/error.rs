//! Errors a step can hit while the runner executes it (as opposed to load
//! errors, which come from the YAML files).

/// Why a step could not be carried out; the runner reports the step as
/// errored rather than failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("variable `${{{name}}}` is not defined; capture it in an earlier step")]
    UndefinedVariable { name: String },
    #[error("unterminated `${{` in {text:?}")]
    Unterminated { text: String },
    #[error("cannot capture `{what}` into `{var}`: {reason}")]
    Capture {
        var: String,
        what: String,
        reason: String,
    },
}
