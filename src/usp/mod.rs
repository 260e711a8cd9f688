pub mod proto {
    pub mod msg {
        include!(concat!(env!("OUT_DIR"), "/usp.rs"));
    }
    pub mod record {
        include!(concat!(env!("OUT_DIR"), "/usp_record.rs"));
    }
}
