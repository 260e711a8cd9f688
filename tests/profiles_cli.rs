//! `plugfest profiles import` and `plugfest list` as a user runs them: an
//! XML written here becomes profile YAML that a suite can demand; bad XML is
//! exit code 2 with FILE:line:column.

mod common;

use common::plugfest_plain;
use std::path::Path;

const XML: &str = r#"<?xml version="1.0"?>
<dm:document xmlns:dm="urn:broadband-forum-org:cwmp:datamodel-1-6" xmlns:dmr="urn:broadband-forum-org:cwmp:datamodel-report-0-1">
  <model name="Device:2.12">
    <object name="Device.Widget." access="readOnly" minEntries="1" maxEntries="1">
      <parameter name="Color" access="readWrite">
        <syntax><string><enumeration value="Red"/><enumeration value="Blue"/></string></syntax>
      </parameter>
    </object>
    <profile name="Widget:1" dmr:version="2.12">
      <object ref="Device.Widget." requirement="present">
        <parameter ref="Color" requirement="readWrite"/>
      </object>
    </profile>
    <profile name="Gadgets:1" extends="Widget:1" dmr:version="2.12"/>
  </model>
</dm:document>
"#;

const SUITE: &str = "suite: Widgets\ncases:\n  - id: widget-color\n    title: Widget color\n    profile: Gadgets:1\n    tp469: \"1.36\"\n    steps: []\n";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn imported_profiles_are_usable_by_suites_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("widget.xml");
    std::fs::write(&xml, XML).unwrap();
    let out = dir.path().join("profiles");
    let (code, stdout, stderr) = plugfest_plain(&["profiles", "import", s(&xml), "--out", s(&out)]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("wrote 2 profile(s)"), "{stdout}");
    let widget = std::fs::read_to_string(out.join("Widget-1.yaml")).unwrap();
    assert!(widget.contains("enumeration: [Red, Blue]"), "{widget}");
    assert!(out.join("Gadgets-1.yaml").exists());

    let cases = dir.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    std::fs::write(cases.join("w.yaml"), SUITE).unwrap();
    let (code, stdout, stderr) = plugfest_plain(&[
        "list",
        "--cases",
        s(&cases),
        "--profiles-dir",
        s(&out),
        "--profile",
        "Gadgets:1",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("Gadgets:1\n  widget-color  TP-469 1.36"),
        "{stdout}"
    );
    assert!(stdout.contains("1 case(s) in 1 group(s)"), "{stdout}");

    // A second import into the same directory refuses to overwrite.
    let (code, _, stderr) = plugfest_plain(&["profiles", "import", s(&xml), "--out", s(&out)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, _, stderr) =
        plugfest_plain(&["profiles", "import", s(&xml), "--out", s(&out), "--force"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_xml_is_exit_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<document>\n  <model>\n</document>\n").unwrap();
    let (code, _, stderr) = plugfest_plain(&["profiles", "import", s(&bad)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bad.xml:3:"), "{stderr}");

    let missing = dir.path().join("missing.xml");
    let broken = XML.replace(
        r#"<object ref="Device.Widget.""#,
        r#"<object ref="Device.Nope.""#,
    );
    std::fs::write(&missing, broken).unwrap();
    let (code, _, stderr) = plugfest_plain(&["profiles", "import", s(&missing)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("missing.xml:10:7: profile Widget:1 refers to object `Device.Nope.`"),
        "{stderr}"
    );
}

#[test]
fn list_selects_draft_cases_by_released_name() {
    let (code, stdout, stderr) = plugfest_plain(&["list", "--profile", "DeviceInfo:1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("DRAFT-DeviceInfo:1 (released as DeviceInfo:1)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("deviceinfo-get-object-path"), "{stdout}");
    assert!(!stdout.contains("localagent-"), "{stdout}");
    let (_, all, _) = plugfest_plain(&["list", "--profile", "USPAgent:1"]);
    for p in [
        "DRAFT-Reboot:1",
        "DRAFT-Challenge:1",
        "DRAFT:1 (released as USPAgent:1)",
    ] {
        assert!(all.contains(p), "{p} in {all}");
    }
}
