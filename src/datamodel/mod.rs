//! The data model side of the harness: TR-181 profiles (what an Agent must
//! expose), the registry that loads and resolves them, the importer from BBF
//! data-model XML, and TR-106 type checks (what a value must look like).

pub mod import;
pub mod profile;
pub mod registry;
pub mod types;

pub use profile::{
    normalize_path, Access, CommandReq, EventReq, ObjectReq, ObjectRequirement, ParamReq, Profile,
};
pub use registry::{ProfileError, Profiles};
pub use types::{check_base, check_value, BaseType, Reference, TypeSpec};
