//! `plugfest schema`: prints the JSON Schema of a test-case file, the one
//! shipped as schemas/test-case.schema.json (tests keep the two equal).

use std::process::ExitCode;

use super::{exit, EXIT_PASSED};

/// The schema as the shipped file holds it: pretty JSON and a final newline.
pub fn render() -> String {
    let schema = crate::suite::loader::schema();
    // Serialising a serde_json::Value cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

pub fn schema() -> ExitCode {
    crate::say!("{}", render().trim_end());
    exit(EXIT_PASSED)
}
