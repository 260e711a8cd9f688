//! An index of one `<model>`: its objects by path, each object's parameters,
//! commands and events by name; and the document's `<dataType>`s by name.

use super::Pos;
use roxmltree::Node;
use std::collections::HashMap;

pub fn pos(n: Node) -> Pos {
    let p = n.document().text_pos_at(n.range().start);
    Pos {
        line: p.row,
        col: p.col,
    }
}

/// Child elements with this local name (namespace prefixes ignored: the
/// schema's own elements are unqualified).
pub fn elements<'a, 'i>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// An attribute by local name, whatever its namespace (`dmr:version`).
pub fn attr<'a>(n: Node<'a, '_>, name: &str) -> Option<&'a str> {
    n.attributes().find(|a| a.name() == name).map(|a| a.value())
}

pub struct ObjectDef<'a, 'i> {
    pub params: HashMap<&'a str, Node<'a, 'i>>,
    pub commands: HashMap<&'a str, Node<'a, 'i>>,
    pub events: HashMap<&'a str, Node<'a, 'i>>,
}

pub struct Model<'a, 'i> {
    pub objects: HashMap<&'a str, ObjectDef<'a, 'i>>,
    /// `Device:2.12` → `2.12`.
    pub version: Option<String>,
}

impl<'a, 'i> Model<'a, 'i> {
    pub fn read(model: Node<'a, 'i>) -> Model<'a, 'i> {
        let mut objects = HashMap::new();
        for obj in elements(model, "object") {
            let Some(name) = obj.attribute("name") else {
                continue;
            };
            let named = |kind: &'static str| -> HashMap<&'a str, Node<'a, 'i>> {
                elements(obj, kind)
                    .filter_map(|n| n.attribute("name").map(|k| (k, n)))
                    .collect()
            };
            objects.insert(
                name,
                ObjectDef {
                    params: named("parameter"),
                    commands: named("command"),
                    events: named("event"),
                },
            );
        }
        let version = model
            .attribute("name")
            .and_then(|n| n.split_once(':'))
            .map(|(_, v)| v.to_string());
        Model { objects, version }
    }
}

/// `<dataType name=...>` elements of the document (top level).
pub struct DataTypes<'a, 'i> {
    pub by_name: HashMap<&'a str, Node<'a, 'i>>,
}

impl<'a, 'i> DataTypes<'a, 'i> {
    pub fn read(root: Node<'a, 'i>) -> DataTypes<'a, 'i> {
        DataTypes {
            by_name: elements(root, "dataType")
                .filter_map(|n| n.attribute("name").map(|k| (k, n)))
                .collect(),
        }
    }
}
