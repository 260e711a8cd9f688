//! How an Add applies the sending Controller's Role (ControllerTrust:1),
//! and the trust faults that get it wrong: the refusal of a table the Role
//! may not create in (TP-469 2.23/2.24) and the Error an Add made only of
//! permission refusals becomes. The checks themselves run in `add_delete.rs`.

use super::failure::{ParamFailure, PathFailure};
use super::faults::{Fault, FaultSet};
use crate::usp::errors;
use crate::usp::proto::msg::{error::ParamError, Add, Error};

/// How an Add applies the sending Controller's Role, and the trust faults
/// that get it wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddTrust {
    /// Check Obj w on each table and Param w on each parameter (off with
    /// the `ignores-permissions` fault).
    pub enforce: bool,
    /// `add-permission-all-or-nothing`: any refusal refuses the whole Add.
    pub all_or_nothing: bool,
    /// `add-refuses-omitted-unwritable`: a writable parameter the Role may
    /// not write is refused even when the Add leaves it out.
    pub strict_omitted: bool,
    /// `added-role-ignored`: a Role created by Add is stored disabled.
    pub added_roles_disabled: bool,
    /// `added-permission-ignored`: a Permission created by Add is stored disabled.
    pub added_permissions_disabled: bool,
}

impl AddTrust {
    /// Enforced as the spec says, no fault.
    #[cfg(test)]
    pub const ENFORCE: AddTrust = AddTrust {
        enforce: true,
        all_or_nothing: false,
        strict_omitted: false,
        added_roles_disabled: false,
        added_permissions_disabled: false,
    };

    pub fn from_faults(faults: &FaultSet) -> AddTrust {
        AddTrust {
            enforce: !faults.contains(Fault::IgnoresPermissions),
            all_or_nothing: faults.contains(Fault::AddPermissionAllOrNothing),
            strict_omitted: faults.contains(Fault::AddRefusesOmittedUnwritable),
            added_roles_disabled: faults.contains(Fault::AddedRoleIgnored),
            added_permissions_disabled: faults.contains(Fault::AddedPermissionIgnored),
        }
    }
}

/// A table the Role gives no Obj w on: refused on its own, named by its path
/// (the ParamError of an allow_partial false Error, TP-469 2.24).
pub fn table_refused(table: &str) -> PathFailure {
    let msg = format!(
        "Permission denied: this Controller's Role has no permission to create instances (Obj w) of {table}"
    );
    PathFailure {
        code: errors::PERMISSION_DENIED,
        msg: msg.clone(),
        objects: vec![(
            table.to_string(),
            vec![ParamFailure {
                param: String::new(),
                code: errors::PERMISSION_DENIED,
                msg,
                required: true,
            }],
        )],
    }
}

/// An allow_partial false Error made of nothing but permission refusals is
/// a 7006 itself (TP-469 2.12, 2.24); any other stays as it is.
pub fn permission_error(mut e: Error) -> Error {
    if e.param_errs.is_empty()
        || e.param_errs
            .iter()
            .any(|p| p.err_code != errors::PERMISSION_DENIED)
    {
        return e;
    }
    e.err_code = errors::PERMISSION_DENIED;
    e.err_msg = format!(
        "Permission denied: this Controller's Role does not allow {}",
        e.param_errs
            .iter()
            .map(|p| p.param_path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    e
}

/// The `add-permission-all-or-nothing` fault's answer: the whole Add refused
/// with 7006, each requested path named, whatever allow_partial says.
pub fn whole_add_refused(req: &Add) -> Error {
    Error {
        err_code: errors::PERMISSION_DENIED,
        err_msg: "Permission denied: this Controller's Role does not allow this Add".into(),
        param_errs: req
            .create_objs
            .iter()
            .map(|c| ParamError {
                param_path: c.obj_path.clone(),
                err_code: errors::PERMISSION_DENIED,
                err_msg: "Permission denied".into(),
            })
            .collect(),
    }
}
