//! `plugfest profiles import`: BBF data-model XML (a cwmp-datamodel
//! `dm:document`, TR-106 Annex A) → one profile YAML per `<profile>`.
//! `model` indexes the document's objects and data types, `syntax` turns a
//! `<syntax>` into a `TypeSpec`, `build` reads the `<profile>`s against the
//! model, `emit` writes the YAML `profiles/README.md` describes.

mod build;
mod emit;
mod model;
mod syntax;
#[cfg(test)]
mod tests;

pub use emit::{file_name, to_yaml};

use crate::datamodel::Profile;

/// Where in the XML a problem is, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{pos}: not well-formed XML: {message}")]
    Xml { pos: Pos, message: String },
    #[error("{pos}: not a BBF data-model document: {message}")]
    NotDataModel { pos: Pos, message: String },
    #[error("{pos}: unknown dataType `{name}` (only types defined in this document are known; import a *-full.xml model)")]
    UnknownDataType { pos: Pos, name: String },
    #[error("{pos}: unsupported syntax: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{pos}: profile {profile} refers to {what} `{path}`, which the model does not define")]
    MissingRef {
        pos: Pos,
        profile: String,
        what: &'static str,
        path: String,
    },
    #[error("{pos}: profile {profile}: {message}")]
    Profile {
        pos: Pos,
        profile: String,
        message: String,
    },
}

impl ImportError {
    pub fn pos(&self) -> Pos {
        match self {
            ImportError::Xml { pos, .. }
            | ImportError::NotDataModel { pos, .. }
            | ImportError::UnknownDataType { pos, .. }
            | ImportError::Syntax { pos, .. }
            | ImportError::MissingRef { pos, .. }
            | ImportError::Profile { pos, .. } => *pos,
        }
    }
}

/// The profiles of every `<model>` of the document, in document order, with
/// `extends`/`base` recorded (the registry resolves them at load time).
pub fn import_str(xml: &str) -> Result<Vec<Profile>, ImportError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| ImportError::Xml {
        pos: Pos {
            line: e.pos().row,
            col: e.pos().col,
        },
        message: e.to_string(),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "document" {
        return Err(ImportError::NotDataModel {
            pos: model::pos(root),
            message: format!(
                "root element is <{}>, not <dm:document>",
                root.tag_name().name()
            ),
        });
    }
    let types = model::DataTypes::read(root);
    let mut out = Vec::new();
    let models: Vec<_> = model::elements(root, "model").collect();
    if models.is_empty() {
        return Err(ImportError::NotDataModel {
            pos: model::pos(root),
            message: "no <model> element".into(),
        });
    }
    for m in models {
        let index = model::Model::read(m);
        out.extend(build::profiles(m, &index, &types)?);
    }
    Ok(out)
}
