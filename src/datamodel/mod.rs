//! The data model side of the harness: TR-181 profiles (what an Agent must
//! expose) and TR-106 type checks (what a value must look like).

pub mod profile;
pub mod types;

pub use profile::{
    normalize_path, Access, CommandReq, EventReq, ObjectReq, ObjectRequirement, ParamReq, Profile,
    ProfileError, Profiles,
};
pub use types::{check_base, check_value, BaseType, TypeSpec};
