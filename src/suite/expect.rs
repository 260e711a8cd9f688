//! Evaluates a step's expectation against the Msg that came back, producing
//! one `Check` per thing verified, readable without the YAML at hand.

use super::facts::{self, Facts};
use super::matchers::{CodeMatcher, CountMatcher};
use super::model::{Expect, OperOutcome};
use super::profile_check;
use super::results::{oper_results, path_results, OperResult};
use super::vars::Vars;
use crate::datamodel::{check_value, Profiles};
use crate::usp::errors;
use crate::usp::msg;
use crate::usp::proto::msg::{response::RespType, Msg};

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
    if let (Some(allowed), Some(e)) = (&expect.error_allowed, msg::error_body(response)) {
        // The Error stands for the whole response: its code is all there
        // is to judge.
        let want = expect
            .msg_type
            .map_or("the response", |t| msg::type_name(t.msg_type()));
        checks.push(Check::new(
            "an Error in place of the response, which the test plan allows",
            allowed.err_code.matches(e.err_code),
            format!(
                "{want}, or an Error {} ({})",
                allowed.err_code.describe(),
                allowed.because
            ),
            format!("ERROR {}: {:?}", errors::describe(e.err_code), e.err_msg),
            rule.or(Some("R-MSG.9")),
        ));
        return checks;
    }
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
        let code = pr.err_code.clone().unwrap_or(CodeMatcher::is(0));
        // An Add through a search path has one result per matched table
        // under the same requested path: any one of them may be the one.
        let found = results
            .iter()
            .find(|r| r.path == path && code.matches(r.err_code))
            .or_else(|| results.iter().find(|r| r.path == path));
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
                // Several results under the path: name them all.
                results
                    .iter()
                    .filter(|o| o.path == path)
                    .map(|o| format!("{} {:?}", describe_code(o.err_code), o.err_msg))
                    .collect::<Vec<_>>()
                    .join("; "),
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
        // A waived item (TP-469 lets some Agents lack it) fails nothing;
        // the rest of the profile is judged as usual.
        let waived = |c: &Check| {
            !c.passed
                && expect
                    .profile_waives
                    .iter()
                    .any(|w| c.description.ends_with(&format!(" requires {w}")))
        };
        checks.extend(
            profile_check::check(&name.value, response, profiles)
                .into_iter()
                .filter(|c| !waived(c)),
        );
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

/// Automatic checks: every parameter value the profiles know must be valid
/// for its type — GetResp values, unique keys of GetInstancesResp and
/// AddResp, updated_params of SetResp. Passing ones collapse into one line;
/// each failure is its own.
fn type_checks(response: &Msg, profiles: &Profiles) -> Vec<Check> {
    let carries_values = matches!(
        msg::response_body(response),
        Some(
            RespType::GetResp(_)
                | RespType::GetInstancesResp(_)
                | RespType::AddResp(_)
                | RespType::SetResp(_)
        )
    );
    if !carries_values {
        return Vec::new();
    }
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
