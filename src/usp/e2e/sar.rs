//! Payload segmentation and reassembly (SAR) for SessionContextRecords.
//! Rules (spec "SAR", see `super::RULE_SAR`): a payload that fits one Record
//! goes with `payload_sar_state = NONE`; otherwise the first Record says
//! BEGIN, the middle ones INPROCESS and the last COMPLETE. With PLAINTEXT
//! payload security `payloadrec_sar_state` equals `payload_sar_state`. The
//! receiver concatenates the payloads in sequence_id order once COMPLETE.

use thiserror::Error;

use crate::usp::proto::record::session_context_record::PayloadSarState;

/// The four SAR states (proto enum `PayloadSARState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SarState {
    None,
    Begin,
    InProcess,
    Complete,
}

impl SarState {
    pub fn wire(self) -> i32 {
        match self {
            SarState::None => PayloadSarState::None as i32,
            SarState::Begin => PayloadSarState::Begin as i32,
            SarState::InProcess => PayloadSarState::Inprocess as i32,
            SarState::Complete => PayloadSarState::Complete as i32,
        }
    }

    pub fn from_wire(v: i32) -> Option<SarState> {
        match PayloadSarState::try_from(v).ok()? {
            PayloadSarState::None => Some(SarState::None),
            PayloadSarState::Begin => Some(SarState::Begin),
            PayloadSarState::Inprocess => Some(SarState::InProcess),
            PayloadSarState::Complete => Some(SarState::Complete),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SarState::None => "NONE",
            SarState::Begin => "BEGIN",
            SarState::InProcess => "INPROCESS",
            SarState::Complete => "COMPLETE",
        }
    }
}

/// Splits `payload` into pieces of at most `max` bytes (0 = no limit), each
/// with its SAR state. An empty payload is one NONE piece (a session may be
/// started with an empty payload, R-E2E.3).
pub fn segment(payload: &[u8], max: usize) -> Vec<(SarState, Vec<u8>)> {
    if max == 0 || payload.len() <= max {
        return vec![(SarState::None, payload.to_vec())];
    }
    let chunks: Vec<&[u8]> = payload.chunks(max).collect();
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let state = match i {
                0 => SarState::Begin,
                i if i == last => SarState::Complete,
                _ => SarState::InProcess,
            };
            (state, c.to_vec())
        })
        .collect()
}

/// A SAR state that breaks the BEGIN → INPROCESS* → COMPLETE order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SarError {
    #[error("payload_sar_state {0} is not a PayloadSARState (NONE=0..COMPLETE=3)")]
    Unknown(i32),
    #[error("payloadrec_sar_state {rec} differs from payload_sar_state {payload}; with PLAINTEXT they must be equal")]
    StatesDiffer {
        payload: &'static str,
        rec: &'static str,
    },
    #[error(
        "{got} while no segmented payload is in progress (a segmented payload starts with BEGIN)"
    )]
    NotStarted { got: &'static str },
    #[error("{got} while a segmented payload begun {segments} segment(s) earlier is still in progress (its COMPLETE is missing)")]
    Unfinished { got: &'static str, segments: usize },
    #[error(
        "a PLAINTEXT SessionContextRecord carries {0} payload elements; exactly one is allowed"
    )]
    PayloadCount(usize),
}

/// Reassembles one payload at a time from in-order Records.
#[derive(Debug, Default, Clone)]
pub struct Reassembler {
    /// Bytes of the payload in progress; `None` when none is.
    partial: Option<Vec<u8>>,
    segments: usize,
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a segmented payload has begun and not completed.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// How many segments the payload in progress has so far.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// Forgets the payload in progress (session restart).
    pub fn reset(&mut self) {
        self.partial = None;
        self.segments = 0;
    }

    /// Takes the next in-order Record's SAR states and payload elements;
    /// returns the whole payload when it is complete. On an error the
    /// payload in progress is dropped (it cannot be trusted).
    pub fn push(
        &mut self,
        payload_sar: i32,
        payloadrec_sar: i32,
        payload: &[Vec<u8>],
    ) -> Result<Option<Vec<u8>>, SarError> {
        let result = self.push_inner(payload_sar, payloadrec_sar, payload);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn push_inner(
        &mut self,
        payload_sar: i32,
        payloadrec_sar: i32,
        payload: &[Vec<u8>],
    ) -> Result<Option<Vec<u8>>, SarError> {
        let state = SarState::from_wire(payload_sar).ok_or(SarError::Unknown(payload_sar))?;
        let rec = SarState::from_wire(payloadrec_sar).ok_or(SarError::Unknown(payloadrec_sar))?;
        if rec != state {
            return Err(SarError::StatesDiffer {
                payload: state.name(),
                rec: rec.name(),
            });
        }
        // An empty Record (e.g. a pure retransmit request) carries nothing.
        if payload.len() > 1 {
            return Err(SarError::PayloadCount(payload.len()));
        }
        let bytes = payload.first().map(Vec::as_slice).unwrap_or(&[]);
        match (state, self.partial.as_mut()) {
            (SarState::None, None) => Ok(Some(bytes.to_vec())),
            (SarState::Begin, None) => {
                self.partial = Some(bytes.to_vec());
                self.segments = 1;
                Ok(None)
            }
            (SarState::InProcess, Some(p)) => {
                p.extend_from_slice(bytes);
                self.segments += 1;
                Ok(None)
            }
            (SarState::Complete, Some(p)) => {
                p.extend_from_slice(bytes);
                let whole = std::mem::take(p);
                self.reset();
                Ok(Some(whole))
            }
            (SarState::InProcess | SarState::Complete, None) => {
                Err(SarError::NotStarted { got: state.name() })
            }
            (SarState::None | SarState::Begin, Some(_)) => Err(SarError::Unfinished {
                got: state.name(),
                segments: self.segments,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reassemble(pieces: &[(SarState, Vec<u8>)]) -> Result<Option<Vec<u8>>, SarError> {
        let mut r = Reassembler::new();
        let mut out = None;
        for (s, p) in pieces {
            out = r.push(s.wire(), s.wire(), std::slice::from_ref(p))?;
        }
        Ok(out)
    }

    #[test]
    fn small_payload_is_one_none_record() {
        assert_eq!(segment(b"abc", 3), vec![(SarState::None, b"abc".to_vec())]);
        assert_eq!(segment(b"", 3), vec![(SarState::None, Vec::new())]);
        assert_eq!(segment(b"abcdef", 0).len(), 1);
    }

    #[test]
    fn large_payload_is_begin_inprocess_complete() {
        let states: Vec<SarState> = segment(b"abcdefg", 3).into_iter().map(|p| p.0).collect();
        assert_eq!(
            states,
            [SarState::Begin, SarState::InProcess, SarState::Complete]
        );
        let two: Vec<SarState> = segment(b"abcd", 3).into_iter().map(|p| p.0).collect();
        assert_eq!(two, [SarState::Begin, SarState::Complete]);
    }

    #[test]
    fn missing_complete_is_detected_at_the_next_payload() {
        let mut r = Reassembler::new();
        assert_eq!(r.push(1, 1, &[b"ab".to_vec()]), Ok(None));
        assert_eq!(r.push(2, 2, &[b"cd".to_vec()]), Ok(None));
        assert!(r.in_progress());
        let err = r.push(1, 1, &[b"ef".to_vec()]).unwrap_err();
        assert_eq!(
            err,
            SarError::Unfinished {
                got: "BEGIN",
                segments: 2
            }
        );
        assert!(err.to_string().contains("COMPLETE is missing"));
    }

    #[test]
    fn bad_states_are_errors() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.push(3, 3, &[b"x".to_vec()]),
            Err(SarError::NotStarted { got: "COMPLETE" })
        );
        assert_eq!(r.push(7, 7, &[]), Err(SarError::Unknown(7)));
        assert!(matches!(
            r.push(0, 1, &[]),
            Err(SarError::StatesDiffer { .. })
        ));
        assert_eq!(
            r.push(0, 0, &[b"a".to_vec(), b"b".to_vec()]),
            Err(SarError::PayloadCount(2))
        );
        // After errors it accepts a well-formed payload again.
        assert_eq!(r.push(0, 0, &[b"ok".to_vec()]), Ok(Some(b"ok".to_vec())));
    }

    proptest! {
        #[test]
        fn segment_then_reassemble_returns_the_payload(
            payload in proptest::collection::vec(any::<u8>(), 0..2000),
            max in 1usize..300,
        ) {
            let pieces = segment(&payload, max);
            prop_assert!(pieces.iter().all(|(_, p)| p.len() <= max));
            prop_assert_eq!(reassemble(&pieces), Ok(Some(payload)));
        }
    }
}
