//! TR-106 value checks for values a Controller writes (Set, Add): a value of the
//! wrong lexical type is 7011 (Invalid type), an out-of-range/enum/length one 7012.

use super::model::ParamDef;
use crate::usp::errors;

/// A rejected value: the USP error code and a message for err_msg.
pub type ValueError = (u32, String);

pub fn check_value(def: &ParamDef, value: &str) -> Result<(), ValueError> {
    if def.list {
        if value.is_empty() {
            return Ok(());
        }
        return value
            .split(',')
            .try_for_each(|item| check_scalar(def, item.trim()));
    }
    check_scalar(def, value)
}

fn check_scalar(def: &ParamDef, value: &str) -> Result<(), ValueError> {
    let bad_type = || {
        Err((
            errors::INVALID_TYPE,
            format!(
                "\"{value}\" is not a valid {} for {}",
                def.value_type, def.name
            ),
        ))
    };
    let number: Option<i128> = match def.value_type.as_str() {
        "boolean" => {
            if !matches!(value, "true" | "false" | "1" | "0") {
                return bad_type();
            }
            None
        }
        "unsignedInt" | "unsignedLong" | "int" | "long" => {
            let (lo, hi): (i128, i128) = match def.value_type.as_str() {
                "unsignedInt" => (0, u32::MAX.into()),
                "unsignedLong" => (0, u64::MAX.into()),
                "int" => (i32::MIN.into(), i32::MAX.into()),
                _ => (i64::MIN.into(), i64::MAX.into()),
            };
            match value.parse::<i128>() {
                Ok(n) if n >= lo && n <= hi => Some(n),
                _ => return bad_type(),
            }
        }
        "dateTime" => {
            if chrono::DateTime::parse_from_rfc3339(value).is_err() {
                return bad_type();
            }
            None
        }
        "hexBinary" => {
            if value.len() % 2 != 0 || !value.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad_type();
            }
            None
        }
        "base64" => {
            let ok = value.len() % 4 == 0
                && value
                    .trim_end_matches('=')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
            if !ok {
                return bad_type();
            }
            None
        }
        _ => None,
    };
    let bad_value = |why: String| Err((errors::INVALID_VALUE, format!("{}: {why}", def.name)));
    if let Some(n) = number {
        if def.min.is_some_and(|m| n < m.into()) || def.max.is_some_and(|m| n > m.into()) {
            return bad_value(format!("{n} is out of range"));
        }
    }
    if def.max_len.is_some_and(|m| value.chars().count() > m) {
        return bad_value(format!(
            "longer than {} characters",
            def.max_len.unwrap_or(0)
        ));
    }
    if !def.enumeration.is_empty() && !def.enumeration.iter().any(|e| e == value) {
        return bad_value(format!(
            "\"{value}\" is not one of {}",
            def.enumeration.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::model::SupportedDm;

    #[test]
    fn type_errors_are_7011_and_value_errors_7012() {
        let dm = SupportedDm::builtin();
        let sub = dm.object("Device.LocalAgent.Subscription.{i}.").unwrap();
        let p = |n: &str| sub.param(n).unwrap();
        assert_eq!(check_value(p("Enable"), "yes").unwrap_err().0, 7011);
        assert!(check_value(p("Enable"), "1").is_ok());
        assert_eq!(check_value(p("TimeToLive"), "-1").unwrap_err().0, 7011);
        assert_eq!(check_value(p("NotifType"), "Bogus").unwrap_err().0, 7012);
        assert!(check_value(p("NotifType"), "ValueChange").is_ok());
        assert_eq!(check_value(p("ID"), &"x".repeat(65)).unwrap_err().0, 7012);
        let ws = dm.object("Device.LocalAgent.MTP.{i}.CoAP.").unwrap();
        assert_eq!(
            check_value(ws.param("Port").unwrap(), "70000")
                .unwrap_err()
                .0,
            7012
        );
        assert!(check_value(ws.param("Port").unwrap(), "443").is_ok());
    }
}
