//! The loaded profiles: the built-in ones (embedded from `profiles/`) or a
//! directory of them, with `extends`/`base` resolved into one flat item list
//! per profile, released names (`DeviceInfo:1`, `USPAgent:1`) resolved to the
//! DRAFT profiles they were released from, and an index of parameter types.

use super::profile::{normalize_path, Profile};
use super::types::TypeSpec;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: profile {name} is defined twice (by name or released_as)")]
    Duplicate { file: PathBuf, name: String },
    #[error("profile {name} extends {parent}, which is not loaded{hint}")]
    UnknownParent {
        name: String,
        parent: String,
        hint: String,
    },
    #[error("profile {name} extends itself (through {chain})")]
    Cycle { name: String, chain: String },
}

/// All loaded profiles plus an index from normalised parameter path to type.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// As written, in load order.
    written: Vec<Profile>,
    /// Same order, each with the items of everything it extends merged in.
    resolved: Vec<Profile>,
    types: HashMap<String, TypeSpec>,
}

/// Embedded profiles. Type lookups take the first definition, so the
/// types-only extras come last.
const BUILTIN: &[(&str, &str)] = &[
    (
        "DRAFT-DeviceInfo-1.yaml",
        include_str!("../../profiles/DRAFT-DeviceInfo-1.yaml"),
    ),
    (
        "DRAFT-Reboot-1.yaml",
        include_str!("../../profiles/DRAFT-Reboot-1.yaml"),
    ),
    (
        "DRAFT-Firmware-1.yaml",
        include_str!("../../profiles/DRAFT-Firmware-1.yaml"),
    ),
    (
        "DRAFT-LocalAgent-1.yaml",
        include_str!("../../profiles/DRAFT-LocalAgent-1.yaml"),
    ),
    (
        "DRAFT-Controllers-1.yaml",
        include_str!("../../profiles/DRAFT-Controllers-1.yaml"),
    ),
    (
        "DRAFT-Subscriptions-1.yaml",
        include_str!("../../profiles/DRAFT-Subscriptions-1.yaml"),
    ),
    (
        "DRAFT-Challenge-1.yaml",
        include_str!("../../profiles/DRAFT-Challenge-1.yaml"),
    ),
    ("DRAFT-1.yaml", include_str!("../../profiles/DRAFT-1.yaml")),
    (
        "MQTTClientBase-1.yaml",
        include_str!("../../profiles/MQTTClientBase-1.yaml"),
    ),
    (
        "MQTTClientCon-1.yaml",
        include_str!("../../profiles/MQTTClientCon-1.yaml"),
    ),
    (
        "MQTTClientSubscribe-1.yaml",
        include_str!("../../profiles/MQTTClientSubscribe-1.yaml"),
    ),
    (
        "MQTTAgent-1.yaml",
        include_str!("../../profiles/MQTTAgent-1.yaml"),
    ),
    (
        "MQTTController-1.yaml",
        include_str!("../../profiles/MQTTController-1.yaml"),
    ),
    (
        "STOMPConn-1.yaml",
        include_str!("../../profiles/STOMPConn-1.yaml"),
    ),
    (
        "STOMPController-1.yaml",
        include_str!("../../profiles/STOMPController-1.yaml"),
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
        if let Err(e) = p.check_parents() {
            panic!("built-in profile is broken: {e}");
        }
        p
    }

    /// Every `*.yaml` in `dir` (not recursive), in name order; every
    /// `extends`/`base` must name a profile of the directory.
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
        p.check_parents()?;
        Ok(p)
    }

    /// Parses one profile file and adds it. A parent it names may come in a
    /// later file; `check_parents` reports the ones that never came.
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), ProfileError> {
        let profile: Profile = serde_saphyr::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
        let names = |p: &Profile| -> Vec<String> {
            std::iter::once(p.name.clone())
                .chain(p.released_as.clone())
                .collect()
        };
        let new_names = names(&profile);
        if let Some(clash) = self
            .written
            .iter()
            .flat_map(names)
            .find(|n| new_names.contains(n))
        {
            return Err(ProfileError::Duplicate {
                file: file.to_path_buf(),
                name: clash,
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
        self.written.push(profile);
        self.resolve();
        Ok(())
    }

    /// Rebuilds `resolved`; a missing parent or a cycle contributes nothing
    /// here and is reported by `check_parents`.
    fn resolve(&mut self) {
        self.resolved = self
            .written
            .iter()
            .map(|p| {
                let mut flat = p.clone();
                let mut seen = BTreeSet::from([p.name.clone()]);
                self.absorb_parents(p, &mut flat, &mut seen);
                flat
            })
            .collect();
    }

    fn absorb_parents(&self, p: &Profile, into: &mut Profile, seen: &mut BTreeSet<String>) {
        for parent in p.parents() {
            let Some(q) = self.written_by_name(parent) else {
                continue;
            };
            if seen.insert(q.name.clone()) {
                into.absorb(q);
                self.absorb_parents(q, into, seen);
            }
        }
    }

    /// Every parent named is loaded and no profile extends itself.
    pub fn check_parents(&self) -> Result<(), ProfileError> {
        for p in &self.written {
            self.check_chain(p, &mut vec![p.name.clone()])?;
        }
        Ok(())
    }

    fn check_chain(&self, p: &Profile, chain: &mut Vec<String>) -> Result<(), ProfileError> {
        for parent in p.parents() {
            let Some(q) = self.written_by_name(parent) else {
                return Err(ProfileError::UnknownParent {
                    name: p.name.clone(),
                    parent: parent.to_string(),
                    hint: format!("; loaded: {}", self.names().join(", ")),
                });
            };
            if chain.contains(&q.name) {
                chain.push(q.name.clone());
                return Err(ProfileError::Cycle {
                    name: chain[0].clone(),
                    chain: chain.join(" -> "),
                });
            }
            chain.push(q.name.clone());
            self.check_chain(q, chain)?;
            chain.pop();
        }
        Ok(())
    }

    fn written_by_name(&self, name: &str) -> Option<&Profile> {
        self.written
            .iter()
            .find(|p| p.name == name || p.released_as.as_deref() == Some(name))
    }

    /// A profile a case can demand, by its name or its released name, with
    /// every item of the profiles it extends (types-only files are not
    /// returned).
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.resolved
            .iter()
            .find(|p| !p.types_only && (p.name == name || p.released_as.as_deref() == Some(name)))
    }

    /// The profile's own name for `name` (`DeviceInfo:1` → `DRAFT-DeviceInfo:1`).
    pub fn canonical(&self, name: &str) -> Option<&str> {
        self.get(name).map(|p| p.name.as_str())
    }

    /// The profiles as written (own items only, `extends` unresolved).
    pub fn written(&self) -> &[Profile] {
        &self.written
    }

    pub fn names(&self) -> Vec<&str> {
        self.written
            .iter()
            .filter(|p| !p.types_only)
            .map(|p| p.name.as_str())
            .collect()
    }

    /// `name` and every profile it includes through `extends`/`base`,
    /// canonical names, itself first; empty when `name` is unknown.
    pub fn members(&self, name: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let mut todo: Vec<&Profile> = self.written_by_name(name).into_iter().collect();
        while let Some(p) = todo.pop() {
            if out.contains(&p.name.as_str()) {
                continue;
            }
            out.push(&p.name);
            todo.extend(p.parents().filter_map(|n| self.written_by_name(n)));
        }
        out
    }

    /// What `--profile` names select: each known name becomes the names
    /// (canonical and released) of itself and every profile it extends (so
    /// `USPAgent:1` selects the cases of all seven DRAFT profiles, whichever
    /// name a case uses); unknown names stay as given.
    pub fn expand_selection(&self, names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let members = self.members(n);
            let add: Vec<String> = if members.is_empty() {
                vec![n.clone()]
            } else {
                members
                    .into_iter()
                    .filter_map(|m| self.written_by_name(m))
                    .flat_map(|p| std::iter::once(p.name.clone()).chain(p.released_as.clone()))
                    .collect()
            };
            for m in add {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// The type of a parameter path, instance numbers and `{i}` treated alike:
    /// Device.LocalAgent.MTP.3.Alias → Alias type.
    pub fn param_type(&self, path: &str) -> Option<&TypeSpec> {
        self.types.get(&normalize_path(path))
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
