//! Runs the real `plugfest` binary and reads what it wrote.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub results: Option<serde_json::Value>,
    pub junit: Option<String>,
}

pub fn plugfest(args: &[&str], out: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the plugfest binary starts");
    read_run(output, out)
}

pub fn plugfest_plain(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_plugfest"))
        .args(args)
        .output()
        .expect("the plugfest binary starts");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn read_run(output: std::process::Output, out: &Path) -> Run {
    let results = std::fs::read_to_string(out.join("results.json"))
        .ok()
        .map(|s| serde_json::from_str(&s).expect("results.json is JSON"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results,
        junit: std::fs::read_to_string(out.join("junit.xml")).ok(),
    }
}

impl Run {
    pub fn cases(&self) -> Vec<serde_json::Value> {
        self.results
            .as_ref()
            .and_then(|r| r["cases"].as_array().cloned())
            .unwrap_or_default()
    }

    pub fn verdicts(&self) -> Vec<(String, String)> {
        self.cases()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default().to_string(),
                    c["verdict"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Every failure message, one per line, for assertions and for the
    /// panic text when an assertion fails.
    pub fn failure_messages(&self) -> String {
        self.cases()
            .iter()
            .filter(|c| c["verdict"] != "passed")
            .map(|c| {
                format!(
                    "{}: {}",
                    c["id"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn explain(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}
