//! Judging a Notify against a `wait_notify` step.

use super::expect::Check;
use super::matchers::Matcher;
use super::model::{NotifKind, OperOutcome, WaitSpec};
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
    if let Some(N::OperComplete(o)) = &n.notification {
        oper_complete_outcome(wait, o, vars, &mut checks);
    }
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

/// OperationComplete: success (req_output_args) or cmd_failure, and the
/// failure's err_code / err_msg (R-OPR: an async command ends in one of the two).
fn oper_complete_outcome(
    wait: &WaitSpec,
    o: &notify::OperationComplete,
    vars: &Vars,
    checks: &mut Vec<Check>,
) {
    use notify::operation_complete::OperationResp as R;
    let failure = match &o.operation_resp {
        Some(R::CmdFailure(f)) => Some(f),
        _ => None,
    };
    let shown = match &o.operation_resp {
        Some(R::CmdFailure(f)) => format!("cmd_failure {} {:?}", f.err_code, f.err_msg),
        Some(R::ReqOutputArgs(_)) => "req_output_args".to_string(),
        None => "no operation_resp".to_string(),
    };
    if let Some(want) = wait.outcome {
        let ok = match want {
            OperOutcome::Success => matches!(o.operation_resp, Some(R::ReqOutputArgs(_))),
            OperOutcome::Failure => failure.is_some(),
        };
        let expected = match want {
            OperOutcome::Success => "req_output_args",
            OperOutcome::Failure => "cmd_failure",
        };
        checks.push(Check::new(
            "operation outcome",
            ok,
            expected,
            shown.clone(),
            None,
        ));
    }
    if let Some(code) = &wait.err_code {
        let ok = failure.is_some_and(|f| code.matches(f.err_code));
        checks.push(Check::new(
            "cmd_failure err_code",
            ok,
            code.describe(),
            shown.clone(),
            None,
        ));
    }
    if let Some(m) = &wait.err_msg {
        let actual = failure.map(|f| f.err_msg.as_str());
        let r = m.check(actual, vars);
        let ok = r.is_ok();
        checks.push(Check::new(
            "cmd_failure err_msg",
            ok,
            m.describe(vars),
            r.err().unwrap_or(shown),
            None,
        ));
    }
}
