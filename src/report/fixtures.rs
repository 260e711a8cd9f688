//! A run and a case for the report modules' tests.

use crate::results::{CaseResult, Counts, RunResult, Verdict};

pub fn run() -> RunResult {
    RunResult {
        plan_timings: false,
        tool: "usp-plugfest test".into(),
        started_at: "2026-01-01T00:00:00.000Z".into(),
        target: "agent".into(),
        mtp: "WebSocket".into(),
        connection: "ws://127.0.0.1:1/".into(),
        controller_endpoint_id: "proto::c".into(),
        agent_endpoint_id: None,
        tls: None,
        complete: false,
        counts: Counts::default(),
        cases: Vec::new(),
        journaled: 0,
        input_problems: Vec::new(),
    }
}

pub fn case(id: &str, verdict: Verdict) -> CaseResult {
    CaseResult {
        id: id.into(),
        title: format!("case {id}"),
        suite: "s".into(),
        location: "s.yaml:1:1".into(),
        profile: None,
        tp469: None,
        requirement: None,
        verdict,
        started_at: "2026-01-01T00:00:00.000Z".into(),
        duration_ms: 1,
        message: String::new(),
        steps: Vec::new(),
        trace: Vec::new(),
    }
}
