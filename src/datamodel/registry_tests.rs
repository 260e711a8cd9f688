use super::*;
use crate::datamodel::profile::{Access, ObjectRequirement};
use crate::datamodel::types::BaseType;

const SEVEN: [&str; 7] = [
    "DRAFT-DeviceInfo:1",
    "DRAFT-Reboot:1",
    "DRAFT-Firmware:1",
    "DRAFT-LocalAgent:1",
    "DRAFT-Controllers:1",
    "DRAFT-Subscriptions:1",
    "DRAFT-Challenge:1",
];

#[test]
fn builtin_profiles_load() {
    let p = Profiles::builtin();
    for name in SEVEN.iter().chain(&["DRAFT:1"]) {
        assert!(p.get(name).is_some(), "{name}");
    }
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
    assert_eq!(p.names().len(), 15);
    // The directory and the embedded copy agree item for item.
    let b = Profiles::builtin();
    for name in p.names() {
        assert_eq!(
            format!("{:?}", p.get(name)),
            format!("{:?}", b.get(name)),
            "{name}"
        );
    }
}

#[test]
fn released_names_resolve_to_the_draft_profiles() {
    let p = Profiles::builtin();
    assert_eq!(p.canonical("DeviceInfo:1"), Some("DRAFT-DeviceInfo:1"));
    assert_eq!(p.canonical("Challenge:1"), Some("DRAFT-Challenge:1"));
    assert_eq!(p.canonical("USPAgent:1"), Some("DRAFT:1"));
    assert_eq!(p.canonical("DRAFT-Reboot:1"), Some("DRAFT-Reboot:1"));
    assert_eq!(p.canonical("Reboot:2"), None);
}

#[test]
fn the_union_has_every_item_of_the_seven() {
    let p = Profiles::builtin();
    let union = p.get("USPAgent:1").expect("union");
    let count = |prof: &crate::datamodel::Profile| -> usize {
        prof.objects
            .iter()
            .map(|o| o.parameters.len() + o.commands.len() + o.events.len())
            .sum()
    };
    let own: usize = SEVEN.iter().map(|n| count(p.get(n).unwrap())).sum();
    assert_eq!(count(union), own, "no item shared between two of the seven");
    let has = |path: &str, item: &str| {
        union.objects.iter().any(|o| {
            o.path == path
                && (o.parameters.iter().any(|x| x.name == item)
                    || o.commands.iter().any(|x| x.name == item)
                    || o.events.iter().any(|x| x.name == item))
        })
    };
    assert!(has("Device.", "Reboot()"));
    assert!(has("Device.LocalAgent.", "Periodic!"));
    assert!(has("Device.LocalAgent.", "TransferComplete!"));
    assert!(has("Device.LocalAgent.", "SubscriptionNumberOfEntries"));
    assert!(has("Device.DeviceInfo.", "BootFirmwareImage"));
    assert!(has("Device.DeviceInfo.", "Manufacturer"));
    let sub = union
        .objects
        .iter()
        .find(|o| o.path == "Device.LocalAgent.Subscription.{i}.")
        .unwrap();
    assert_eq!(sub.requirement, ObjectRequirement::CreateDelete);
    // Device.LocalAgent. appears in four profiles; merged into one object.
    let la = union
        .objects
        .iter()
        .filter(|o| o.path == "Device.LocalAgent.")
        .count();
    assert_eq!(la, 1);
}

#[test]
fn selection_expands_unions_and_released_names() {
    let p = Profiles::builtin();
    let all = p.expand_selection(&["USPAgent:1".into()]);
    assert_eq!(all.len(), 16, "8 profiles, each by both names: {all:?}");
    for n in SEVEN {
        assert!(all.iter().any(|a| a == n), "{n} in {all:?}");
    }
    assert!(all.iter().any(|a| a == "Challenge:1"), "{all:?}");
    assert_eq!(
        p.expand_selection(&["DeviceInfo:1".into(), "DRAFT-DeviceInfo:1".into()]),
        vec!["DRAFT-DeviceInfo:1".to_string(), "DeviceInfo:1".to_string()]
    );
    assert_eq!(
        p.expand_selection(&["Nope:1".into()]),
        vec!["Nope:1".to_string()]
    );
}

const A: &str = "name: A:1\ndmr_version: '2.12'\nobjects:\n  - path: Device.X.\n    requirement: present\n    parameters:\n      - { name: P, access: read, syntax: { type: string } }\n";

#[test]
fn extends_strengthens_and_adds() {
    let mut p = Profiles::default();
    p.add_text(Path::new("a.yaml"), A).unwrap();
    let b = "name: B:1\ndmr_version: '2.12'\nextends: [A:1]\nobjects:\n  - path: Device.X.\n    requirement: createDelete\n    parameters:\n      - { name: P, access: write, syntax: { type: string } }\n      - { name: Q, access: read, syntax: { type: boolean } }\n";
    p.add_text(Path::new("b.yaml"), b).unwrap();
    p.check_parents().unwrap();
    let x = &p.get("B:1").unwrap().objects;
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].requirement, ObjectRequirement::CreateDelete);
    assert_eq!(x[0].parameters.len(), 2);
    assert_eq!(x[0].parameters[0].access, Access::Write);
    // A itself is untouched.
    assert_eq!(p.get("A:1").unwrap().objects[0].parameters.len(), 1);
}

#[test]
fn base_is_resolved_like_extends_and_parents_may_come_later() {
    let mut p = Profiles::default();
    let a2 = "name: A:2\nbase: A:1\ndmr_version: '2.13'\nobjects: []\n";
    p.add_text(Path::new("a2.yaml"), a2).unwrap();
    assert!(p.check_parents().is_err(), "A:1 not loaded yet");
    p.add_text(Path::new("a.yaml"), A).unwrap();
    p.check_parents().unwrap();
    assert_eq!(p.get("A:2").unwrap().objects.len(), 1);
    assert_eq!(p.members("A:2"), vec!["A:2", "A:1"]);
}

#[test]
fn missing_parent_and_cycles_are_errors() {
    let mut p = Profiles::default();
    p.add_text(
        Path::new("u.yaml"),
        "name: U:1\ndmr_version: '2.12'\nextends: [Gone:1]\n",
    )
    .unwrap();
    let e = p.check_parents().unwrap_err().to_string();
    assert!(e.contains("U:1 extends Gone:1"), "{e}");

    let mut c = Profiles::default();
    c.add_text(
        Path::new("c1"),
        "name: C:1\ndmr_version: '1'\nextends: [D:1]\n",
    )
    .unwrap();
    c.add_text(
        Path::new("d1"),
        "name: D:1\ndmr_version: '1'\nextends: [C:1]\n",
    )
    .unwrap();
    let e = c.check_parents().unwrap_err().to_string();
    assert!(e.contains("C:1 -> D:1 -> C:1"), "{e}");
    // Resolution itself terminates on the cycle.
    assert!(c.get("C:1").is_some());
}

#[test]
fn duplicate_names_and_released_names_are_errors() {
    let mut p = Profiles::default();
    p.add_text(Path::new("a.yaml"), A).unwrap();
    assert!(p.add_text(Path::new("b.yaml"), A).is_err());
    let alias = "name: Z:1\nreleased_as: A:1\ndmr_version: '1'\n";
    let e = p.add_text(Path::new("z.yaml"), alias).unwrap_err();
    assert!(e.to_string().contains("A:1"), "{e}");
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
    // The DRAFT profile's type wins over the extras file's.
    let id = p.param_type("Device.LocalAgent.Subscription.1.ID").unwrap();
    assert_eq!(id.min_length, None);
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
