use super::*;
use crate::target::Target;

fn ad(txt: &[(&str, Option<&str>)]) -> Advertisement {
    Advertisement {
        service_type: crate::discovery::WS_AGENT_SERVICE.into(),
        instance: "proto::plugfest-reference-agent".into(),
        host: "agent.local.".into(),
        port: 5684,
        addresses: vec!["127.0.0.1".parse().unwrap()],
        txt: txt
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect(),
        tls_observed: None,
    }
}

fn rules(a: &Advertisement) -> Vec<&'static str> {
    validate(a).iter().map(|p| p.rule).collect()
}

#[test]
fn a_complete_advertisement_is_valid() {
    assert!(validate(&ad(&[("path", Some("/usp")), ("name", Some("Agent"))])).is_empty());
    let mut tls = ad(&[("path", Some("/")), ("name", Some("A")), ("encrypt", None)]);
    tls.tls_observed = Some(true);
    assert!(validate(&tls).is_empty());
}

#[test]
fn missing_or_empty_required_keys_are_reported() {
    assert_eq!(rules(&ad(&[("name", Some("A"))])), ["R-DIS.9"]);
    assert_eq!(rules(&ad(&[("path", Some("/"))])), ["R-DIS.10"]);
    assert_eq!(
        rules(&ad(&[("path", None), ("name", Some("A"))])),
        ["R-DIS.9"]
    );
    let msg = validate(&ad(&[("path", Some("/"))]))[0].to_string();
    assert!(
        msg.contains("no `name` key") && msg.contains("R-DIS.10"),
        "{msg}"
    );
}

#[test]
fn instance_name_must_be_an_endpoint_id() {
    let mut a = ad(&[("path", Some("/")), ("name", Some("A"))]);
    a.instance = "My Agent".into();
    let p = validate(&a);
    assert_eq!(p[0].rule, "R-DIS.8");
    assert!(p[0].detail.contains("R-ARC.2a"), "{}", p[0].detail);
}

#[test]
fn encrypt_is_a_boolean_key_and_must_match_the_port() {
    let base = [("path", Some("/")), ("name", Some("A"))];
    let mut valued = ad(&[base[0], base[1], ("encrypt", Some("1"))]);
    assert_eq!(rules(&valued), ["R-DIS.11a"]);
    valued.txt.insert("encrypt".into(), None);
    valued.tls_observed = Some(false);
    assert_eq!(rules(&valued), ["R-DIS.11a"]);
    let mut plain = ad(&base);
    plain.tls_observed = Some(true);
    assert_eq!(rules(&plain), ["R-DIS.11a"]);
}

#[test]
fn a_websocket_advertisement_becomes_a_target_file_run_accepts() {
    let a = ad(&[("path", Some("/usp")), ("name", Some("Ref \"Agent\""))]);
    let yaml = target_file(&a).unwrap();
    let t = Target::parse(&yaml, "discovered.yaml").unwrap();
    assert_eq!(
        t.agent_endpoint_id.as_deref(),
        Some("proto::plugfest-reference-agent")
    );
    assert!(yaml.contains("url: ws://127.0.0.1:5684/usp"), "{yaml}");
    let mut secure = a.clone();
    secure.txt.insert("encrypt".into(), None);
    assert!(target_file(&secure).unwrap().contains("wss://"));
    let mut mqtt = a;
    mqtt.service_type = "_usp-agt-mqtt._tcp.local.".into();
    assert!(target_file(&mqtt).is_none());
}

#[test]
fn a_controller_is_reached_where_its_path_and_encrypt_say() {
    let mut ctr = ad(&[("path", Some("usp-controller"))]);
    ctr.service_type = crate::discovery::WS_CONTROLLER_SERVICE.into();
    assert_eq!(
        controller_url(&ctr).unwrap(),
        "ws://127.0.0.1:5684/usp-controller"
    );
    ctr.txt.insert("encrypt".into(), None);
    assert_eq!(
        controller_url(&ctr).unwrap(),
        "wss://127.0.0.1:5684/usp-controller"
    );
}

#[test]
fn a_controller_without_path_cannot_be_used() {
    for txt in [vec![], vec![("path", None)]] {
        let problem = controller_url(&ad(&txt)).unwrap_err();
        assert_eq!(problem.rule, "R-DIS.11");
        assert!(problem.detail.contains("no `path` value"), "{problem}");
    }
}

#[test]
fn a_controller_needs_path_but_not_name() {
    let mut c = ad(&[("path", Some("/usp-controller"))]);
    c.service_type = crate::discovery::WS_CONTROLLER_SERVICE.into();
    c.instance = "proto::plugfest-controller".into();
    assert!(validate_controller(&c).is_empty());
    assert!(validate_any(&c).is_empty());
    // The Agent rules would want `name`; a Controller's do not.
    assert_eq!(
        validate(&c).iter().map(|p| p.rule).collect::<Vec<_>>(),
        ["R-DIS.10"]
    );
    c.txt.clear();
    c.instance = "plugfest controller".into();
    c.tls_observed = Some(true);
    let got: Vec<&str> = validate_any(&c).iter().map(|p| p.rule).collect();
    assert_eq!(got, ["R-DIS.8", "R-DIS.11", "R-DIS.11a"]);
    assert!(validate_any(&c)[0]
        .detail
        .contains("Controller's Endpoint ID"));
}
