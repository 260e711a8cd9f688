//! USP error codes (TR-369 "Error Codes" table) and their names, so every
//! report shows `7026 (Invalid path)` rather than a bare number.

pub const MESSAGE_FAILED: u32 = 7000;
pub const MESSAGE_NOT_SUPPORTED: u32 = 7001;
pub const REQUEST_DENIED: u32 = 7002;
pub const INTERNAL_ERROR: u32 = 7003;
pub const INVALID_ARGUMENTS: u32 = 7004;
pub const RESOURCES_EXCEEDED: u32 = 7005;
pub const PERMISSION_DENIED: u32 = 7006;
pub const INVALID_CONFIGURATION: u32 = 7007;
pub const INVALID_PATH_SYNTAX: u32 = 7008;
pub const PARAMETER_ACTION_FAILED: u32 = 7009;
pub const UNSUPPORTED_PARAMETER: u32 = 7010;
pub const INVALID_TYPE: u32 = 7011;
pub const INVALID_VALUE: u32 = 7012;
pub const PARAM_READ_ONLY: u32 = 7013;
pub const VALUE_CONFLICT: u32 = 7014;
pub const OPERATION_ERROR: u32 = 7015;
pub const OBJECT_DOES_NOT_EXIST: u32 = 7016;
pub const OBJECT_NOT_CREATED: u32 = 7017;
pub const NOT_A_TABLE: u32 = 7018;
pub const OBJECT_NOT_CREATABLE: u32 = 7019;
pub const OBJECT_NOT_UPDATED: u32 = 7020;
pub const REQUIRED_PARAM_FAILED: u32 = 7021;
pub const COMMAND_FAILURE: u32 = 7022;
pub const COMMAND_CANCELED: u32 = 7023;
pub const DELETE_FAILURE: u32 = 7024;
pub const DUPLICATE_UNIQUE_KEY: u32 = 7025;
pub const INVALID_PATH: u32 = 7026;
pub const INVALID_COMMAND_ARGS: u32 = 7027;
pub const REGISTER_FAILURE: u32 = 7028;
pub const ALREADY_IN_USE: u32 = 7029;
pub const DEREGISTER_FAILURE: u32 = 7030;
pub const PATH_ALREADY_REGISTERED: u32 = 7031;
pub const RECORD_NOT_PARSED: u32 = 7100;
pub const SECURE_SESSION_REQUIRED: u32 = 7101;
pub const SECURE_SESSION_NOT_SUPPORTED: u32 = 7102;
pub const SAR_NOT_SUPPORTED: u32 = 7103;
pub const INVALID_RECORD_VALUE: u32 = 7104;
pub const SESSION_CONTEXT_TERMINATED: u32 = 7105;
pub const SESSION_CONTEXT_NOT_ALLOWED: u32 = 7106;

/// The spec's name for an error code; ranges reserved for data models and
/// vendors are named as such.
pub fn error_name(code: u32) -> &'static str {
    match code {
        0 => "no error",
        MESSAGE_FAILED => "Message failed",
        MESSAGE_NOT_SUPPORTED => "Message not supported",
        REQUEST_DENIED => "Request denied",
        INTERNAL_ERROR => "Internal error",
        INVALID_ARGUMENTS => "Invalid arguments",
        RESOURCES_EXCEEDED => "Resources exceeded",
        PERMISSION_DENIED => "Permission denied",
        INVALID_CONFIGURATION => "Invalid configuration",
        INVALID_PATH_SYNTAX => "Invalid path syntax",
        PARAMETER_ACTION_FAILED => "Parameter action failed",
        UNSUPPORTED_PARAMETER => "Unsupported parameter",
        INVALID_TYPE => "Invalid type",
        INVALID_VALUE => "Invalid value",
        PARAM_READ_ONLY => "Attempt to update non-writeable parameter",
        VALUE_CONFLICT => "Value conflict",
        OPERATION_ERROR => "Operation error",
        OBJECT_DOES_NOT_EXIST => "Object does not exist",
        OBJECT_NOT_CREATED => "Object could not be created",
        NOT_A_TABLE => "Object is not a table",
        OBJECT_NOT_CREATABLE => "Attempt to create non-creatable object",
        OBJECT_NOT_UPDATED => "Object could not be updated",
        REQUIRED_PARAM_FAILED => "Required parameter failed",
        COMMAND_FAILURE => "Command failure",
        COMMAND_CANCELED => "Command canceled",
        DELETE_FAILURE => "Delete failure",
        DUPLICATE_UNIQUE_KEY => "Object exists with duplicate key",
        INVALID_PATH => "Invalid path",
        INVALID_COMMAND_ARGS => "Invalid command arguments",
        REGISTER_FAILURE => "Register failure",
        ALREADY_IN_USE => "Already in use",
        DEREGISTER_FAILURE => "Deregister failure",
        PATH_ALREADY_REGISTERED => "Path already registered",
        RECORD_NOT_PARSED => "Record could not be parsed",
        SECURE_SESSION_REQUIRED => "Secure session required",
        SECURE_SESSION_NOT_SUPPORTED => "Secure session not supported",
        SAR_NOT_SUPPORTED => "Segmentation and reassembly not supported",
        INVALID_RECORD_VALUE => "Invalid Record value",
        SESSION_CONTEXT_TERMINATED => "Session context terminated",
        SESSION_CONTEXT_NOT_ALLOWED => "Session context not allowed",
        7200..=7299 => "data-model-defined error",
        7800..=7999 => "vendor-defined error",
        _ => "unknown error code",
    }
}

/// `7026 (Invalid path)`: how a code is shown to people.
pub fn describe(code: u32) -> String {
    format!("{code} ({})", error_name(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_and_reserved_codes() {
        assert_eq!(describe(7026), "7026 (Invalid path)");
        assert_eq!(error_name(7250), "data-model-defined error");
        assert_eq!(error_name(7850), "vendor-defined error");
        assert_eq!(error_name(1234), "unknown error code");
    }
}
