//! E2E session context (USP "E2E Message Exchange"): the sans-I/O state of
//! one SessionContextRecord conversation between a Controller and an Agent —
//! sequencing, retransmission and payload segmentation/reassembly (SAR).
//! No I/O: records in, events and records out. Used by both the harness
//! (src/session/e2e.rs) and the reference Agent's runtime.
//!
//! Rule names: the reference numbers only some E2E requirements (R-E2E.1, .3,
//! .6, .6a, .6b, .18/.19, .26). The sequencing and SAR rules of the spec's
//! "E2E Session Context" section carry no number there, so they are cited by
//! the constants below rather than by invented ids.

pub mod sar;
pub mod session;
pub mod tls;
pub mod tls12_records;

pub use sar::{segment, Reassembler, SarError, SarState};
pub use session::{E2eEvent, E2eSession, Violation};

/// Session establishment and restart (session_id chosen by the originator,
/// a different session_id restarts the context at sequence 1).
pub const RULE_SESSION: &str = "R-E2E.3/R-E2E.6 (session context establishment and restart)";
/// sequence_id starts at 1 and increments by 1 per Record; expected_id
/// acknowledges; a receiver buffers later Records and ignores earlier ones.
pub const RULE_SEQUENCE: &str = "E2E Session Context: sequence_id / expected_id (spec section 'E2E Session Context', unnumbered)";
/// retransmit_id asks the peer to resend one Record it still holds.
pub const RULE_RETRANSMIT: &str =
    "E2E Session Context: retransmit_id (spec section 'E2E Session Context', unnumbered)";
/// payload_sar_state / payloadrec_sar_state: NONE alone, else BEGIN,
/// INPROCESS..., COMPLETE; for PLAINTEXT both are equal.
pub const RULE_SAR: &str = "E2E Segmentation and Reassembly: payload_sar_state / payloadrec_sar_state (spec section 'SAR', unnumbered)";

use crate::usp::proto::record::{
    record::{PayloadSecurity, RecordType},
    Record, SessionContextRecord,
};

/// A PLAINTEXT Record carrying one SessionContextRecord.
pub fn record(from_id: &str, to_id: &str, sc: SessionContextRecord) -> Record {
    Record {
        version: crate::usp::record::USP_VERSION.to_string(),
        to_id: to_id.to_string(),
        from_id: from_id.to_string(),
        payload_security: PayloadSecurity::Plaintext as i32,
        mac_signature: Vec::new(),
        sender_cert: Vec::new(),
        record_type: Some(RecordType::SessionContext(sc)),
    }
}

/// The Msg in a reassembled payload, with the same checks as a
/// NoSessionContext payload (R-E2E.26 non-empty, header and body present).
pub fn payload_msg(
    payload: &[u8],
) -> Result<crate::usp::proto::msg::Msg, crate::usp::record::RecordError> {
    let wrapper = Record {
        record_type: Some(RecordType::NoSessionContext(
            crate::usp::proto::record::NoSessionContextRecord {
                payload: payload.to_vec(),
            },
        )),
        ..Default::default()
    };
    crate::usp::record::payload_msg(&wrapper)
}
