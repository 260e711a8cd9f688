use super::*;

#[test]
fn valid_ids_per_scheme() {
    for id in [
        "oui:00256D:my-unique-bbf-id-42",
        "oui:00256DA:x",
        "oui:00256DABC:x",
        "cid:3AA3F8:my-unique-usp-id-42",
        "pen:3561:my-unique-bbf-id-42",
        "self::my-Agent",
        "self:abc123:my-Agent",
        "user::u1",
        "user:ops1:u1",
        "os::00256D-0123456789",
        "ops::00256D-STB-0123456789",
        "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "imei::990000862471854",
        "proto::my-Agent",
        "proto:lab:x",
        "doc::example",
        "doc:a.b:example",
        "fqdn::agent.example.com",
        "proto::a%3Ab",
        "proto::an_id.with-dots",
    ] {
        let parsed = validate(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(parsed.to_string(), id);
    }
}

fn rule_of(id: &str) -> (&'static str, String) {
    let e = validate(id).expect_err(id);
    (e.rule(), e.to_string())
}

#[test]
fn invalid_ids_name_the_rule() {
    let cases: &[(&str, &str, &str)] = &[
        ("", "R-ARC.2a", "form"),
        ("proto-agent", "R-ARC.2a", "form"),
        ("proto:agent", "R-ARC.2a", "form"),
        ("bogus::x", "R-ARC.2a", "unknown authority-scheme"),
        ("PROTO::x", "R-ARC.2a", "unknown authority-scheme"),
        ("oui:00256:x", "R-ARC.2a", "OUI"),
        ("oui:00256G:x", "R-ARC.2a", "OUI"),
        ("oui:00256DAB:x", "R-ARC.2a", "OUI"),
        ("cid:3AA3F8A:x", "R-ARC.2a", "CID"),
        ("pen:35x1:x", "R-ARC.2a", "decimal"),
        ("pen::x", "R-ARC.2a", "decimal"),
        ("self:abcdefg:x", "R-ARC.2a", "0 to 6"),
        ("user:a b:x", "R-ARC.2a", "0 to 6"),
        ("doc:1234567:x", "R-ARC.2a", "0 to 6"),
        ("proto:a.b:x", "R-ARC.2a", "other than"),
        ("os:00256D:00256D-1", "R-ARC.2a", "zero-length"),
        (
            "uuid:x:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "R-ARC.2a",
            "zero-length",
        ),
        ("imei:1:990000862471854", "R-ARC.2a", "zero-length"),
        ("fqdn:x:a.example.com", "R-ARC.2a", "zero-length"),
        ("os::0123456789", "R-ARC.2a", "SerialNumber"),
        ("os::00256D-", "R-ARC.2a", "SerialNumber"),
        ("ops::00256D-0123456789", "R-ARC.2a", "ProductClass"),
        ("uuid::f81d4fae7dec11d0a76500a0c91e6bf6", "R-ARC.2a", "UUID"),
        (
            "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bfz",
            "R-ARC.2a",
            "UUID",
        ),
        ("imei::99000086247185", "R-ARC.2a", "IMEI"),
        ("imei::99000086247185A", "R-ARC.2a", "IMEI"),
        ("fqdn::localhost", "R-ARC.2a", "domain"),
        ("fqdn::-bad.example.com", "R-ARC.2a", "domain"),
        ("proto::", "R-ARC.2a", "empty"),
        ("proto::a:b", "R-ARC.5", "':'"),
        ("proto::a b", "R-ARC.5", "' '"),
        ("proto::a%zz", "R-ARC.5", "'%'"),
        ("proto::a%4", "R-ARC.5", "'%'"),
        ("proto::caf\u{e9}", "R-ARC.5", "R-ARC.5"),
    ];
    for (id, rule, fragment) in cases {
        let (got_rule, msg) = rule_of(id);
        assert_eq!(got_rule, *rule, "{id}: {msg}");
        assert!(msg.contains(fragment), "{id}: '{msg}' lacks '{fragment}'");
    }
}

#[test]
fn instance_id_length_limit_is_fifty() {
    let ok = format!("proto::{}", "a".repeat(50));
    assert!(validate(&ok).is_ok());
    let long = format!("proto::{}", "a".repeat(51));
    let e = validate(&long).unwrap_err();
    assert_eq!(e.rule(), "R-ARC.6");
    assert!(e.to_string().contains("51 characters"));
}

#[test]
fn urn_form_strips_the_prefix_and_rejects_others() {
    let id = validate_urn("urn:bbf:usp:id:proto::agent").unwrap();
    assert_eq!(id.instance_id, "agent");
    assert!(validate_urn("proto::agent").is_err());
    assert!(validate_urn("urn:bbf:usp:id:proto::a b").is_err());
}
