//! The USP wire layer: generated protobuf types plus pure functions to build
//! and parse Records and Msgs. Nothing in here touches a socket.

pub mod certificate;
pub mod e2e;
pub mod endpoint_id;
pub mod errors;
pub mod msg;
pub mod record;

/// Types generated from `proto/` by prost (see build.rs).
pub mod proto {
    pub mod msg {
        include!(concat!(env!("OUT_DIR"), "/usp.rs"));
    }
    // prost names the Record's nested types `record::...` inside `record`.
    #[allow(clippy::module_inception)]
    pub mod record {
        include!(concat!(env!("OUT_DIR"), "/usp_record.rs"));
    }
}
