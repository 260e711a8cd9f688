//! Evaluates a step's expectation against the Msg that came back, producing
//! one `Check` per thing verified, readable without the YAML at hand.

use super::facts::{self, Facts};
use super::matchers::{CodeMatcher, CountMatcher};
use super::model::{Expect, NotifKind, OperOutcome, WaitSpec};
use super::profile_check;
use super::vars::Vars;
use crate::datamodel::{check_value, Profiles};
use crate::usp::errors;
use crate::usp::msg;
use crate::usp::proto::msg::{
    add_resp, delete_resp, notify, request::ReqType, response::RespType, set_resp, Msg,
};

/// The outcome of one verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub description: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
    /// The spec requirement or TP-469 metric behind the check.
    pub rule: Option<String>,
}

impl Check {
    pub fn new(
        description: impl Into<String>,
        passed: bool,
        expected: impl Into<String>,
        actual: impl Into<String>,
        rule: Option<&str>,
    ) -> Check {
        Check {
            description: description.into(),
            passed,
            expected: expected.into(),
            actual: actual.into(),
            rule: rule.map(str::to_string),
        }
    }
}

/// The rule cited by the automatic value-type checks.
const TYPE_RULE: &str = "R-ENC.6 (TR-106 lexical form)";

pub fn evaluate(expect: &Expect, response: &Msg, vars: &Vars, profiles: &Profiles) -> Vec<Check> {
    let rule = expect.rule.as_deref();
    let mut checks = Vec::new();
    let got = msg::body_type(response);
    let got_name = got.map(msg::type_name).unwrap_or("no body");
    if let Some(want) = expect.msg_type {
        let ok = got == Some(want.msg_type());
        let actual = match msg::error_body(response) {
            Some(e) if !ok => format!("ERROR {}: {:?}", errors::describe(e.err_code), e.err_msg),
            _ => got_name.to_string(),
        };
        checks.push(Check::new(
            "response type",
            ok,
            msg::type_name(want.msg_type()),
            actual,
            rule.or(Some("R-MSG.9")),
        ));
        if !ok {
            // Nothing else can be judged on a Msg of the wrong kind.
            return checks;
        }
    }
    let error = msg::error_body(response);
    if let Some(code) = &expect.err_code {
        let actual = error
            .map(|e| errors::describe(e.err_code))
            .unwrap_or_else(|| format!("{got_name} (not an Error)"));
        let ok = error.is_some_and(|e| code.matches(e.err_code));
        checks.push(Check::new(
            "Error err_code",
            ok,
            code.describe(),
            actual,
            rule,
        ));
    }
    if let Some(m) = &expect.err_msg {
        let actual = error.map(|e| e.err_msg.as_str());
        let r = m.check(actual, vars);
        checks.push(Check::new(
            "Error err_msg",
            r.is_ok(),
            m.describe(vars),
            r.err()
                .unwrap_or_else(|| actual.unwrap_or_default().to_string()),
            rule,
        ));
    }
    for pe in &expect.param_errs {
        let path = vars.substitute(&pe.path).unwrap_or_else(|e| e.to_string());
        let all: Vec<String> = error
            .map(|e| {
                e.param_errs
                    .iter()
                    .map(|p| format!("{} {}", p.param_path, errors::describe(p.err_code)))
                    .collect()
            })
            .unwrap_or_default();
        let found = error.and_then(|e| e.param_errs.iter().find(|p| p.param_path == path));
        let ok = found.is_some_and(|p| pe.err_code.as_ref().is_none_or(|c| c.matches(p.err_code)));
        let expected = match &pe.err_code {
            Some(c) => format!("ParamError {path} {}", c.describe()),
            None => format!("ParamError {path}"),
        };
        let actual = if all.is_empty() {
            "no param_errs".to_string()
        } else {
            all.join("; ")
        };
        checks.push(Check::new(
            format!("param_errs has {path}"),
            ok,
            expected,
            actual,
            rule,
        ));
    }
    let results = path_results(response);
    for pr in &expect.path_results {
        let path = vars.substitute(&pr.path).unwrap_or_else(|e| e.to_string());
        let found = results.iter().find(|r| r.path == path);
        let code = pr.err_code.clone().unwrap_or(CodeMatcher::is(0));
        let describe_code = |c: u32| {
            if c == 0 {
                "success (err_code 0)".to_string()
            } else {
                errors::describe(c)
            }
        };
        let expected = if pr.err_code.is_some() {
            code.describe()
        } else {
            describe_code(0)
        };
        let (ok, actual) = match found {
            None => (
                false,
                format!(
                    "no result for it; results for: {}",
                    results
                        .iter()
                        .map(|r| r.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(r) => (
                code.matches(r.err_code),
                format!("{} {:?}", describe_code(r.err_code), r.err_msg),
            ),
        };
        // 7026 for a path outside the data model is R-GET.0's rule.
        let prule = rule.or(if pr.err_code.is_some() {
            Some("R-GET.0")
        } else {
            None
        });
        checks.push(Check::new(
            format!("result for {path}"),
            ok,
            expected,
            actual,
            prule,
        ));
        if let (Some(want), Some(r)) = (&pr.resolved, found) {
            checks.push(count_check(
                &format!("resolved results for {path}"),
                want,
                r.resolved,
                rule,
            ));
        }
    }
    if let Some(count) = &expect.count {
        if let Some(w) = &count.path_results {
            checks.push(count_check(
                "requested path results",
                w,
                results.len(),
                rule,
            ));
        }
        if let Some(w) = &count.resolved {
            let n = results.iter().map(|r| r.resolved).sum();
            checks.push(count_check("resolved results", w, n, rule));
        }
        if let Some(w) = &count.params {
            checks.push(count_check(
                "parameters returned",
                w,
                facts::facts(response).len(),
                rule,
            ));
        }
    }
    if expect.oper.is_some() || expect.oper_err_code.is_some() {
        checks.extend(oper_checks(expect, response, rule));
    }
    let facts = facts::facts(response);
    for (pattern, m) in &expect.values {
        let pattern = vars.substitute(pattern).unwrap_or_else(|e| e.to_string());
        checks.push(value_check(&pattern, m, &facts, vars, rule));
    }
    if let Some(name) = &expect.profile {
        checks.extend(profile_check::check(&name.value, response, profiles));
    }
    checks.extend(type_checks(response, profiles));
    checks
}

fn count_check(what: &str, want: &CountMatcher, n: usize, rule: Option<&str>) -> Check {
    Check::new(
        format!("number of {what}"),
        want.matches(n),
        want.describe(),
        n.to_string(),
        rule,
    )
}

fn value_check(
    pattern: &str,
    m: &super::matchers::Matcher,
    facts: &Facts,
    vars: &Vars,
    rule: Option<&str>,
) -> Check {
    let hits = facts::lookup(facts, pattern);
    let expected = m.describe(vars);
    if hits.is_empty() {
        let r = m.check(None, vars);
        let actual = match r {
            Ok(()) if m.wants_absent() => "absent",
            Ok(()) => "no matching values",
            Err(_) => "not in the response",
        };
        return Check::new(
            pattern,
            m.wants_absent() || m.if_present,
            expected,
            actual,
            rule,
        );
    }
    let failures: Vec<String> = hits
        .iter()
        .filter_map(|(k, v)| m.check(Some(v), vars).err().map(|e| format!("{k}: {e}")))
        .collect();
    let actual = if failures.is_empty() {
        hits.iter()
            .map(|(k, v)| {
                if hits.len() == 1 {
                    format!("{v:?}")
                } else {
                    format!("{k} = {v:?}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        failures.join("; ")
    };
    Check::new(pattern, failures.is_empty(), expected, actual, rule)
}

/// Automatic checks: every GetResp value the profiles know must be valid for
/// its type. Passing ones collapse into one line; each failure is its own.
fn type_checks(response: &Msg, profiles: &Profiles) -> Vec<Check> {
    let Some(RespType::GetResp(_)) = msg::response_body(response) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut passed = Vec::new();
    for (path, value) in facts::facts(response) {
        let Some(ty) = profiles.param_type(&path) else {
            continue;
        };
        match check_value(ty, &value) {
            Ok(()) => passed.push(path),
            Err(e) => out.push(Check::new(
                format!("type of {path}"),
                false,
                ty.to_string(),
                format!("{value:?}: {e}"),
                Some(TYPE_RULE),
            )),
        }
    }
    if !passed.is_empty() {
        out.insert(
            0,
            Check::new(
                format!("{} values well-typed", passed.len()),
                true,
                "values valid for their TR-181 types",
                passed.join(", "),
                Some(TYPE_RULE),
            ),
        );
    }
    out
}

/// One per requested path: its err_code and how many results it resolved.
struct PathResult {
    path: String,
    err_code: u32,
    err_msg: String,
    resolved: usize,
}

fn path_results(response: &Msg) -> Vec<PathResult> {
    let pr = |path: &str, err_code, err_msg: &str, resolved| PathResult {
        path: path.to_string(),
        err_code,
        err_msg: err_msg.to_string(),
        resolved,
    };
    match msg::response_body(response) {
        Some(RespType::GetResp(r)) => r
            .req_path_results
            .iter()
            .map(|p| {
                pr(
                    &p.requested_path,
                    p.err_code,
                    &p.err_msg,
                    p.resolved_path_results.len(),
                )
            })
            .collect(),
        Some(RespType::GetInstancesResp(r)) => r
            .req_path_results
            .iter()
            .map(|p| {
                pr(
                    &p.requested_path,
                    p.err_code,
                    &p.err_msg,
                    p.curr_insts.len(),
                )
            })
            .collect(),
        Some(RespType::GetSupportedDmResp(r)) => r
            .req_obj_results
            .iter()
            .map(|p| {
                pr(
                    &p.req_obj_path,
                    p.err_code,
                    &p.err_msg,
                    p.supported_objs.len(),
                )
            })
            .collect(),
        _ => oper_results(response)
            .into_iter()
            .map(|o| pr(&o.path, o.err_code.unwrap_or(0), &o.err_msg, o.affected))
            .collect(),
    }
}

/// Per-object outcome of a Set/Add/Delete response.
struct OperResult {
    path: String,
    /// `None` on success.
    err_code: Option<u32>,
    err_msg: String,
    affected: usize,
}

fn oper_results(response: &Msg) -> Vec<OperResult> {
    let mut out = Vec::new();
    let mut push = |path: &str, err: Option<(u32, &str)>, affected| {
        out.push(OperResult {
            path: path.to_string(),
            err_code: err.map(|e| e.0),
            err_msg: err.map(|e| e.1.to_string()).unwrap_or_default(),
            affected,
        })
    };
    match msg::response_body(response) {
        Some(RespType::SetResp(r)) => {
            use set_resp::updated_object_result::operation_status::OperStatus as S;
            for u in &r.updated_obj_results {
                match u.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(s)) => {
                        push(&u.requested_path, None, s.updated_inst_results.len())
                    }
                    Some(S::OperFailure(f)) => {
                        push(&u.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&u.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        Some(RespType::AddResp(r)) => {
            use add_resp::created_object_result::operation_status::OperStatus as S;
            for c in &r.created_obj_results {
                match c.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(_)) => push(&c.requested_path, None, 1),
                    Some(S::OperFailure(f)) => {
                        push(&c.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&c.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        Some(RespType::DeleteResp(r)) => {
            use delete_resp::deleted_object_result::operation_status::OperStatus as S;
            for d in &r.deleted_obj_results {
                match d.oper_status.as_ref().and_then(|o| o.oper_status.as_ref()) {
                    Some(S::OperSuccess(s)) => {
                        push(&d.requested_path, None, s.affected_paths.len())
                    }
                    Some(S::OperFailure(f)) => {
                        push(&d.requested_path, Some((f.err_code, &f.err_msg)), 0)
                    }
                    None => push(&d.requested_path, Some((0, "no oper_status")), 0),
                }
            }
        }
        _ => {}
    }
    out
}

fn oper_checks(expect: &Expect, response: &Msg, rule: Option<&str>) -> Vec<Check> {
    let results = oper_results(response);
    let show = |r: &OperResult| match r.err_code {
        None => format!("{}: oper_success", r.path),
        Some(c) => format!(
            "{}: oper_failure {} {:?}",
            r.path,
            errors::describe(c),
            r.err_msg
        ),
    };
    let actual = if results.is_empty() {
        "no object results".to_string()
    } else {
        results.iter().map(show).collect::<Vec<_>>().join("; ")
    };
    let mut out = Vec::new();
    if let Some(want) = expect.oper {
        let ok = !results.is_empty()
            && results
                .iter()
                .all(|r| (r.err_code.is_none()) == (want == OperOutcome::Success));
        let expected = match want {
            OperOutcome::Success => "every object oper_success",
            OperOutcome::Failure => "every object oper_failure",
        };
        out.push(Check::new(
            "operation status",
            ok,
            expected,
            actual.clone(),
            rule,
        ));
    }
    if let Some(code) = &expect.oper_err_code {
        let ok = !results.is_empty()
            && results
                .iter()
                .all(|r| r.err_code.is_some_and(|c| code.matches(c)));
        out.push(Check::new(
            "oper_failure err_code",
            ok,
            code.describe(),
            actual,
            rule,
        ));
    }
    out
}

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
    let mut field = |what: &str, m: &Option<super::matchers::Matcher>, actual: Option<&str>| {
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
