//! Data-model profiles (which objects, parameters, commands and events an
//! Agent must support, with what access and TR-106 syntax), loaded from the
//! YAML files in `profiles/` and queried by path.

use super::types::TypeSpec;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    pub objects: Vec<ObjectReq>,
}

/// What a profile requires of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectRequirement {
    /// Must exist (tables: may have zero rows).
    Present,
    /// The Controller must be able to Add and Delete instances.
    CreateDelete,
    /// Types only; no requirement.
    NotSpecified,
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
}

/// Access a profile requires of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    Read,
    Write,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventReq {
    /// With the bang: `Boot!`.
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: profile {name} is defined twice")]
    Duplicate { file: PathBuf, name: String },
}

/// All loaded profiles plus an index from normalised parameter path to type.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    profiles: Vec<Profile>,
    types: HashMap<String, TypeSpec>,
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "DRAFT-DeviceInfo-1.yaml",
        include_str!("../../profiles/DRAFT-DeviceInfo-1.yaml"),
    ),
    (
        "DRAFT-LocalAgent-1.yaml",
        include_str!("../../profiles/DRAFT-LocalAgent-1.yaml"),
    ),
    (
        "TR-181-extras.yaml",
        include_str!("../../profiles/TR-181-extras.yaml"),
    ),
];

impl Profiles {
    /// The profiles shipped in `profiles/`, embedded at build time.
    pub fn builtin() -> Profiles {
        let mut p = Profiles::default();
        for (name, text) in BUILTIN {
            // Embedded files are ours and a unit test parses them, so a
            // failure here is a build defect, not a user error.
            if let Err(e) = p.add_text(Path::new(name), text) {
                panic!("built-in profile is broken: {e}");
            }
        }
        p
    }

    /// Every `*.yaml` in `dir` (not recursive), in name order.
    pub fn load_dir(dir: &Path) -> Result<Profiles, ProfileError> {
        let read_err = |source| ProfileError::Read {
            file: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        let mut p = Profiles::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| ProfileError::Read {
                file: f.clone(),
                source,
            })?;
            p.add_text(&f, &text)?;
        }
        Ok(p)
    }

    /// Parses one profile file and adds it.
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), ProfileError> {
        let profile: Profile = serde_saphyr::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
        if self.profiles.iter().any(|p| p.name == profile.name) {
            return Err(ProfileError::Duplicate {
                file: file.to_path_buf(),
                name: profile.name,
            });
        }
        for obj in &profile.objects {
            for param in &obj.parameters {
                let key = normalize_path(&format!("{}{}", obj.path, param.name));
                // The first definition wins: profiles before the extras file.
                self.types
                    .entry(key)
                    .or_insert_with(|| param.syntax.clone());
            }
        }
        self.profiles.push(profile);
        Ok(())
    }

    /// A profile a case can demand (types-only files are not returned).
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.name == name && !p.types_only)
    }

    pub fn names(&self) -> Vec<&str> {
        self.profiles
            .iter()
            .filter(|p| !p.types_only)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// The type of a parameter path, instance numbers and `{i}` treated alike:
    /// Device.LocalAgent.MTP.3.Alias → Alias type.
    pub fn param_type(&self, path: &str) -> Option<&TypeSpec> {
        self.types.get(&normalize_path(path))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datamodel::types::BaseType;

    #[test]
    fn builtin_profiles_load() {
        let p = Profiles::builtin();
        assert!(p.get("DRAFT-DeviceInfo:1").is_some());
        assert!(p.get("DRAFT-LocalAgent:1").is_some());
        assert!(
            p.get("TR-181-extras").is_none(),
            "types-only file is not a profile"
        );
        assert!(p.get("DRAFT-Nope:1").is_none());
    }

    #[test]
    fn shipped_profile_dir_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let p = Profiles::load_dir(&dir).expect("profiles/ loads");
        assert_eq!(p.names().len(), 2);
    }

    #[test]
    fn param_type_ignores_instance_numbers() {
        let p = Profiles::builtin();
        let alias = p
            .param_type("Device.LocalAgent.MTP.3.Alias")
            .expect("Alias type");
        assert_eq!(alias.base, BaseType::String);
        assert_eq!(alias.max_length, Some(64));
        assert_eq!(
            p.param_type("Device.LocalAgent.MTP.*.Alias"),
            p.param_type("Device.LocalAgent.MTP.{i}.Alias")
        );
        let oui = p
            .param_type("Device.DeviceInfo.ManufacturerOUI")
            .expect("OUI");
        assert_eq!(oui.pattern.as_deref(), Some("[0-9A-F]{6}"));
        assert_eq!(
            p.param_type("Device.LocalAgent.MTPNumberOfEntries")
                .map(|t| t.base),
            Some(BaseType::UnsignedInt)
        );
        assert!(p.param_type("Device.DeviceInfo.Bogus").is_none());
    }

    #[test]
    fn normalizes_search_paths() {
        assert_eq!(
            normalize_path("Device.LocalAgent.MTP.[Alias==\"a.b\"].Enable"),
            "Device.LocalAgent.MTP.{i}.Enable"
        );
        assert_eq!(normalize_path("Device.X.12."), "Device.X.{i}.");
    }

    #[test]
    fn bad_profile_text_is_an_error_not_a_panic() {
        let mut p = Profiles::default();
        let e = p
            .add_text(
                Path::new("x.yaml"),
                "name: X\ndmr_version: '2.12'\nobjects: []\nbogus: 1\n",
            )
            .unwrap_err();
        assert!(e.to_string().contains("x.yaml"), "{e}");
    }
}
