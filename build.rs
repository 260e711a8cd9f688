//! Compiles the USP protobuf schemas in `proto/` with protox (a pure-Rust
//! protobuf compiler), so building needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schemas = ["proto/usp-record-1-4.proto", "proto/usp-msg-1-4.proto"];
    for schema in schemas {
        println!("cargo:rerun-if-changed={schema}");
    }
    let descriptors = protox::compile(schemas, ["proto"])?;
    // BTreeMap keeps map fields (result_params, unique_keys, ...) in a stable
    // order, so traces and reports are reproducible run to run.
    prost_build::Config::new()
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
