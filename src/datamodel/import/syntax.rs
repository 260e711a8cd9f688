//! `<syntax>` (TR-106 Annex A) → `TypeSpec`: the base type, its facets
//! (size, enumeration, pattern, range), `<list/>`, named `<dataType>`s and
//! row references (`pathRef`).

use super::model::{attr, elements, pos, DataTypes};
use super::ImportError;
use crate::datamodel::types::{BaseType, Reference, TypeSpec};
use roxmltree::Node;

const BASES: &[(&str, BaseType)] = &[
    ("string", BaseType::String),
    ("boolean", BaseType::Boolean),
    ("unsignedInt", BaseType::UnsignedInt),
    ("int", BaseType::Int),
    ("unsignedLong", BaseType::UnsignedLong),
    ("long", BaseType::Long),
    ("decimal", BaseType::Decimal),
    ("dateTime", BaseType::DateTime),
    ("base64", BaseType::Base64),
    ("hexBinary", BaseType::HexBinary),
];

/// Elements of `<syntax>` that say nothing about the value's lexical form.
/// `map` is the 2017 interim syntax of Boot!'s ParameterMap, a string.
const IGNORED: &[&str] = &["default", "units", "description", "map"];

/// The type a `<syntax>` (or a `<dataType>` definition) describes; relative
/// reference targets are resolved against `object_path`.
pub fn type_spec(
    syntax: Node,
    object_path: &str,
    types: &DataTypes,
) -> Result<TypeSpec, ImportError> {
    type_spec_at_depth(syntax, object_path, types, 0)
}

fn type_spec_at_depth(
    syntax: Node,
    object_path: &str,
    types: &DataTypes,
    depth: usize,
) -> Result<TypeSpec, ImportError> {
    let mut spec: Option<TypeSpec> = None;
    let mut list: Option<Node> = None;
    for child in syntax.children().filter(|c| c.is_element()) {
        let name = child.tag_name().name();
        if name == "list" {
            list = Some(child);
        } else if IGNORED.contains(&name) {
        } else if spec.is_some() {
            // A second type element: the 2017 interim `<map/><string/>` is
            // covered by IGNORED; anything else is not TR-106.
            return Err(ImportError::Syntax {
                pos: pos(child),
                message: format!("<{name}> after the type was already given"),
            });
        } else if let Some((_, base)) = BASES.iter().find(|(n, _)| *n == name) {
            let mut s = TypeSpec::of(*base);
            apply_facets(&mut s, child, object_path);
            spec = Some(s);
        } else if name == "dataType" {
            let Some(r) = child.attribute("ref") else {
                return Err(ImportError::Syntax {
                    pos: pos(child),
                    message: "<dataType> without ref".into(),
                });
            };
            let mut s = named_type(r, child, object_path, types, depth)?;
            apply_facets(&mut s, child, object_path);
            spec = Some(s);
        } else {
            return Err(ImportError::Syntax {
                pos: pos(child),
                message: format!("unknown element <{name}> in <{}>", syntax.tag_name().name()),
            });
        }
    }
    let Some(mut spec) = spec else {
        return Err(ImportError::Syntax {
            pos: pos(syntax),
            message: format!("<{}> gives no type", syntax.tag_name().name()),
        });
    };
    if let Some(l) = list {
        // The item's size becomes the per-item limit; the list's own
        // <size> limits the whole comma-separated value.
        spec.list = true;
        spec.item_max_length = spec.max_length.take();
        spec.max_length = elements(l, "size")
            .filter_map(|s| s.attribute("maxLength")?.parse().ok())
            .max();
    }
    Ok(spec)
}

/// A `<dataType name=...>` of the document, following `base=` chains.
fn named_type(
    name: &str,
    at: Node,
    object_path: &str,
    types: &DataTypes,
    depth: usize,
) -> Result<TypeSpec, ImportError> {
    let unknown = || ImportError::UnknownDataType {
        pos: pos(at),
        name: name.to_string(),
    };
    let def = types.by_name.get(name).ok_or_else(unknown)?;
    if depth > 16 {
        return Err(ImportError::Syntax {
            pos: pos(*def),
            message: format!("dataType {name}: base chain too long (a cycle?)"),
        });
    }
    match def.attribute("base") {
        Some(base) => {
            let mut s = named_type(base, *def, object_path, types, depth + 1)?;
            apply_facets(&mut s, *def, object_path);
            Ok(s)
        }
        None => type_spec_at_depth(*def, object_path, types, depth + 1),
    }
}

/// Size, enumeration, pattern, range and row-reference facets that are
/// children of `n`; several patterns are alternatives (TR-106 A.2.3). Facets
/// given here replace those inherited from a base dataType (a derived type
/// narrows its base); several of one kind here are combined.
fn apply_facets(s: &mut TypeSpec, n: Node, object_path: &str) {
    let mut patterns: Vec<&str> = Vec::new();
    let mut enums: Vec<String> = Vec::new();
    let mut size_seen = false;
    let mut min_seen = false;
    let mut max_seen = false;
    let mut open_min = false;
    let mut open_max = false;
    for f in n.children().filter(|c| c.is_element()) {
        match f.tag_name().name() {
            "size" => {
                if !size_seen {
                    (s.min_length, s.max_length) = (None, None);
                    size_seen = true;
                }
                if let Some(v) = f.attribute("minLength").and_then(|v| v.parse().ok()) {
                    s.min_length = Some(s.min_length.map_or(v, |m: usize| m.min(v)));
                }
                if let Some(v) = f.attribute("maxLength").and_then(|v| v.parse().ok()) {
                    s.max_length = Some(s.max_length.map_or(v, |m: usize| m.max(v)));
                }
            }
            "enumeration" => {
                if let Some(v) = f.attribute("value") {
                    enums.push(v.to_string());
                }
            }
            "pattern" => patterns.extend(f.attribute("value")),
            "range" => {
                // Several ranges: the value is in one of them; keep the hull.
                match f.attribute("minInclusive").and_then(|v| v.parse().ok()) {
                    Some(v) if !open_min => {
                        s.min = Some(if min_seen {
                            s.min.map_or(v, |m: i64| m.min(v))
                        } else {
                            v
                        });
                        min_seen = true;
                    }
                    Some(_) => {}
                    None => {
                        open_min = true;
                        s.min = None;
                    }
                }
                match f.attribute("maxInclusive").and_then(|v| v.parse().ok()) {
                    Some(v) if !open_max => {
                        s.max = Some(if max_seen {
                            s.max.map_or(v, |m: i64| m.max(v))
                        } else {
                            v
                        });
                        max_seen = true;
                    }
                    Some(_) => {}
                    None => {
                        open_max = true;
                        s.max = None;
                    }
                }
            }
            "pathRef" => {
                let row = attr(f, "targetType").is_none_or(|t| t == "row");
                let parent = f.attribute("targetParent").unwrap_or("");
                if row && !parent.is_empty() && !parent.contains(' ') {
                    s.reference = Some(Reference {
                        target_parent: resolve_target(object_path, parent),
                        ref_type: f.attribute("refType").map(String::from),
                    });
                }
            }
            _ => {}
        }
    }
    if !enums.is_empty() {
        s.enumeration = enums;
    }
    match patterns.as_slice() {
        [] => {}
        [one] => s.pattern = Some((*one).to_string()),
        many => {
            let alts: Vec<String> = many.iter().map(|p| format!("(?:{p})")).collect();
            s.pattern = Some(alts.join("|"));
        }
    }
}

/// TR-106 relative paths: `Device.…` absolute; `.X.` from the root object;
/// each leading `#` one level up from `object_path`'s parent (a table and
/// its `{i}` are one level); otherwise below `object_path`.
pub fn resolve_target(object_path: &str, target: &str) -> String {
    let root = object_path.split('.').next().unwrap_or("Device");
    if target.starts_with(&format!("{root}.")) {
        return target.to_string();
    }
    if let Some(rest) = target.strip_prefix('.') {
        return format!("{root}.{rest}");
    }
    let hashes = target.chars().take_while(|c| *c == '#').count();
    if hashes == 0 {
        return format!("{object_path}{target}");
    }
    let mut levels: Vec<String> = Vec::new();
    for seg in object_path.trim_end_matches('.').split('.') {
        match levels.last_mut() {
            Some(last) if seg == "{i}" => last.push_str(".{i}"),
            _ => levels.push(seg.to_string()),
        }
    }
    let keep = levels.len().saturating_sub(hashes);
    let rest = target[hashes..].trim_start_matches('.');
    let mut out: String = levels[..keep].iter().map(|l| format!("{l}.")).collect();
    out.push_str(rest);
    out
}
