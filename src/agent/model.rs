//! The Agent's data model: the Supported DM (loaded from `supported_dm.yaml`)
//! and the instantiated object tree with its current values.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    #[default]
    ReadOnly,
    ReadWrite,
    AddDelete,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ParamDef {
    pub name: String,
    #[serde(rename = "type")]
    pub value_type: String,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub list: bool,
    #[serde(default)]
    pub max_len: Option<usize>,
    #[serde(default, rename = "enum")]
    pub enumeration: Vec<String>,
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub auto: Option<String>,
    #[serde(default)]
    pub count: Option<String>,
    #[serde(default)]
    pub value_change: Option<String>,
    #[serde(default)]
    pub hidden: bool,
    /// Read as "" unless the Controller holds a secured Role (TR-181
    /// `secured`; revealed by `trust_enforce::reveal_secured`).
    #[serde(default)]
    pub secured: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CommandDef {
    pub name: String,
    #[serde(rename = "type")]
    pub command_type: String,
    #[serde(default)]
    pub input: Vec<String>,
    #[serde(default)]
    pub output: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventDef {
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ObjectDef {
    /// Supported DM path, tables end in `{i}.`.
    pub path: String,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub unique_keys: Vec<Vec<String>>,
    #[serde(default)]
    pub params: Vec<ParamDef>,
    #[serde(default)]
    pub commands: Vec<CommandDef>,
    #[serde(default)]
    pub events: Vec<EventDef>,
    /// `params` in name order, made once when loaded: a Get reads an
    /// object's parameters in the order of its stored values (and of the
    /// map it answers with), walking both side by side instead of looking
    /// every parameter up.
    #[serde(skip)]
    params_by_name: Vec<usize>,
}

impl ObjectDef {
    pub fn is_table(&self) -> bool {
        self.path.ends_with(".{i}.")
    }

    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn is_unique_key(&self, name: &str) -> bool {
        self.unique_keys.iter().flatten().any(|k| k == name)
    }
}

#[derive(Debug, Deserialize)]
pub struct SupportedDm {
    pub objects: Vec<ObjectDef>,
    /// Supported DM path → position in `objects`, made once when loaded:
    /// every request looks definitions up, several times per parameter.
    #[serde(skip)]
    index: std::collections::HashMap<String, usize>,
}

impl SupportedDm {
    pub fn builtin() -> SupportedDm {
        // The file is part of the crate, so a parse failure is a build defect caught by tests.
        let mut dm: SupportedDm = serde_saphyr::from_str(include_str!("supported_dm.yaml"))
            .expect("src/agent/supported_dm.yaml is valid");
        // The first definition of a path wins, as the linear search had it.
        for (i, o) in dm.objects.iter().enumerate().rev() {
            dm.index.insert(o.path.clone(), i);
        }
        for o in &mut dm.objects {
            o.params_by_name = (0..o.params.len()).collect();
            o.params_by_name
                .sort_by(|&a, &b| o.params[a].name.cmp(&o.params[b].name));
        }
        dm
    }

    /// The built-in Supported DM, parsed once per process and shared by
    /// every Agent: it never changes, and `plugfest bench` runs a thousand
    /// Agents at once (each parsing it cost time and a private copy).
    pub fn shared() -> &'static SupportedDm {
        static SHARED: std::sync::OnceLock<SupportedDm> = std::sync::OnceLock::new();
        SHARED.get_or_init(SupportedDm::builtin)
    }

    pub fn object(&self, sdm_path: &str) -> Option<&ObjectDef> {
        self.objects.get(*self.index.get(sdm_path)?)
    }

    /// The definition of an instantiated object path (`MTP.1.` → `MTP.{i}.`).
    pub fn object_of(&self, inst_path: &str) -> Option<&ObjectDef> {
        // Most paths carry no instance number: look them up as they are
        // rather than building the same string again (every Get reads here).
        if inst_path.split('.').any(is_instance_number) {
            self.object(&supported_path(inst_path))
        } else {
            self.object(inst_path)
        }
    }
}

fn is_instance_number(segment: &str) -> bool {
    !segment.is_empty() && segment.bytes().all(|c| c.is_ascii_digit())
}

/// Replaces instance numbers by `{i}`: `Device.LocalAgent.MTP.2.` → `Device.LocalAgent.MTP.{i}.`.
pub fn supported_path(inst_path: &str) -> String {
    // Written in place: no list of segments to join (this runs for every
    // instance row a request reads).
    let mut out = String::with_capacity(inst_path.len() + 8);
    for (i, segment) in inst_path.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(if is_instance_number(segment) {
            "{i}"
        } else {
            segment
        });
    }
    out
}

/// The instantiated data model: object path → parameter values. Tables exist implicitly.
pub struct Model {
    pub dm: &'static SupportedDm,
    /// Written only through `objects_mut`, which counts the writes: what is
    /// derived from the values and kept (a Controller's rights) is made
    /// again when the count has moved.
    objects: BTreeMap<String, BTreeMap<String, String>>,
    writes: u64,
    next_instance: BTreeMap<String, u32>,
    started: Instant,
}

impl Model {
    pub fn new(endpoint_id: &str) -> Model {
        let mut m = Model {
            dm: SupportedDm::shared(),
            objects: BTreeMap::new(),
            writes: 0,
            next_instance: BTreeMap::new(),
            started: Instant::now(),
        };
        m.objects_mut().insert("Device.".into(), BTreeMap::new());
        // The file is part of the crate, so a parse failure is a build defect caught by tests.
        // Parsed once per process, like the Supported DM.
        static START: std::sync::OnceLock<Vec<StartEntry>> = std::sync::OnceLock::new();
        let start = START.get_or_init(|| {
            serde_saphyr::from_str(include_str!("start_values.yaml"))
                .expect("src/agent/start_values.yaml is valid")
        });
        for entry in start {
            let path = match (&entry.table, &entry.path) {
                (Some(table), _) => m.create_instance(table),
                (None, Some(path)) => path.clone(),
                (None, None) => continue,
            };
            let obj = m.objects_mut().entry(path).or_default();
            for (k, v) in &entry.values {
                let v = v
                    .replace("{endpoint_id}", endpoint_id)
                    .replace("{protocol}", DEFAULT_PROTOCOL);
                obj.insert(k.clone(), v);
            }
        }
        m
    }

    /// Object path → its stored parameter values.
    pub fn objects(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.objects
    }

    /// The stored values, for writing: every call counts as a write
    /// (`writes`), whether or not the caller changes anything.
    pub fn objects_mut(&mut self) -> &mut BTreeMap<String, BTreeMap<String, String>> {
        self.writes += 1;
        &mut self.objects
    }

    /// How many times the stored values have been open for writing: equal
    /// counts mean nothing stored has changed in between.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// Writes the Protocol of the MTP in use into `LocalAgent.MTP.{i}.` and every
    /// `Controller.{i}.MTP.{i}.` row (the Agent has one MTP at a time).
    pub fn set_mtp_protocol(&mut self, protocol: &str) {
        let rows: Vec<String> = self
            .objects
            .keys()
            .filter(|k| {
                let sdm = supported_path(k);
                sdm == "Device.LocalAgent.MTP.{i}."
                    || sdm == "Device.LocalAgent.Controller.{i}.MTP.{i}."
            })
            .cloned()
            .collect();
        for row in rows {
            if let Some(obj) = self.objects_mut().get_mut(&row) {
                obj.insert("Protocol".into(), protocol.to_string());
            }
        }
    }

    /// Whether a parameter is `secured` (TR-181 2.16).
    pub fn is_secured(&self, obj: &str, name: &str) -> bool {
        self.dm
            .object_of(obj)
            .and_then(|o| o.param(name))
            .is_some_and(|d| d.secured)
    }

    /// A stored value without hiding secrets (for the Agent's own checks).
    pub fn raw_value(&self, obj: &str, name: &str) -> Option<String> {
        self.objects.get(obj)?.get(name).cloned()
    }

    /// Sets a stored value (the Agent's own writes: Status, Version, ...).
    pub fn put(&mut self, obj: &str, name: &str, value: impl Into<String>) {
        if let Some(o) = self.objects_mut().get_mut(obj) {
            o.insert(name.to_string(), value.into());
        }
    }

    /// Creates the next instance of `table` (`...Subscription.`) with default values and
    /// its single-instance sub-objects; instance numbers are never reused (R-ARC.8).
    pub fn create_instance(&mut self, table: &str) -> String {
        let n = self.next_instance.entry(table.to_string()).or_insert(0);
        *n += 1;
        let inst = format!("{table}{n}.");
        let sdm_inst = supported_path(&inst);
        let children: Vec<(String, BTreeMap<String, String>)> = self
            .dm
            .objects
            .iter()
            .filter(|o| o.path.starts_with(&sdm_inst) && !o.path[sdm_inst.len()..].contains("{i}"))
            .map(|o| {
                let rel = &o.path[sdm_inst.len()..];
                let defaults = o
                    .params
                    .iter()
                    .filter(|p| p.count.is_none())
                    .map(|p| (p.name.clone(), p.default.clone().unwrap_or_default()))
                    .collect();
                (format!("{inst}{rel}"), defaults)
            })
            .collect();
        self.objects_mut().extend(children);
        inst
    }

    /// Instance paths of a table path (`...MTP.`), in instance-number order.
    pub fn instances(&self, table: &str) -> Vec<String> {
        let mut found: Vec<(u32, String)> = self
            .rows_in_key_order(table)
            .map(|(n, k, _)| (n, k.clone()))
            .collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    /// The rows of `table` as stored (instance number, path, values), in
    /// key order (`.10.` before `.2.`). Keys are sorted: those under
    /// `table` follow it, side by side, so only they are read.
    fn rows_in_key_order<'m>(
        &'m self,
        table: &'m str,
    ) -> impl Iterator<Item = (u32, &'m String, &'m BTreeMap<String, String>)> + 'm {
        use std::ops::Bound;
        self.objects
            .range::<str, _>((Bound::Included(table), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(table))
            .filter_map(move |(k, values)| {
                let number = k[table.len()..].strip_suffix('.')?.parse::<u32>().ok()?;
                Some((number, k, values))
            })
    }

    /// The current value of a parameter, with derived ones (counts, UpTime) computed on read.
    pub fn value(&self, obj: &str, name: &str) -> Option<String> {
        self.object_values(obj)?.get(name)
    }

    /// The rows of one table (`instances` of it), each with its values;
    /// the table's definition is looked up once for all of them.
    pub fn table_rows<'m>(
        &'m self,
        rows: &'m [String],
    ) -> impl Iterator<Item = ObjectValues<'m>> + 'm {
        let def = rows.first().and_then(|r| self.dm.object_of(r));
        rows.iter().filter_map(move |obj| {
            Some(ObjectValues {
                model: self,
                obj,
                def: def?,
                stored: self.objects.get(obj),
            })
        })
    }

    /// `obj`'s parameters with its definition and stored values looked
    /// up once, for reading several of them (a Permission row is read on
    /// every request); None when no object of that kind is supported.
    pub fn object_values<'m>(&'m self, obj: &'m str) -> Option<ObjectValues<'m>> {
        Some(ObjectValues {
            model: self,
            obj,
            def: self.dm.object_of(obj)?,
            stored: self.objects.get(obj),
        })
    }

    /// A parameter's value: derived (a count, UpTime, a secret read as "")
    /// or else its stored `value`.
    fn derived_or_stored(
        &self,
        def: &ParamDef,
        obj: &str,
        name: &str,
        value: Option<&String>,
    ) -> Option<String> {
        if let Some(table) = &def.count {
            return Some(
                self.rows_in_key_order(&format!("{obj}{table}"))
                    .count()
                    .to_string(),
            );
        }
        if def.hidden || def.secured {
            // A secret (a password; Challenge.{i}.Value, secured): a Get
            // returns "" unless a secured Role reveals it.
            return Some(String::new());
        }
        if obj == "Device.DeviceInfo." && name == "UpTime" {
            return Some(self.started.elapsed().as_secs().to_string());
        }
        value.cloned()
    }

    /// All parameters of an object that have a value.
    pub fn params(&self, obj: &str) -> BTreeMap<String, String> {
        let Some(def) = self.dm.object_of(obj) else {
            return BTreeMap::new();
        };
        // The definitions in name order beside the stored values (a
        // BTreeMap, so in name order too): one pass over both, no look-up
        // per parameter, and the pairs come out as the map keeps them (a
        // Get of a subtree reads every parameter of every object in it).
        let mut stored = self.objects.get(obj).into_iter().flatten().peekable();
        let mut pairs = Vec::with_capacity(def.params.len());
        for p in def.params_by_name.iter().map(|&i| &def.params[i]) {
            while stored.next_if(|(k, _)| **k < p.name).is_some() {}
            let value = stored.next_if(|(k, _)| **k == p.name).map(|(_, v)| v);
            if let Some(v) = self.derived_or_stored(p, obj, &p.name, value) {
                pairs.push((p.name.clone(), v));
            }
        }
        BTreeMap::from_iter(pairs)
    }

    /// The unique-key values of an instance (all key sets of its table).
    pub fn unique_keys(&self, inst: &str) -> BTreeMap<String, String> {
        let Some(def) = self.dm.object_of(inst) else {
            return BTreeMap::new();
        };
        def.unique_keys
            .iter()
            .flatten()
            .filter_map(|k| Some((k.clone(), self.value(inst, k)?)))
            .collect()
    }

    /// Whether another instance of `inst`'s table already uses the key values `new` would give it.
    pub fn duplicate_key(
        &self,
        table: &str,
        inst: Option<&str>,
        new: &BTreeMap<String, String>,
    ) -> Option<String> {
        let def = self
            .dm
            .object(&format!("{}{{i}}.", supported_path(table)))?;
        for other in self.instances(table) {
            if Some(other.as_str()) == inst {
                continue;
            }
            for set in &def.unique_keys {
                let same = set.iter().all(|k| {
                    let mine = new
                        .get(k)
                        .cloned()
                        .or_else(|| inst.and_then(|i| self.value(i, k)));
                    mine.is_some() && mine == self.value(&other, k)
                });
                if same && set.iter().any(|k| new.contains_key(k)) {
                    return Some(set.join("+"));
                }
            }
        }
        None
    }

    /// Removes an instance and everything below it; returns the removed instance paths.
    pub fn delete(&mut self, inst: &str) -> Vec<String> {
        let gone: Vec<String> = self
            .objects
            .range(inst.to_string()..)
            .take_while(|(k, _)| k.starts_with(inst))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.objects_mut().remove(k);
        }
        gone.into_iter()
            .filter(|k| {
                k.trim_end_matches('.')
                    .rsplit('.')
                    .next()
                    .is_some_and(|s| s.parse::<u32>().is_ok())
            })
            .collect()
    }

    /// The Controller table instance whose EndpointID is `eid` (Subscription.Recipient).
    pub fn controller_path(&self, eid: &str) -> Option<String> {
        // Read on every request (the row, its Roles): the stored
        // EndpointIDs are compared in place, nothing copied. EndpointID is
        // a unique key, so the first match is the only one.
        self.rows_in_key_order("Device.LocalAgent.Controller.")
            .find(|(_, _, values)| values.get("EndpointID").map(String::as_str) == Some(eid))
            .map(|(_, k, _)| k.trim_end_matches('.').to_string())
    }
}

/// One object's parameters, as `Model::value` reads them.
pub struct ObjectValues<'m> {
    model: &'m Model,
    obj: &'m str,
    def: &'m ObjectDef,
    stored: Option<&'m BTreeMap<String, String>>,
}

impl ObjectValues<'_> {
    pub fn get(&self, name: &str) -> Option<String> {
        let def = self.def.param(name)?;
        let stored = self.stored.and_then(|values| values.get(name));
        self.model.derived_or_stored(def, self.obj, name, stored)
    }
}

/// The MTP the model names until the runtime says which one is in use.
pub const DEFAULT_PROTOCOL: &str = "WebSocket";

/// One entry of `start_values.yaml`.
#[derive(Deserialize)]
struct StartEntry {
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    values: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_model_has_the_profile_objects() {
        let m = Model::new("proto::agent");
        assert_eq!(
            m.value("Device.LocalAgent.", "EndpointID").as_deref(),
            Some("proto::agent")
        );
        assert_eq!(
            m.value("Device.LocalAgent.", "MTPNumberOfEntries")
                .as_deref(),
            Some("1")
        );
        assert_eq!(
            m.value("Device.LocalAgent.MTP.1.CoAP.", "Port").as_deref(),
            Some("5683")
        );
        assert_eq!(
            m.value("Device.DeviceInfo.", "FirmwareImageNumberOfEntries")
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            m.value("Device.DeviceInfo.FirmwareImage.2.", "Status")
                .as_deref(),
            Some("NoImage")
        );
        assert_eq!(
            m.value("Device.LocalAgent.Controller.1.", "PeriodicNotifInterval")
                .as_deref(),
            Some("86400")
        );
        assert_eq!(
            m.value("Device.LocalAgent.Controller.1.MTP.1.CoAP.", "Port")
                .as_deref(),
            Some("5683")
        );
        assert_eq!(
            m.controller_path("proto::plugfest-controller").as_deref(),
            Some("Device.LocalAgent.Controller.1")
        );
        assert_eq!(
            supported_path("Device.LocalAgent.MTP.12.WebSocket."),
            "Device.LocalAgent.MTP.{i}.WebSocket."
        );
    }

    #[test]
    fn params_reads_every_parameter_as_value_does() {
        let mut m = Model::new("proto::agent");
        // A stored name no definition has (sorting between two defined
        // ones), and a defined parameter with no stored value.
        let info = m.objects_mut().get_mut("Device.DeviceInfo.").unwrap();
        info.insert("ModelNameX".into(), "stray".into());
        info.remove("ModelName");
        let mut compared = 0;
        for obj in m.objects().keys() {
            let Some(def) = m.dm.object_of(obj) else {
                continue;
            };
            // UpTime moves with the clock between the two reads.
            let expected: BTreeMap<String, String> = def
                .params
                .iter()
                .filter(|p| p.name != "UpTime")
                .filter_map(|p| Some((p.name.clone(), m.value(obj, &p.name)?)))
                .collect();
            let mut got = m.params(obj);
            got.remove("UpTime");
            assert_eq!(got, expected, "{obj}");
            compared += expected.len();
        }
        assert!(compared > 100, "only {compared} parameters compared");
        let info = m.params("Device.DeviceInfo.");
        assert!(!info.contains_key("ModelName") && !info.contains_key("ModelNameX"));
        assert!(info.contains_key("UpTime"));
        assert_eq!(
            info.get("FirmwareImageNumberOfEntries").map(String::as_str),
            Some("2")
        );
    }

    #[test]
    fn instance_numbers_are_not_reused_and_delete_removes_subtree() {
        let mut m = Model::new("proto::agent");
        let gone = m.delete("Device.LocalAgent.MTP.1.");
        assert_eq!(gone, vec!["Device.LocalAgent.MTP.1.".to_string()]);
        assert!(!m.objects.contains_key("Device.LocalAgent.MTP.1.CoAP."));
        assert_eq!(
            m.create_instance("Device.LocalAgent.MTP."),
            "Device.LocalAgent.MTP.2."
        );
    }

    #[test]
    fn challenge_value_is_secured_and_protocol_follows_the_mtp() {
        let mut m = Model::new("proto::agent");
        let ch = "Device.LocalAgent.ControllerTrust.Challenge.1.";
        assert_eq!(m.value(ch, "Value").as_deref(), Some(""));
        assert_eq!(m.raw_value(ch, "Value").as_deref(), Some("cGx1Z2Zlc3Q="));
        assert!(m.is_secured(ch, "Value"));
        assert!(!m.is_secured(ch, "ValueType"));
        assert_eq!(
            m.value(
                "Device.LocalAgent.ControllerTrust.",
                "ChallengeNumberOfEntries"
            )
            .as_deref(),
            Some("1")
        );
        m.set_mtp_protocol("STOMP");
        assert_eq!(
            m.value("Device.LocalAgent.MTP.1.", "Protocol").as_deref(),
            Some("STOMP")
        );
        assert_eq!(
            m.value("Device.LocalAgent.Controller.1.MTP.1.", "Protocol")
                .as_deref(),
            Some("STOMP")
        );
    }
}
