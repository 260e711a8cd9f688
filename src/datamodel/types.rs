//! TR-106 parameter types and the lexical checks USP values must pass
//! (R-ENC.6: every value travels as a string in its TR-106 lexical form).

use serde::Deserialize;
use std::fmt;

/// A TR-106 base data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BaseType {
    String,
    Boolean,
    UnsignedInt,
    Int,
    UnsignedLong,
    Long,
    Decimal,
    DateTime,
    Base64,
    HexBinary,
}

impl BaseType {
    pub fn name(self) -> &'static str {
        match self {
            BaseType::String => "string",
            BaseType::Boolean => "boolean",
            BaseType::UnsignedInt => "unsignedInt",
            BaseType::Int => "int",
            BaseType::UnsignedLong => "unsignedLong",
            BaseType::Long => "long",
            BaseType::Decimal => "decimal",
            BaseType::DateTime => "dateTime",
            BaseType::Base64 => "base64",
            BaseType::HexBinary => "hexBinary",
        }
    }
}

impl fmt::Display for BaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The syntax of a parameter: base type plus the facets TR-106 allows.
/// For a list, `max_length` limits the whole comma-separated string and the
/// other facets apply to every item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeSpec {
    #[serde(rename = "type")]
    pub base: BaseType,
    #[serde(default)]
    pub list: bool,
    #[serde(default)]
    pub min_length: Option<usize>,
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub enumeration: Vec<String>,
    /// A regular expression the whole value (or item) must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Inclusive numeric range for integer types.
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
    /// Lists: the maximum length of each item (TR-106 `<list/>` followed by
    /// `<string><size maxLength/>`; `max_length` is the whole list's).
    #[serde(default)]
    pub item_max_length: Option<usize>,
    /// A reference to rows of a table (TR-106 `pathRef targetType="row"`).
    #[serde(default)]
    pub reference: Option<Reference>,
}

/// What a path-reference parameter may point at.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Absolute table path the referenced rows live in, e.g.
    /// `Device.DeviceInfo.FirmwareImage.` (may hold `{i}`).
    pub target_parent: String,
    /// `strong` (cleared when the row goes) or `weak`; documentary.
    #[serde(default)]
    pub ref_type: Option<String>,
}

impl Reference {
    /// TR-106: a reference is "" (nothing referenced) or the path of a row,
    /// written without the trailing dot (a trailing dot is tolerated, as
    /// Agents differ). Relative parents (`#.`) are not checked.
    fn check(&self, value: &str) -> Result<(), String> {
        if value.is_empty() || !self.target_parent.starts_with("Device.") {
            return Ok(());
        }
        let mut re = String::from("^");
        for seg in self.target_parent.split("{i}") {
            if re.len() > 1 {
                re.push_str(r"\d+");
            }
            re.push_str(&regex::escape(seg));
        }
        re.push_str(r"\d+\.?$");
        let ok = regex::Regex::new(&re).is_ok_and(|r| r.is_match(value));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "not a reference to a row of {} (nor empty)",
                self.target_parent
            ))
        }
    }
}

impl TypeSpec {
    pub fn of(base: BaseType) -> TypeSpec {
        TypeSpec {
            base,
            list: false,
            min_length: None,
            max_length: None,
            enumeration: Vec::new(),
            pattern: None,
            min: None,
            max: None,
            item_max_length: None,
            reference: None,
        }
    }
}

impl fmt::Display for TypeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.list {
            f.write_str("list of ")?;
        }
        write!(f, "{}", self.base)?;
        match (self.min_length, self.max_length) {
            (Some(lo), Some(hi)) => write!(f, "({lo}:{hi})")?,
            (None, Some(hi)) => write!(f, "({hi})")?,
            (Some(lo), None) => write!(f, "({lo}:)")?,
            (None, None) => {}
        }
        if self.min.is_some() || self.max.is_some() {
            let lo = self.min.map(|v| v.to_string()).unwrap_or_default();
            let hi = self.max.map(|v| v.to_string()).unwrap_or_default();
            write!(f, "[{lo}:{hi}]")?;
        }
        if !self.enumeration.is_empty() {
            write!(f, " {{{}}}", self.enumeration.join(", "))?;
        }
        if let Some(p) = &self.pattern {
            write!(f, " pattern {p}")?;
        }
        if let Some(m) = self.item_max_length {
            write!(f, " items({m})")?;
        }
        if let Some(r) = &self.reference {
            write!(f, " reference to {}{{i}}", r.target_parent)?;
        }
        Ok(())
    }
}

/// Checks `value` against `ty`; the error says what is wrong in words.
pub fn check_value(ty: &TypeSpec, value: &str) -> Result<(), String> {
    if let Some(max) = ty.max_length.filter(|_| ty.list) {
        let len = value.chars().count();
        if len > max {
            return Err(format!("list is {len} characters long, more than {max}"));
        }
    }
    if ty.list {
        // TR-106: comma-separated, whitespace around items ignored; "" is the empty list.
        if value.trim().is_empty() {
            return Ok(());
        }
        for item in value.split(',') {
            let item = item.trim();
            check_item(ty, item, false).map_err(|e| format!("list item {item:?}: {e}"))?;
            if let Some(max) = ty.item_max_length {
                let len = item.chars().count();
                if len > max {
                    return Err(format!(
                        "list item {item:?} is {len} characters long, more than {max}"
                    ));
                }
            }
        }
        return Ok(());
    }
    check_item(ty, value, true)
}

fn check_item(ty: &TypeSpec, value: &str, apply_length: bool) -> Result<(), String> {
    check_base(ty.base, value)?;
    if let Some(r) = &ty.reference {
        r.check(value)?;
    }
    let len = value.chars().count();
    if apply_length {
        if let Some(max) = ty.max_length {
            if len > max {
                return Err(format!("{len} characters long, more than {max}"));
            }
        }
    }
    if let Some(min) = ty.min_length {
        if len < min {
            return Err(format!("{len} characters long, fewer than {min}"));
        }
    }
    if !ty.enumeration.is_empty() && !ty.enumeration.iter().any(|e| e == value) {
        return Err(format!("not one of {{{}}}", ty.enumeration.join(", ")));
    }
    if let Some(p) = &ty.pattern {
        let re = regex::Regex::new(&format!("^(?:{p})$"))
            .map_err(|e| format!("bad pattern {p:?} in the profile: {e}"))?;
        if !re.is_match(value) {
            return Err(format!("does not match the pattern {p}"));
        }
    }
    if ty.min.is_some() || ty.max.is_some() {
        // check_base has already proved it is an integer for integer types.
        if let Ok(n) = value.parse::<i128>() {
            if ty.min.is_some_and(|m| n < i128::from(m))
                || ty.max.is_some_and(|m| n > i128::from(m))
            {
                let lo = ty.min.map(|v| v.to_string()).unwrap_or_default();
                let hi = ty.max.map(|v| v.to_string()).unwrap_or_default();
                return Err(format!("outside the range [{lo}:{hi}]"));
            }
        }
    }
    Ok(())
}

/// The lexical form of one TR-106 base type.
pub fn check_base(base: BaseType, value: &str) -> Result<(), String> {
    let ok = match base {
        BaseType::String => true,
        // TR-106 allows 0/1 besides true/false.
        BaseType::Boolean => matches!(value, "true" | "false" | "0" | "1"),
        BaseType::UnsignedInt => is_digits(value) && value.parse::<u32>().is_ok(),
        BaseType::UnsignedLong => is_digits(value) && value.parse::<u64>().is_ok(),
        BaseType::Int => is_signed(value) && value.parse::<i32>().is_ok(),
        BaseType::Long => is_signed(value) && value.parse::<i64>().is_ok(),
        BaseType::Decimal => is_decimal(value),
        BaseType::DateTime => is_date_time(value),
        BaseType::Base64 => is_base64(value),
        BaseType::HexBinary => value.len() % 2 == 0 && value.chars().all(|c| c.is_ascii_hexdigit()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("not a valid {base}"))
    }
}

fn is_digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

fn is_signed(v: &str) -> bool {
    is_digits(v.strip_prefix('-').unwrap_or(v))
}

fn is_decimal(v: &str) -> bool {
    let v = v.strip_prefix('-').unwrap_or(v);
    match v.split_once('.') {
        Some((i, f)) => is_digits(i) && is_digits(f),
        None => is_digits(v),
    }
}

/// TR-106 dateTime: `YYYY-MM-DDThh:mm:ss[.fff]` with `Z`, an offset or no
/// zone (local time); `0001-01-01T00:00:00Z` is the Unknown Time.
fn is_date_time(v: &str) -> bool {
    let body = if let Some(b) = v.strip_suffix('Z') {
        b
    } else if v.len() > 6 && matches!(&v[v.len() - 6..v.len() - 5], "+" | "-") {
        let (b, zone) = v.split_at(v.len() - 6);
        if chrono::NaiveTime::parse_from_str(&format!("{}:00", &zone[1..]), "%H:%M:%S").is_err() {
            return false;
        }
        b
    } else {
        v
    };
    // Only the fixed-width form is valid (chrono alone accepts 1-digit fields).
    let shape = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$");
    shape.is_ok_and(|re| re.is_match(body))
        && chrono::NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

fn is_base64(v: &str) -> bool {
    let v: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if v.len() % 4 != 0 {
        return false;
    }
    let body = v.trim_end_matches('=');
    v.len() - body.len() <= 2
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ty: &TypeSpec, v: &str) -> bool {
        check_value(ty, v).is_ok()
    }

    #[test]
    fn integers() {
        let u = TypeSpec::of(BaseType::UnsignedInt);
        assert!(ok(&u, "0") && ok(&u, "4294967295"));
        assert!(!ok(&u, "4294967296") && !ok(&u, "-1") && !ok(&u, "not-a-number") && !ok(&u, ""));
        assert!(!ok(&u, "+5") && !ok(&u, " 5"));
        let i = TypeSpec::of(BaseType::Int);
        assert!(ok(&i, "-2147483648") && !ok(&i, "2147483648") && !ok(&i, "1.5"));
        let ul = TypeSpec::of(BaseType::UnsignedLong);
        assert!(ok(&ul, "18446744073709551615") && !ok(&ul, "18446744073709551616"));
        let l = TypeSpec::of(BaseType::Long);
        assert!(ok(&l, "-9223372036854775808") && !ok(&l, "9223372036854775808"));
    }

    #[test]
    fn ranges() {
        let mut port = TypeSpec::of(BaseType::UnsignedInt);
        port.min = Some(1);
        port.max = Some(65535);
        assert!(ok(&port, "443") && !ok(&port, "0") && !ok(&port, "65536"));
        let e = check_value(&port, "0").unwrap_err();
        assert!(e.contains("[1:65535]"), "{e}");
    }

    #[test]
    fn booleans() {
        let b = TypeSpec::of(BaseType::Boolean);
        for v in ["true", "false", "0", "1"] {
            assert!(ok(&b, v), "{v}");
        }
        for v in ["yes", "True", "", "2"] {
            assert!(!ok(&b, v), "{v}");
        }
    }

    #[test]
    fn date_times() {
        let d = TypeSpec::of(BaseType::DateTime);
        for v in [
            "0001-01-01T00:00:00Z",
            "2026-11-25T15:40:06Z",
            "2026-11-25T15:40:06.123Z",
            "2026-11-25T15:40:06+01:00",
            "2026-11-25T15:40:06",
        ] {
            assert!(ok(&d, v), "{v}");
        }
        for v in [
            "2026-13-01T00:00:00Z",
            "2026-1-1T0:0:0Z",
            "yesterday",
            "2026-11-25 15:40:06Z",
        ] {
            assert!(!ok(&d, v), "{v}");
        }
    }

    #[test]
    fn binary_and_decimal() {
        let b = TypeSpec::of(BaseType::Base64);
        assert!(ok(&b, "aGVsbG8=") && ok(&b, "") && !ok(&b, "aGVsbG8") && !ok(&b, "a*=="));
        let h = TypeSpec::of(BaseType::HexBinary);
        assert!(ok(&h, "00ff") && !ok(&h, "0ff") && !ok(&h, "zz"));
        let d = TypeSpec::of(BaseType::Decimal);
        assert!(ok(&d, "-1.25") && ok(&d, "3") && !ok(&d, "1.") && !ok(&d, "abc"));
    }

    #[test]
    fn strings_with_facets() {
        let mut s = TypeSpec::of(BaseType::String);
        s.max_length = Some(6);
        s.pattern = Some("[0-9A-F]{6}".into());
        assert!(ok(&s, "00256D"));
        assert!(check_value(&s, "00256d").unwrap_err().contains("pattern"));
        assert!(check_value(&s, "00256DA")
            .unwrap_err()
            .contains("more than 6"));
        let mut e = TypeSpec::of(BaseType::String);
        e.enumeration = vec!["WebSocket".into(), "MQTT".into()];
        assert!(ok(&e, "MQTT") && !ok(&e, "mqtt"));
    }

    #[test]
    fn lists() {
        let mut l = TypeSpec::of(BaseType::UnsignedInt);
        l.list = true;
        assert!(ok(&l, "") && ok(&l, "1, 2,3"));
        assert!(check_value(&l, "1,x").unwrap_err().contains("\"x\""));
        let mut s = TypeSpec::of(BaseType::String);
        s.list = true;
        s.max_length = Some(5);
        assert!(ok(&s, "a,b,c") && !ok(&s, "ab,cd,e"));
        let mut items = TypeSpec::of(BaseType::String);
        items.list = true;
        items.item_max_length = Some(3);
        assert!(ok(&items, "abc,de,fgh,ijk"));
        assert!(check_value(&items, "abc,defg")
            .unwrap_err()
            .contains("\"defg\""));
    }

    #[test]
    fn references() {
        let mut r = TypeSpec::of(BaseType::String);
        r.reference = Some(Reference {
            target_parent: "Device.DeviceInfo.FirmwareImage.".into(),
            ref_type: Some("strong".into()),
        });
        assert!(ok(&r, "") && ok(&r, "Device.DeviceInfo.FirmwareImage.2"));
        assert!(ok(&r, "Device.DeviceInfo.FirmwareImage.2."));
        for bad in [
            "Device.DeviceInfo.FirmwareImage.",
            "Device.DeviceInfo.FirmwareImage.x",
            "Device.LocalAgent.Controller.1",
            "FirmwareImage.1",
        ] {
            assert!(!ok(&r, bad), "{bad}");
        }
        let mut nested = TypeSpec::of(BaseType::String);
        nested.list = true;
        nested.reference = Some(Reference {
            target_parent: "Device.LocalAgent.Controller.{i}.MTP.".into(),
            ref_type: None,
        });
        assert!(ok(
            &nested,
            "Device.LocalAgent.Controller.1.MTP.2, Device.LocalAgent.Controller.3.MTP.1"
        ));
        assert!(!ok(
            &nested,
            "Device.LocalAgent.Controller.1.MTP.2,Device.X.1"
        ));
        let mut relative = TypeSpec::of(BaseType::String);
        relative.reference = Some(Reference {
            target_parent: "#.Controller.".into(),
            ref_type: None,
        });
        assert!(
            ok(&relative, "anything"),
            "relative parents are not checked"
        );
    }
}
