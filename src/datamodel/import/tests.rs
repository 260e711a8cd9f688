//! The importer on small documents written here (two objects, a table, a
//! command with arguments, an event, profiles extending each other), and
//! every error it reports with its position.

use super::syntax::resolve_target;
use super::*;
use crate::datamodel::types::BaseType;
use crate::datamodel::{Access, ObjectRequirement, Profiles};

const DOC: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<dm:document xmlns:dm="urn:broadband-forum-org:cwmp:datamodel-1-6"
             xmlns:dmr="urn:broadband-forum-org:cwmp:datamodel-report-0-1" spec="urn:example:test">
  <dataType name="Alias">
    <string><size maxLength="64"/></string>
  </dataType>
  <dataType name="ShortAlias" base="Alias">
    <size maxLength="8"/>
  </dataType>
  <model name="Device:2.12">
    <object name="Device." access="readOnly" minEntries="1" maxEntries="1">
      <command name="Reboot()"/>
      <event name="Boot!">
        <parameter name="CommandKey"><syntax><string/></syntax></parameter>
        <parameter name="Cause"><syntax><string><enumeration value="LocalReboot"/><enumeration value="RemoteReboot"/></string></syntax></parameter>
      </event>
    </object>
    <object name="Device.Gadget." access="readOnly" minEntries="1" maxEntries="1">
      <parameter name="Name" access="readWrite">
        <syntax><string><size minLength="1" maxLength="32"/><pattern value=""/><pattern value="[a-z]+"/></string><default type="object" value=""/></syntax>
      </parameter>
      <parameter name="Level" access="readOnly">
        <syntax><unsignedInt><range minInclusive="1" maxInclusive="10"/><units value="steps"/></unsignedInt></syntax>
      </parameter>
      <parameter name="Tags" access="readWrite">
        <syntax><list><size maxLength="100"/></list><string><size maxLength="16"/></string></syntax>
      </parameter>
      <parameter name="Current" access="readOnly">
        <syntax><string><pathRef refType="strong" targetParent="Part." targetType="row"/></string></syntax>
      </parameter>
      <parameter name="Modes" access="readOnly">
        <syntax><list/><string><enumeration value="Fast"/><enumeration value="Slow"/></string></syntax>
      </parameter>
      <parameter name="Mode" access="readWrite">
        <syntax><string><enumerationRef targetParam="Modes"/></string></syntax>
      </parameter>
      <parameter name="PartNumberOfEntries" access="readOnly">
        <syntax><unsignedInt/></syntax>
      </parameter>
      <command name="Fetch()" async="true">
        <input>
          <parameter name="URL" mandatory="true"><syntax><string/></syntax></parameter>
          <parameter name="Size"><syntax><unsignedInt/></syntax></parameter>
        </input>
        <output>
          <parameter name="Took"><syntax><unsignedInt/></syntax></parameter>
        </output>
      </command>
    </object>
    <object name="Device.Gadget.Part.{i}." access="readWrite" minEntries="0" maxEntries="unbounded">
      <parameter name="Alias" access="readWrite"><syntax><dataType ref="Alias"/></syntax></parameter>
      <parameter name="Short" access="readWrite"><syntax><dataType ref="ShortAlias"/></syntax></parameter>
      <parameter name="Owner" access="readOnly">
        <syntax><string><pathRef targetParent="#.Part." targetType="row"/></string></syntax>
      </parameter>
    </object>
    <profile name="Gadget:1" dmr:version="2.12">
      <object ref="Device.Gadget." requirement="present">
        <parameter ref="Name" requirement="readOnly"/>
        <parameter ref="Level" requirement="readOnly"/>
        <parameter ref="Current" requirement="readOnly"/>
        <command ref="Fetch()"/>
      </object>
      <object ref="Device.Gadget.Part.{i}." requirement="createDelete">
        <parameter ref="Alias" requirement="readWrite"/>
      </object>
    </profile>
    <profile name="Gadget:2" base="Gadget:1" dmr:version="2.13">
      <object ref="Device.Gadget." requirement="present">
        <parameter ref="Name" requirement="readWrite"/>
        <parameter ref="Tags" requirement="readWrite"/>
        <parameter ref="Mode" requirement="readOnly"/>
      </object>
    </profile>
    <profile name="Boot:1" dmr:version="2.12">
      <object ref="Device." requirement="present">
        <command ref="Reboot()"/>
        <event ref="Boot!"/>
      </object>
      <object ref="Device.Gadget.Part.{i}." requirement="present">
        <parameter ref="Short" requirement="readOnly"/>
        <parameter ref="Owner" requirement="readOnly"/>
      </object>
    </profile>
    <profile name="All:1" extends="Gadget:2 Boot:1" dmr:version="2.12"/>
  </model>
</dm:document>
"##;

fn imported() -> Vec<crate::datamodel::Profile> {
    import_str(DOC).expect("imports")
}

#[test]
fn reads_objects_parameters_and_their_syntax() {
    let ps = imported();
    let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Gadget:1", "Gadget:2", "Boot:1", "All:1"]);
    let g = &ps[0];
    assert_eq!(g.dmr_version, "2.12");
    let gadget = &g.objects[0];
    assert_eq!(gadget.path, "Device.Gadget.");
    assert_eq!(gadget.requirement, ObjectRequirement::Present);
    let name = &gadget.parameters[0];
    assert_eq!((name.name.as_str(), name.access), ("Name", Access::Read));
    assert_eq!(name.syntax.base, BaseType::String);
    assert_eq!(
        (name.syntax.min_length, name.syntax.max_length),
        (Some(1), Some(32))
    );
    // Two patterns are alternatives; "" (empty allowed) is one of them.
    assert_eq!(name.syntax.pattern.as_deref(), Some("(?:)|(?:[a-z]+)"));
    let level = &gadget.parameters[1].syntax;
    assert_eq!(
        (level.base, level.min, level.max),
        (BaseType::UnsignedInt, Some(1), Some(10))
    );
    let current = gadget.parameters[2]
        .syntax
        .reference
        .as_ref()
        .expect("a reference");
    assert_eq!(current.target_parent, "Device.Gadget.Part.");
    assert_eq!(current.ref_type.as_deref(), Some("strong"));
    let part = &g.objects[1];
    assert_eq!(part.requirement, ObjectRequirement::CreateDelete);
    assert_eq!(part.parameters[0].access, Access::Write);
    assert_eq!(
        part.parameters[0].syntax.max_length,
        Some(64),
        "dataType ref"
    );
}

#[test]
fn reads_commands_events_lists_and_derived_types() {
    let ps = imported();
    let fetch = &ps[0].objects[0].commands[0];
    assert_eq!(fetch.name, "Fetch()");
    assert!(fetch.is_async);
    assert_eq!(fetch.input, ["URL", "Size"]);
    assert_eq!(fetch.output, ["Took"]);
    let boot = &ps[2];
    assert_eq!(boot.objects[0].commands[0].name, "Reboot()");
    assert!(!boot.objects[0].commands[0].is_async);
    assert_eq!(boot.objects[0].events[0].args, ["CommandKey", "Cause"]);
    let short = &boot.objects[1].parameters[0].syntax;
    assert_eq!(short.max_length, Some(8), "base=Alias narrowed to 8");
    let owner = boot.objects[1].parameters[1]
        .syntax
        .reference
        .as_ref()
        .unwrap();
    assert_eq!(
        owner.target_parent, "Device.Gadget.Part.",
        "#. is the table's parent"
    );
    let tags = &ps[1].objects[0].parameters[1];
    assert!(tags.syntax.list);
    assert_eq!(
        (tags.syntax.max_length, tags.syntax.item_max_length),
        (Some(100), Some(16))
    );
}

#[test]
fn records_base_and_extends() {
    let ps = imported();
    assert_eq!(ps[1].base.as_deref(), Some("Gadget:1"));
    assert_eq!(ps[1].dmr_version, "2.13");
    assert_eq!(ps[3].extends, ["Gadget:2", "Boot:1"]);
    assert!(ps[3].objects.is_empty());
}

#[test]
fn emitted_yaml_loads_back_and_resolves() {
    let ps = imported();
    let mut reg = Profiles::default();
    for p in &ps {
        let yaml = to_yaml(p, "test.xml");
        reg.add_text(std::path::Path::new(&file_name(&p.name)), &yaml)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let back = reg.written().last().unwrap();
        assert_eq!(format!("{back:?}"), format!("{p:?}"), "{yaml}");
    }
    reg.check_parents().expect("parents resolve");
    let all = reg.get("All:1").expect("union");
    // Gadget:2 raised Name to write; the union keeps the stronger access.
    let gadget = all
        .objects
        .iter()
        .find(|o| o.path == "Device.Gadget.")
        .unwrap();
    let name = gadget.parameters.iter().find(|p| p.name == "Name").unwrap();
    assert_eq!(name.access, Access::Write);
    assert_eq!(gadget.parameters.len(), 5, "Name Level Current Tags Mode");
    let part = all
        .objects
        .iter()
        .find(|o| o.path == "Device.Gadget.Part.{i}.")
        .unwrap();
    assert_eq!(part.requirement, ObjectRequirement::CreateDelete);
    assert_eq!(part.parameters.len(), 3);
    assert_eq!(file_name("DRAFT-DeviceInfo:1"), "DRAFT-DeviceInfo-1.yaml");
}

fn err(doc: &str) -> ImportError {
    import_str(doc).expect_err("must fail")
}

/// (line, column) of the first occurrence of `needle` in DOC-derived text.
fn pos_of(text: &str, needle: &str) -> Pos {
    let at = text.find(needle).expect("needle in text");
    let before = &text[..at];
    let line = before.matches('\n').count() as u32 + 1;
    let col = (at - before.rfind('\n').map_or(0, |i| i + 1)) as u32 + 1;
    Pos { line, col }
}

#[test]
fn not_xml_is_reported_with_its_position() {
    let e = err("<document>\n  <model>\n</document>\n");
    assert!(matches!(e, ImportError::Xml { .. }), "{e}");
    assert_eq!(e.pos().line, 3, "{e}");
    let e = err("<html/>");
    assert!(matches!(e, ImportError::NotDataModel { .. }), "{e}");
}

#[test]
fn unknown_data_type_is_reported_where_it_is_used() {
    let doc = DOC.replace(r#"<dataType ref="Alias"/>"#, r#"<dataType ref="Nope"/>"#);
    let e = err(&doc);
    assert!(
        matches!(&e, ImportError::UnknownDataType { name, .. } if name == "Nope"),
        "{e}"
    );
    assert_eq!(e.pos(), pos_of(&doc, r#"<dataType ref="Nope"/>"#));
    assert!(e.to_string().starts_with(&e.pos().to_string()), "{e}");
}

#[test]
fn profile_ref_to_missing_object_or_item_is_reported() {
    let doc = DOC.replace(
        r#"<object ref="Device.Gadget." requirement="present">
        <parameter ref="Name" requirement="readOnly"/>"#,
        r#"<object ref="Device.Widget." requirement="present">
        <parameter ref="Name" requirement="readOnly"/>"#,
    );
    let e = err(&doc);
    assert!(e.to_string().contains("object `Device.Widget.`"), "{e}");
    assert_eq!(e.pos(), pos_of(&doc, r#"<object ref="Device.Widget.""#));

    let doc = DOC.replace(r#"<event ref="Boot!"/>"#, r#"<event ref="Shutdown!"/>"#);
    let e = err(&doc);
    assert!(e.to_string().contains("event `Device.Shutdown!`"), "{e}");
    assert_eq!(e.pos(), pos_of(&doc, r#"<event ref="Shutdown!"/>"#));

    let doc = DOC.replace(
        r#"extends="Gadget:2 Boot:1""#,
        r#"extends="Gadget:2 Boot:9""#,
    );
    let e = err(&doc);
    assert!(e.to_string().contains("profile `Boot:9`"), "{e}");
}

#[test]
fn bad_syntax_is_reported() {
    let doc = DOC.replace(
        r#"<unsignedInt><range minInclusive="1" maxInclusive="10"/><units value="steps"/></unsignedInt>"#,
        "<float/>",
    );
    let e = err(&doc);
    assert!(matches!(e, ImportError::Syntax { .. }), "{e}");
    assert!(e.to_string().contains("<float>"), "{e}");
    assert_eq!(e.pos(), pos_of(&doc, "<float/>"));
}

#[test]
fn relative_reference_targets() {
    let o = "Device.LocalAgent.Subscription.{i}.";
    assert_eq!(
        resolve_target(o, "#.Controller."),
        "Device.LocalAgent.Controller."
    );
    assert_eq!(resolve_target(o, "Device.X."), "Device.X.");
    assert_eq!(
        resolve_target(o, ".STOMP.Connection."),
        "Device.STOMP.Connection."
    );
    assert_eq!(
        resolve_target("Device.DeviceInfo.", "FirmwareImage."),
        "Device.DeviceInfo.FirmwareImage."
    );
    assert_eq!(
        resolve_target("Device.LocalAgent.MTP.{i}.CoAP.", "###.IP.Interface."),
        "Device.IP.Interface."
    );
    assert_eq!(
        resolve_target(
            "Device.LocalAgent.ControllerTrust.Credential.{i}.",
            "##.Certificate."
        ),
        "Device.LocalAgent.Certificate."
    );
}
