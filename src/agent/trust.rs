//! Controller trust (`Device.LocalAgent.ControllerTrust.`, TR-181 ControllerTrust:1):
//! which of `rwxn` a Controller holds on a path, from the Roles named in its
//! `Controller.{i}.AssignedRole`. Pure reads of the model; the message hooks
//! that apply the answer live in `trust_enforce.rs`.

use std::sync::Arc;

use super::model::Model;

const ROLE_TABLE: &str = "Device.LocalAgent.ControllerTrust.Role.";
const TRUST: &str = "Device.LocalAgent.ControllerTrust.";

/// The four Permission columns: what kind of thing a path names.
/// The discriminants index `ControllerRights`' columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Param`: r = Get/GSDM, w = Set/Add values, n = ValueChange.
    Param,
    /// `Obj`: r = GSDM of the object, w = Add instances, n = ObjectCreation.
    Obj,
    /// `InstantiatedObj`: r = Get/GetInstances of instances, w = Delete, n = ObjectDeletion.
    InstantiatedObj,
    /// `CommandEvent`: r = GSDM, x = Operate, n = OperationComplete / Event.
    CommandEvent,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::Param => "Param",
            Kind::Obj => "Obj",
            Kind::InstantiatedObj => "InstantiatedObj",
            Kind::CommandEvent => "CommandEvent",
        }
    }
}

/// One `rwxn` string: read, write, execute, notify; `-` where absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
    pub notify: bool,
}

impl Rights {
    pub const ALL: Rights = Rights {
        read: true,
        write: true,
        execute: true,
        notify: true,
    };

    /// Parses the 4-character form in its fixed order (`r--n`); anything else
    /// grants nothing, so a malformed Permission never opens access.
    pub fn parse(s: &str) -> Rights {
        let c: Vec<char> = s.chars().collect();
        if c.len() != 4 {
            return Rights::default();
        }
        Rights {
            read: c[0] == 'r',
            write: c[1] == 'w',
            execute: c[2] == 'x',
            notify: c[3] == 'n',
        }
    }

    fn union(self, o: Rights) -> Rights {
        Rights {
            read: self.read || o.read,
            write: self.write || o.write,
            execute: self.execute || o.execute,
            notify: self.notify || o.notify,
        }
    }
}

/// What `controller` (an Endpoint ID) may do with `path` as a `kind`.
///
/// Within one Role, the enabled Permission with the highest Order among those
/// whose Targets cover the path decides; across the Roles of AssignedRole the
/// result is their union (TR-181 ControllerTrust.Role.{i}.Permission.{i}.Order).
/// A Controller the Agent has no row for, or whose AssignedRole is empty, has
/// the rights of `ControllerTrust.UntrustedRole`; while that is empty (this
/// Agent's start-up value) it is not restricted, so Controllers the Agent was
/// not told about can still test it.
pub fn rights(model: &Model, controller: &str, kind: Kind, path: &str) -> Rights {
    ControllerRights::of(model, controller).rights(kind, path)
}

/// A Controller's Roles and their enabled Permissions, read from the model
/// once: a response is filtered path by path (trust_enforce), and reading
/// the Controller's row, its Roles and their Permissions again for every
/// path cost far more than the rest of a Get (benches/exchange.rs). Holds
/// no borrow of the model: make it again after the model changes.
pub struct ControllerRights {
    /// `None`: not restricted (no Role assigned and no UntrustedRole).
    roles: Option<Vec<Vec<Permission>>>,
    /// Per column, the rights held on every path whatever its Targets: the
    /// union over the Roles whose deciding Permission is the same for every
    /// path (see `everywhere`). A Full Access Controller holds all of them,
    /// and a response is then not filtered path by path at all.
    floor: [Rights; 4],
    /// Whether one of its Roles is in `ControllerTrust.SecuredRoles`.
    secured: bool,
}

/// One enabled `Role.{i}.Permission.{i}.`.
struct Permission {
    targets: Vec<String>,
    order: u32,
    /// Param, Obj, InstantiatedObj, CommandEvent.
    columns: [Rights; 4],
}

/// The rights of the Controller the Agent last answered, kept while the
/// model is not written: reading its row, Roles and Permissions anew took
/// over a quarter of `Agent::handle`'s time for a Get (perf of the
/// benches/exchange.rs exchange), and a Controller usually sends many
/// requests between two writes. Add and the Notify permission check still
/// read them anew (`rights`): neither is on a hot path.
#[derive(Default)]
pub struct RightsCache {
    /// (Controller, `Model::writes` when read, its rights).
    kept: Option<(String, u64, Arc<ControllerRights>)>,
}

impl RightsCache {
    /// `ControllerRights::of(model, controller)`, read again only when the
    /// Controller differs or the model has been open for writing since.
    pub fn of(&mut self, model: &Model, controller: &str) -> Arc<ControllerRights> {
        match &self.kept {
            Some((who, writes, rights)) if who == controller && *writes == model.writes() => {
                Arc::clone(rights)
            }
            _ => {
                let rights = Arc::new(ControllerRights::of(model, controller));
                self.kept = Some((controller.to_string(), model.writes(), Arc::clone(&rights)));
                rights
            }
        }
    }
}

impl ControllerRights {
    pub fn of(model: &Model, controller: &str) -> ControllerRights {
        let held = held_roles(model, controller);
        let listed = role_list(&model.value(TRUST, "SecuredRoles").unwrap_or_default());
        let secured = held.iter().any(|r| listed.contains(r));
        if held.is_empty() {
            return ControllerRights {
                roles: None,
                floor: [Rights::ALL; 4],
                secured,
            };
        }
        let roles: Vec<Vec<Permission>> = held
            .iter()
            .filter(|role| role.starts_with(ROLE_TABLE) && enabled(model, role, "Enable"))
            .map(|role| permissions(model, role))
            .collect();
        let mut floor = [Rights::default(); 4];
        for perms in &roles {
            if let Some(p) = everywhere(perms) {
                for (f, c) in floor.iter_mut().zip(p.columns) {
                    *f = f.union(c);
                }
            }
        }
        ControllerRights {
            roles: Some(roles),
            floor,
            secured,
        }
    }

    /// Whether one of the Controller's Roles is in
    /// `ControllerTrust.SecuredRoles`, so that it reads secured parameters
    /// (TR-181 2.16, TP-469 2.27).
    pub fn holds_secured_role(&self) -> bool {
        self.secured
    }

    /// Whether the Controller holds `read` on every path of this kind, so
    /// that nothing of that kind need be filtered out of a response.
    pub fn reads_everything(&self, kind: Kind) -> bool {
        self.floor[kind as usize].read
    }

    /// What the Controller may do with `path` as a `kind`: within one Role
    /// the enabled Permission with the highest Order among those whose
    /// Targets cover the path decides (the last of equals, as before);
    /// across Roles the union.
    pub fn rights(&self, kind: Kind, path: &str) -> Rights {
        let Some(roles) = &self.roles else {
            return Rights::ALL;
        };
        let column = kind as usize;
        if self.floor[column] == Rights::ALL {
            return Rights::ALL;
        }
        roles
            .iter()
            .map(|perms| {
                perms
                    .iter()
                    .filter(|p| p.targets.iter().any(|t| covers(t, path)))
                    .max_by_key(|p| p.order)
                    .map(|p| p.columns[column])
                    .unwrap_or_default()
            })
            .fold(Rights::default(), Rights::union)
    }
}

/// The Permission of a Role that decides for every path: one targeting
/// all of `Device.` with the highest Order (the last of equals, which
/// `rights` would pick for any path it covers).
fn everywhere(perms: &[Permission]) -> Option<&Permission> {
    let top = perms.iter().max_by_key(|p| p.order)?;
    top.targets.iter().any(|t| t == "Device.").then_some(top)
}

/// The Roles a Controller holds (`Role.{i}.`): its AssignedRole, or with
/// no row or no Role assigned, the UntrustedRole.
fn held_roles(model: &Model, controller: &str) -> Vec<String> {
    let assigned = model
        .controller_path(controller)
        .and_then(|row| model.value(&format!("{row}."), "AssignedRole"))
        .filter(|a| !a.trim().is_empty())
        .or_else(|| model.value(TRUST, "UntrustedRole"))
        .unwrap_or_default();
    role_list(&assigned)
}

/// A list of Role references, each as `Role.{i}.` (with or without the
/// trailing dot as written).
fn role_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|r| r.trim().trim_end_matches('.'))
        .filter(|r| !r.is_empty())
        .map(|r| format!("{r}."))
        .collect()
}

fn enabled(model: &Model, obj: &str, name: &str) -> bool {
    matches!(model.value(obj, name).as_deref(), Some("true" | "1"))
}

/// The enabled Permissions of one Role, in instance order.
fn permissions(model: &Model, role: &str) -> Vec<Permission> {
    const KINDS: [Kind; 4] = [
        Kind::Param,
        Kind::Obj,
        Kind::InstantiatedObj,
        Kind::CommandEvent,
    ];
    let rows = model.instances(&format!("{role}Permission."));
    model
        .table_rows(&rows)
        .filter(|row| matches!(row.get("Enable").as_deref(), Some("true" | "1")))
        .map(|row| Permission {
            targets: row
                .get("Targets")
                .unwrap_or_default()
                .split(',')
                .map(|t| t.trim().to_string())
                .collect(),
            order: row
                .get("Order")
                .and_then(|o| o.parse::<u32>().ok())
                .unwrap_or(0),
            columns: KINDS.map(|k| Rights::parse(&row.get(k.column()).unwrap_or_default())),
        })
        .collect()
}

/// Whether a Permission Target covers `path`. A Target ending in `.` covers
/// everything below it; any other Target only the item it names. `*` and `{i}`
/// stand for any instance number, on either side (GSDM paths carry `{i}`).
pub fn covers(target: &str, path: &str) -> bool {
    if target.is_empty() {
        return false;
    }
    // Segment by segment, without copying (this runs for every Target of
    // every Permission on every path a response holds).
    let segments = |s: &str| s.trim_end_matches('.').split('.').count();
    let (t_len, p_len) = (segments(target), segments(path));
    let prefix = target.ends_with('.');
    if p_len < t_len || (!prefix && p_len != t_len) {
        return false;
    }
    let t = target.trim_end_matches('.').split('.');
    let p = path.trim_end_matches('.').split('.');
    t.zip(p).all(|(t, p)| {
        let any = |s: &str| s == "*" || s == "{i}";
        t == p
            || (any(t) && (any(p) || p.parse::<u32>().is_ok()))
            || (any(p) && t.parse::<u32>().is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "proto::plugfest-controller";
    const READONLY: &str = "proto::plugfest-readonly";

    #[test]
    fn kept_rights_are_read_again_after_a_write_or_for_another_controller() {
        let mut m = Model::new("proto::agent");
        let mut kept = RightsCache::default();
        let first = kept.of(&m, READONLY);
        assert!(!first.reads_everything(Kind::Param));
        assert!(
            Arc::ptr_eq(&first, &kept.of(&m, READONLY)),
            "nothing written: kept"
        );
        let full = kept.of(&m, FULL);
        assert!(!Arc::ptr_eq(&first, &full) && full.reads_everything(Kind::Param));
        // READONLY is given FULL's Role: the next reading sees it.
        let row = |m: &Model, who| format!("{}.", m.controller_path(who).unwrap());
        let role = m.value(&row(&m, FULL), "AssignedRole").unwrap();
        kept.of(&m, READONLY);
        m.put(&row(&m, READONLY), "AssignedRole", role);
        assert!(kept.of(&m, READONLY).reads_everything(Kind::Param));
    }

    #[test]
    fn rights_parse_in_fixed_order() {
        assert_eq!(Rights::parse("rwxn"), Rights::ALL);
        let r = Rights::parse("r--n");
        assert!(r.read && !r.write && !r.execute && r.notify);
        assert_eq!(Rights::parse("rw"), Rights::default());
        assert_eq!(Rights::parse("nxwr"), Rights::default());
    }

    #[test]
    fn targets_cover_subtrees_items_and_instances() {
        assert!(covers("Device.", "Device.DeviceInfo.SerialNumber"));
        assert!(covers("Device.DeviceInfo.", "Device.DeviceInfo."));
        assert!(!covers(
            "Device.DeviceInfo.",
            "Device.LocalAgent.EndpointID"
        ));
        assert!(covers(
            "Device.DeviceInfo.SerialNumber",
            "Device.DeviceInfo.SerialNumber"
        ));
        assert!(!covers(
            "Device.DeviceInfo.SerialNumber",
            "Device.DeviceInfo.SerialNumberX"
        ));
        assert!(covers(
            "Device.LocalAgent.Subscription.*.",
            "Device.LocalAgent.Subscription.3.ID"
        ));
        assert!(covers(
            "Device.LocalAgent.Subscription.",
            "Device.LocalAgent.Subscription.{i}."
        ));
        assert!(covers(
            "Device.LocalAgent.Controller.2.",
            "Device.LocalAgent.Controller.{i}.Enable"
        ));
        assert!(!covers("", "Device."));
    }

    #[test]
    fn default_roles_full_and_read_only() {
        let m = Model::new("proto::agent");
        let serial = "Device.DeviceInfo.SerialNumber";
        assert_eq!(rights(&m, FULL, Kind::Param, serial), Rights::ALL);
        let ro = rights(&m, READONLY, Kind::Param, "Device.DeviceInfo.Manufacturer");
        assert!(ro.read && !ro.write && ro.notify);
        // A higher-Order Permission hides the serial number from the read-only role.
        assert!(!rights(&m, READONLY, Kind::Param, serial).read);
        assert!(!rights(&m, READONLY, Kind::CommandEvent, "Device.Reboot()").execute);
        assert!(!rights(&m, READONLY, Kind::Obj, "Device.LocalAgent.Controller.{i}.").write);
        // ... but it may manage Subscriptions (its own notifications).
        assert!(rights(&m, READONLY, Kind::Obj, "Device.LocalAgent.Subscription.").write);
        // No notify on AdvertisedDeviceSubtypes.
        let subtypes = "Device.LocalAgent.AdvertisedDeviceSubtypes";
        assert!(!rights(&m, READONLY, Kind::Param, subtypes).notify);
        // Unknown Controllers are not restricted (no UntrustedRole configured).
        assert_eq!(
            rights(&m, "proto::stranger", Kind::Param, serial),
            Rights::ALL
        );
    }

    #[test]
    fn no_assigned_role_means_the_untrusted_role() {
        let mut m = Model::new("proto::agent");
        let name = "Device.DeviceInfo.FriendlyName";
        m.put(
            TRUST,
            "UntrustedRole",
            "Device.LocalAgent.ControllerTrust.Role.2",
        );
        let stranger = rights(&m, "proto::stranger", Kind::Param, name);
        assert!(stranger.read && !stranger.write);
        let row = format!("{}.", m.controller_path(FULL).unwrap());
        m.put(&row, "AssignedRole", "");
        assert!(!rights(&m, FULL, Kind::Param, name).write);
    }

    #[test]
    fn assigned_role_change_and_role_union_and_disable() {
        let mut m = Model::new("proto::agent");
        let row = format!("{}.", m.controller_path(READONLY).unwrap());
        let full = "Device.LocalAgent.ControllerTrust.Role.1";
        let ro = "Device.LocalAgent.ControllerTrust.Role.2";
        m.put(&row, "AssignedRole", format!("{ro},{full}"));
        assert_eq!(
            rights(&m, READONLY, Kind::Param, "Device.DeviceInfo.SerialNumber"),
            Rights::ALL
        );
        m.put(&row, "AssignedRole", ro);
        m.put(&format!("{ro}."), "Enable", "false");
        assert_eq!(
            rights(&m, READONLY, Kind::Param, "Device.DeviceInfo.Manufacturer"),
            Rights::default()
        );
    }

    #[test]
    fn only_a_whole_tree_permission_that_outranks_the_rest_reads_everything() {
        let mut m = Model::new("proto::agent");
        assert!(ControllerRights::of(&m, FULL).reads_everything(Kind::Param));
        // The read-only Role's "Device." Permission is outranked where the
        // serial number is hidden: its reads are checked path by path.
        assert!(!ControllerRights::of(&m, READONLY).reads_everything(Kind::Param));
        // Outranking the narrower ones, the same Permission reads everything...
        let whole = "Device.LocalAgent.ControllerTrust.Role.2.Permission.1.";
        m.put(whole, "Order", "9");
        let ro = ControllerRights::of(&m, READONLY);
        assert!(ro.reads_everything(Kind::Param));
        let serial = "Device.DeviceInfo.SerialNumber";
        assert!(ro.rights(Kind::Param, serial).read && !ro.rights(Kind::Param, serial).write);
        // ... and grants nothing more than its own column says.
        assert!(
            !ro.rights(Kind::Obj, "Device.LocalAgent.Subscription.")
                .write
        );
        // A whole-tree Permission that reads nothing reads nothing anywhere.
        m.put(whole, "Param", "----");
        assert!(!ControllerRights::of(&m, READONLY).reads_everything(Kind::Param));
        assert!(
            !ControllerRights::of(&m, READONLY)
                .rights(Kind::Param, serial)
                .read
        );
    }
}
