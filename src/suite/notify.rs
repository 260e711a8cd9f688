//! Judging a Notify against a `wait_notify` step.

use super::expect::Check;
use super::matchers::Matcher;
use super::model::{NotifKind, WaitSpec};
use super::vars::Vars;
use crate::usp::msg;
use crate::usp::proto::msg::{notify, request::ReqType, Msg};

/// (path, new value, event/command name, command_key, arguments) of a Notify.
type NotifParts<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Vec<(&'a String, &'a String)>,
);

/// Checks a Notify against a `wait_notify` step.
pub fn evaluate_notify(wait: &WaitSpec, notify_msg: &Msg, vars: &Vars) -> Vec<Check> {
    use notify::Notification as N;
    let mut checks = Vec::new();
    let Some(ReqType::Notify(n)) = msg::request_body(notify_msg) else {
        let got = msg::body_type(notify_msg)
            .map(msg::type_name)
            .unwrap_or("no body");
        checks.push(Check::new("Msg is a Notify", false, "NOTIFY", got, None));
        return checks;
    };
    let kind = match &n.notification {
        Some(N::ValueChange(_)) => Some(NotifKind::ValueChange),
        Some(N::ObjCreation(_)) => Some(NotifKind::ObjectCreation),
        Some(N::ObjDeletion(_)) => Some(NotifKind::ObjectDeletion),
        Some(N::Event(_)) => Some(NotifKind::Event),
        Some(N::OperComplete(_)) => Some(NotifKind::OperationComplete),
        Some(N::OnBoardReq(_)) => Some(NotifKind::OnBoardRequest),
        None => None,
    };
    let ok = kind == Some(wait.kind);
    checks.push(Check::new(
        "notification type",
        ok,
        format!("{:?}", wait.kind),
        kind.map(|k| format!("{k:?}")).unwrap_or("none".into()),
        Some("R-NOT.0a"),
    ));
    if !ok {
        return checks;
    }
    let (path, value, name, key, args): NotifParts = match &n.notification {
        Some(N::ValueChange(v)) => (&v.param_path, Some(&v.param_value), None, None, vec![]),
        Some(N::ObjCreation(c)) => (
            &c.obj_path,
            None,
            None,
            None,
            c.unique_keys.iter().collect(),
        ),
        Some(N::ObjDeletion(d)) => (&d.obj_path, None, None, None, vec![]),
        Some(N::Event(e)) => (
            &e.obj_path,
            None,
            Some(&e.event_name),
            None,
            e.params.iter().collect(),
        ),
        Some(N::OperComplete(o)) => {
            let args = match &o.operation_resp {
                Some(notify::operation_complete::OperationResp::ReqOutputArgs(a)) => {
                    a.output_args.iter().collect()
                }
                _ => vec![],
            };
            (
                &o.obj_path,
                None,
                Some(&o.command_name),
                Some(&o.command_key),
                args,
            )
        }
        _ => ("", None, None, None, vec![]),
    };
    let mut field = |what: &str, m: &Option<Matcher>, actual: Option<&str>| {
        if let Some(m) = m {
            let r = m.check(actual, vars);
            let shown = r
                .clone()
                .err()
                .unwrap_or_else(|| format!("{:?}", actual.unwrap_or_default()));
            checks.push(Check::new(what, r.is_ok(), m.describe(vars), shown, None));
        }
    };
    field("notification path", &wait.path, Some(path));
    field("new value", &wait.value, value);
    field("event/command name", &wait.name, name);
    field("command_key", &wait.command_key, key);
    field(
        "subscription_id",
        &wait.subscription_id,
        Some(&n.subscription_id),
    );
    for (k, m) in &wait.args {
        let actual = args.iter().find(|(a, _)| *a == k).map(|(_, v)| v.as_str());
        let r = m.check(actual, vars);
        let shown = r
            .clone()
            .err()
            .unwrap_or_else(|| format!("{:?}", actual.unwrap_or_default()));
        checks.push(Check::new(
            format!("argument {k}"),
            r.is_ok(),
            m.describe(vars),
            shown,
            None,
        ));
    }
    checks
}
