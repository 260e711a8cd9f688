//! One data-model profile (which objects, parameters, commands and events an
//! Agent must support, with what access and TR-106 syntax), as written in the
//! YAML files of `profiles/`, and the union that `extends`/`base` make of them.
//! The registry of loaded profiles is `super::registry`.

use super::types::TypeSpec;
use serde::Deserialize;

/// One profile file (format in `profiles/README.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub released_as: Option<String>,
    pub dmr_version: String,
    #[serde(default)]
    pub description: Option<String>,
    /// A file that only describes types (not a profile a case can demand).
    #[serde(default)]
    pub types_only: bool,
    /// Profiles whose every item this one also requires (TR-106 `extends`,
    /// e.g. DRAFT:1 extends the seven DRAFT profiles).
    #[serde(default)]
    pub extends: Vec<String>,
    /// The previous version this one builds on (TR-106 `base`, e.g. X:2 on X:1);
    /// resolved like `extends`.
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub objects: Vec<ObjectReq>,
}

impl Profile {
    /// The profiles this one includes, `base` first.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.base
            .iter()
            .chain(self.extends.iter())
            .map(String::as_str)
    }

    /// Adds `other`'s items to this profile's: an object both list keeps the
    /// stronger requirement, a parameter the stronger access (TR-106: an
    /// extending profile may only add or strengthen requirements).
    pub fn absorb(&mut self, other: &Profile) {
        for obj in &other.objects {
            match self.objects.iter_mut().find(|o| o.path == obj.path) {
                Some(mine) => mine.absorb(obj),
                None => self.objects.push(obj.clone()),
            }
        }
    }
}

/// What a profile requires of an object, weakest first (the order `absorb`
/// relies on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectRequirement {
    /// Types only; no requirement.
    NotSpecified,
    /// Must exist (tables: may have zero rows).
    Present,
    /// The Controller must be able to Add and Delete instances.
    CreateDelete,
}

impl ObjectRequirement {
    pub fn name(self) -> &'static str {
        match self {
            ObjectRequirement::NotSpecified => "notSpecified",
            ObjectRequirement::Present => "present",
            ObjectRequirement::CreateDelete => "createDelete",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectReq {
    /// Supported-DM path, tables with `{i}`: `Device.LocalAgent.MTP.{i}.`
    pub path: String,
    pub requirement: ObjectRequirement,
    /// Why the object is skipped by profile checks although the profile
    /// lists it (e.g. the CoAP MTP, obsoleted in USP 1.3).
    #[serde(default)]
    pub obsolete: Option<String>,
    #[serde(default)]
    pub parameters: Vec<ParamReq>,
    #[serde(default)]
    pub commands: Vec<CommandReq>,
    #[serde(default)]
    pub events: Vec<EventReq>,
}

impl ObjectReq {
    pub fn is_table(&self) -> bool {
        self.path.ends_with(".{i}.")
    }

    fn absorb(&mut self, other: &ObjectReq) {
        self.requirement = self.requirement.max(other.requirement);
        if other.obsolete.is_none() {
            // Another profile demands it without the excuse.
            self.obsolete = None;
        }
        for p in &other.parameters {
            match self.parameters.iter_mut().find(|m| m.name == p.name) {
                Some(mine) => mine.access = mine.access.max(p.access),
                None => self.parameters.push(p.clone()),
            }
        }
        for c in &other.commands {
            if !self.commands.iter().any(|m| m.name == c.name) {
                self.commands.push(c.clone());
            }
        }
        for e in &other.events {
            if !self.events.iter().any(|m| m.name == e.name) {
                self.events.push(e.clone());
            }
        }
    }
}

/// Access a profile requires of a parameter, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamReq {
    pub name: String,
    pub access: Access,
    pub syntax: TypeSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandReq {
    /// With the parentheses: `Reboot()`.
    pub name: String,
    #[serde(default, rename = "async")]
    pub is_async: bool,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub output: Vec<String>,
    /// Arguments (input or output) the released model removed: an Agent
    /// that implements the released definition may leave them out.
    #[serde(default)]
    pub dropped_later: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventReq {
    /// With the bang: `Boot!`.
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Arguments the released model removed (see `CommandReq`).
    #[serde(default)]
    pub dropped_later: Vec<String>,
}

/// Replaces every instance segment (number, `*`, `{i}`, search expression
/// or unique-key `[...]`) by `{i}`, so instantiated, search and supported
/// paths compare equal.
pub fn normalize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for seg in split_path(path) {
        if !out.is_empty() {
            out.push('.');
        }
        let is_instance = (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
            || seg == "*"
            || seg == "{i}"
            || seg.starts_with('[');
        out.push_str(if is_instance { "{i}" } else { seg });
    }
    out
}

/// Splits on `.` outside `[...]` (search expressions may contain dots).
pub fn split_path(path: &str) -> Vec<&str> {
    let mut segs = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                segs.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segs.push(&path[start..]);
    segs
}
