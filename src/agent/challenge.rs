//! DRAFT-Challenge:1: `ControllerTrust.RequestChallenge()` hands out a single-use
//! ChallengeID that expires; `ChallengeResponse()` checks the Value against the
//! Challenge row's (hidden) Value.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::model::Model;
use crate::usp::errors;

const DEFAULT_EXPIRATION_SECS: u64 = 900;
const TABLE: &str = "Device.LocalAgent.ControllerTrust.Challenge.";

type Failure = (u32, String);

struct Issued {
    challenge: String,
    expires: Instant,
}

#[derive(Default)]
pub struct Challenges {
    issued: BTreeMap<String, Issued>,
    next: u64,
}

impl Challenges {
    /// RequestChallenge(): output Instruction, InstructionType, ValueType, ChallengeID.
    pub fn request(
        &mut self,
        model: &Model,
        args: &BTreeMap<String, String>,
        now: Instant,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let reference = args.get("ChallengeRef").map(|s| s.trim()).unwrap_or("");
        if reference.is_empty() {
            // R-OPR.5: missing mandatory input argument.
            return Err((
                errors::INVALID_COMMAND_ARGS,
                "RequestChallenge(): the mandatory ChallengeRef argument is missing".into(),
            ));
        }
        let row = format!("{}.", reference.trim_end_matches('.'));
        if !row.starts_with(TABLE) || !model.objects().contains_key(&row) {
            return Err((
                errors::OBJECT_DOES_NOT_EXIST,
                format!("ChallengeRef {reference} names no Challenge row"),
            ));
        }
        let secs = match args.get("RequestExpiration").map(|s| s.trim()) {
            None | Some("") => DEFAULT_EXPIRATION_SECS,
            Some(s) => s.parse::<u64>().map_err(|_| {
                (
                    errors::INVALID_COMMAND_ARGS,
                    format!("RequestExpiration \"{s}\" is not a number of seconds"),
                )
            })?,
        };
        self.next += 1;
        let id = format!("challenge-{}", self.next);
        self.issued.insert(
            id.clone(),
            Issued {
                challenge: row.clone(),
                expires: now + Duration::from_secs(secs),
            },
        );
        let v = |n: &str| model.value(&row, n).unwrap_or_default();
        Ok([
            ("Instruction", v("Instruction")),
            ("InstructionType", v("InstructionType")),
            ("ValueType", v("ValueType")),
            ("ChallengeID", id),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect())
    }

    /// ChallengeResponse(): Status Success or InvalidValue; an unknown, used or expired
    /// ChallengeID is a cmd_failure. `accept_anything` is the challenge-accepts-anything fault.
    pub fn respond(
        &mut self,
        model: &Model,
        args: &BTreeMap<String, String>,
        now: Instant,
        accept_anything: bool,
    ) -> Result<BTreeMap<String, String>, Failure> {
        let id = args.get("ChallengeID").map(String::as_str).unwrap_or("");
        let Some(value) = args.get("Value") else {
            return Err((
                errors::INVALID_COMMAND_ARGS,
                "ChallengeResponse(): the mandatory Value argument is missing".into(),
            ));
        };
        // Single use: the ID is gone whatever the outcome.
        let issued = self
            .issued
            .remove(id)
            .filter(|i| now < i.expires)
            .ok_or_else(|| {
                (
                    errors::INVALID_ARGUMENTS,
                    format!("ChallengeID \"{id}\" is unknown, used or expired"),
                )
            })?;
        let right = model
            .raw_value(&issued.challenge, "Value")
            .unwrap_or_default();
        let status = if accept_anything || value.trim() == right {
            "Success"
        } else {
            "InvalidValue"
        };
        Ok([("Status".to_string(), status.to_string())].into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn right_value_succeeds_once_and_ids_expire() {
        let m = Model::new("proto::a");
        let mut c = Challenges::default();
        let t0 = Instant::now();
        let r = args(&[(
            "ChallengeRef",
            "Device.LocalAgent.ControllerTrust.Challenge.1",
        )]);
        let out = c.request(&m, &r, t0).unwrap();
        assert_eq!(out["InstructionType"], "text/plain");
        let id = out["ChallengeID"].clone();
        let ok = c
            .respond(
                &m,
                &args(&[("ChallengeID", &id), ("Value", "cGx1Z2Zlc3Q=")]),
                t0,
                false,
            )
            .unwrap();
        assert_eq!(ok["Status"], "Success");
        // Used: a second answer with the same ID fails.
        assert!(c
            .respond(
                &m,
                &args(&[("ChallengeID", &id), ("Value", "cGx1Z2Zlc3Q=")]),
                t0,
                false
            )
            .is_err());
        let id2 = c.request(&m, &r, t0).unwrap()["ChallengeID"].clone();
        let bad = c
            .respond(
                &m,
                &args(&[("ChallengeID", &id2), ("Value", "d3Jvbmc=")]),
                t0,
                false,
            )
            .unwrap();
        assert_eq!(bad["Status"], "InvalidValue");
        let short = args(&[
            (
                "ChallengeRef",
                "Device.LocalAgent.ControllerTrust.Challenge.1",
            ),
            ("RequestExpiration", "1"),
        ]);
        let id3 = c.request(&m, &short, t0).unwrap()["ChallengeID"].clone();
        assert!(c
            .respond(
                &m,
                &args(&[("ChallengeID", &id3), ("Value", "cGx1Z2Zlc3Q=")]),
                t0 + Duration::from_secs(1),
                false
            )
            .is_err());
    }

    #[test]
    fn the_fault_accepts_a_wrong_value_and_unknown_refs_fail() {
        let m = Model::new("proto::a");
        let mut c = Challenges::default();
        let t0 = Instant::now();
        let r = args(&[(
            "ChallengeRef",
            "Device.LocalAgent.ControllerTrust.Challenge.1.",
        )]);
        let id = c.request(&m, &r, t0).unwrap()["ChallengeID"].clone();
        let out = c
            .respond(
                &m,
                &args(&[("ChallengeID", &id), ("Value", "d3Jvbmc=")]),
                t0,
                true,
            )
            .unwrap();
        assert_eq!(out["Status"], "Success");
        let unknown = args(&[(
            "ChallengeRef",
            "Device.LocalAgent.ControllerTrust.Challenge.9",
        )]);
        assert_eq!(c.request(&m, &unknown, t0).unwrap_err().0, 7016);
        assert_eq!(c.request(&m, &args(&[]), t0).unwrap_err().0, 7027);
    }
}
