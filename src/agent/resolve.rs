//! Resolving a parsed path against the Supported DM (7026 when not in it) and the
//! instantiated tree (wildcards, search expressions, unique-key addressing).

use super::model::Model;
use super::path::{self, Condition, Leaf, Literal, Op, Segment};
use crate::usp::errors;

/// A path that cannot be served: bad syntax (7008) or not in the Supported DM (7026).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    Syntax(String),
    Invalid(String),
}

impl PathError {
    pub fn code(&self) -> u32 {
        match self {
            PathError::Syntax(_) => errors::INVALID_PATH_SYNTAX,
            PathError::Invalid(_) => errors::INVALID_PATH,
        }
    }

    pub fn message(&self) -> String {
        match self {
            PathError::Syntax(m) => format!("Invalid path syntax: {m}"),
            PathError::Invalid(m) => format!("Invalid path: {m}"),
        }
    }
}

/// What a path designates in the instantiated DM.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Instantiated object paths; for a path that ends at a table, the table path itself.
    pub objects: Vec<String>,
    /// The path names a table (`...Subscription.`), not one of its instances.
    pub ends_at_table: bool,
    /// Supported DM path of the designated object (`...Subscription.{i}.` for tables).
    pub sdm_path: String,
    pub leaf: Leaf,
    pub is_search: bool,
}

pub fn resolve(model: &Model, text: &str) -> Result<Resolved, PathError> {
    let parsed = path::parse(text, false).map_err(|e| PathError::Syntax(e.0))?;
    let invalid = || PathError::Invalid(format!("\"{text}\" is not in the supported data model"));
    let mut objects = vec!["Device.".to_string()];
    let mut sdm = "Device.".to_string();
    let mut at_table = false;
    for seg in parsed.segments.iter().skip(1) {
        match seg {
            Segment::Name(n) => {
                if at_table {
                    return Err(invalid());
                }
                let single = format!("{sdm}{n}.");
                let table = format!("{sdm}{n}.{{i}}.");
                if model.dm.object(&single).is_some() {
                    sdm = single;
                } else if model.dm.object(&table).is_some() {
                    sdm = table;
                    at_table = true;
                } else {
                    return Err(invalid());
                }
                objects = objects.into_iter().map(|o| format!("{o}{n}.")).collect();
            }
            Segment::Instance(k) => {
                if !at_table {
                    return Err(invalid());
                }
                at_table = false;
                objects = objects
                    .into_iter()
                    .map(|t| format!("{t}{k}."))
                    .filter(|i| model.objects().contains_key(i))
                    .collect();
            }
            Segment::Wildcard | Segment::Search(_) => {
                if !at_table {
                    return Err(invalid());
                }
                at_table = false;
                let conds: &[Condition] = match seg {
                    Segment::Search(c) => c,
                    _ => &[],
                };
                for c in conds {
                    let (obj, param) = split_rel(&c.rel_path);
                    let known = model
                        .dm
                        .object(&format!("{sdm}{obj}"))
                        .is_some_and(|o| o.param(param).is_some());
                    if !known {
                        return Err(PathError::Invalid(format!(
                            "search term \"{}\" names no parameter of {sdm}",
                            c.rel_path
                        )));
                    }
                }
                objects = objects
                    .iter()
                    .flat_map(|t| model.instances(t))
                    .filter(|i| conds.iter().all(|c| condition_holds(model, i, c)))
                    .collect();
            }
            Segment::Placeholder => {
                return Err(PathError::Syntax("{i} in an instantiated path".into()))
            }
        }
    }
    let def = model.dm.object(&sdm).ok_or_else(invalid)?;
    let known_leaf = match &parsed.leaf {
        Leaf::Object => true,
        Leaf::Param(p) => !at_table && def.param(p).is_some(),
        Leaf::Command(c) => !at_table && def.commands.iter().any(|d| &d.name == c),
        Leaf::Event(e) => !at_table && def.events.iter().any(|d| &d.name == e),
    };
    if !known_leaf {
        return Err(invalid());
    }
    Ok(Resolved {
        objects,
        ends_at_table: at_table,
        sdm_path: sdm,
        is_search: parsed.is_search(),
        leaf: parsed.leaf,
    })
}

/// `CoAP.Port` → (`WebSocket.`, `Port`).
fn split_rel(rel: &str) -> (&str, &str) {
    match rel.rfind('.') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => ("", rel),
    }
}

fn condition_holds(model: &Model, inst: &str, c: &Condition) -> bool {
    let (obj, param) = split_rel(&c.rel_path);
    match model.value(&format!("{inst}{obj}"), param) {
        Some(actual) => compare(&actual, c.op, &c.value),
        None => false,
    }
}

/// Numbers compare numerically; ordering operators need numbers on both sides; booleans
/// accept `true`/`1` (TR-369 search expressions); everything else compares as strings.
fn compare(actual: &str, op: Op, lit: &Literal) -> bool {
    let (text, bare) = match lit {
        Literal::Quoted(s) => (s.as_str(), false),
        Literal::Bare(s) => (s.as_str(), true),
    };
    if let (Ok(a), Ok(b)) = (actual.parse::<f64>(), text.parse::<f64>()) {
        return match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Lt => a < b,
            Op::Gt => a > b,
            Op::Le => a <= b,
            Op::Ge => a >= b,
        };
    }
    let equal = match (bare, as_bool(actual), as_bool(text)) {
        (true, Some(a), Some(b)) => a == b,
        _ => actual == text,
    };
    match op {
        Op::Eq => equal,
        Op::Ne => !equal,
        _ => false,
    }
}

fn as_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(m: &Model, p: &str) -> Vec<String> {
        resolve(m, p).unwrap().objects
    }

    #[test]
    fn resolves_instances_wildcards_and_searches() {
        let m = Model::new("proto::a");
        assert_eq!(
            objs(&m, "Device.DeviceInfo.FirmwareImage.*."),
            [
                "Device.DeviceInfo.FirmwareImage.1.",
                "Device.DeviceInfo.FirmwareImage.2."
            ]
        );
        assert_eq!(
            objs(&m, "Device.DeviceInfo.FirmwareImage.[Alias==\"cpe-2\"]."),
            ["Device.DeviceInfo.FirmwareImage.2."]
        );
        assert_eq!(
            objs(&m, "Device.DeviceInfo.FirmwareImage.[Available==true].Name"),
            ["Device.DeviceInfo.FirmwareImage.1."]
        );
        assert_eq!(
            objs(&m, "Device.LocalAgent.MTP.[CoAP.Port>1000&&Enable!=false]."),
            ["Device.LocalAgent.MTP.1."]
        );
        assert_eq!(
            objs(&m, "Device.LocalAgent.MTP.[CoAP.Port<=80]."),
            Vec::<String>::new()
        );
        assert!(objs(&m, "Device.LocalAgent.MTP.9.").is_empty());
        let r = resolve(&m, "Device.LocalAgent.Subscription.").unwrap();
        assert!(r.ends_at_table);
        assert_eq!(r.sdm_path, "Device.LocalAgent.Subscription.{i}.");
    }

    #[test]
    fn reports_invalid_paths_and_syntax() {
        let m = Model::new("proto::a");
        for bad in [
            "Device.Nope.",
            "Device.DeviceInfo.Nope",
            "Device.DeviceInfo.1.",
            "Device.LocalAgent.MTP.Alias",
            "Device.LocalAgent.MTP.[Nope==1].",
            "Device.Frobnicate()",
        ] {
            assert_eq!(resolve(&m, bad).unwrap_err().code(), 7026, "{bad}");
        }
        assert_eq!(
            resolve(&m, "Device.LocalAgent.MTP.[Alias=1].")
                .unwrap_err()
                .code(),
            7008
        );
    }
}
