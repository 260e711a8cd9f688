//! Parsing of USP path names (TR-369 "Path Names"): instance numbers, `*`,
//! search expressions / unique-key addressing, and the trailing parameter,
//! command or event. Pure syntax; resolution against the data model is in `resolve.rs`.

use std::fmt;

/// Why a path could not be parsed (reported as 7008, Invalid path syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Name(String),
    Instance(u32),
    Wildcard,
    Search(Vec<Condition>),
    /// `{i}`: only meaningful in Supported DM paths (GetSupportedDM).
    Placeholder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A double-quoted string, with `%22`/`%25` already decoded.
    Quoted(String),
    /// A number or boolean written without quotes.
    Bare(String),
}

/// One `relpath op value` term of a search expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub rel_path: String,
    pub op: Op,
    pub value: Literal,
}

/// What the path names after its object part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    Object,
    Param(String),
    Command(String),
    Event(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Object part, starting with `Name("Device")`.
    pub segments: Vec<Segment>,
    pub leaf: Leaf,
}

impl Path {
    /// A search path (wildcard or expression) may legitimately match nothing (R-GET.1a).
    pub fn is_search(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Wildcard | Segment::Search(_)))
    }
}

/// Parses an instantiated-DM path (`{i}` rejected) or, with `supported`, a Supported DM path.
pub fn parse(text: &str, supported: bool) -> Result<Path, SyntaxError> {
    let tokens = split_tokens(text)?;
    let (last, body) = match tokens.split_last() {
        Some(x) => x,
        None => return Err(SyntaxError("empty path".into())),
    };
    let leaf = if last.is_empty() {
        Leaf::Object
    } else if let Some(cmd) = last.strip_suffix("()") {
        check_name(cmd)?;
        Leaf::Command(last.clone())
    } else if let Some(ev) = last.strip_suffix('!') {
        check_name(ev)?;
        Leaf::Event(last.clone())
    } else {
        check_name(last)?;
        Leaf::Param(last.clone())
    };
    let mut segments = Vec::with_capacity(body.len());
    for tok in body {
        segments.push(parse_segment(tok, supported)?);
    }
    match segments.first() {
        Some(Segment::Name(n)) if n == "Device" => {}
        _ => {
            return Err(SyntaxError(format!(
                "\"{text}\" does not start with \"Device.\""
            )))
        }
    }
    // An instance selector must follow an object name, never another selector.
    for pair in segments.windows(2) {
        if !matches!(pair[0], Segment::Name(_)) && !matches!(pair[1], Segment::Name(_)) {
            return Err(SyntaxError(format!(
                "two instance selectors in a row in \"{text}\""
            )));
        }
    }
    Ok(Path { segments, leaf })
}

/// Splits on `.` outside `[...]` and quotes; the last token is empty for object paths.
fn split_tokens(text: &str) -> Result<Vec<String>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' if depth > 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '[' if !quoted => {
                if depth > 0 || !cur.is_empty() {
                    return Err(SyntaxError(format!("misplaced '[' in \"{text}\"")));
                }
                depth += 1;
                cur.push(c);
            }
            ']' if !quoted => {
                if depth == 0 {
                    return Err(SyntaxError(format!("unbalanced ']' in \"{text}\"")));
                }
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => tokens.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if depth > 0 || quoted {
        return Err(SyntaxError(format!(
            "unterminated search expression in \"{text}\""
        )));
    }
    tokens.push(cur);
    if tokens[..tokens.len() - 1].iter().any(|t| t.is_empty()) {
        return Err(SyntaxError(format!("empty path segment in \"{text}\"")));
    }
    Ok(tokens)
}

fn check_name(name: &str) -> Result<(), SyntaxError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(SyntaxError(format!("\"{name}\" is not a valid name")))
    }
}

fn parse_segment(tok: &str, supported: bool) -> Result<Segment, SyntaxError> {
    if tok == "*" {
        return Ok(Segment::Wildcard);
    }
    if tok == "{i}" && supported {
        return Ok(Segment::Placeholder);
    }
    if let Some(inner) = tok.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return parse_expression(inner).map(Segment::Search);
    }
    if tok.chars().all(|c| c.is_ascii_digit()) {
        return match tok.parse::<u32>() {
            Ok(n) if n >= 1 && !tok.starts_with('0') => Ok(Segment::Instance(n)),
            _ => Err(SyntaxError(format!(
                "\"{tok}\" is not a valid instance number"
            ))),
        };
    }
    check_name(tok)?;
    Ok(Segment::Name(tok.to_string()))
}

/// `relpath op value (&& relpath op value)*`; whitespace around terms is tolerated.
fn parse_expression(inner: &str) -> Result<Vec<Condition>, SyntaxError> {
    if inner.trim().is_empty() {
        return Err(SyntaxError("empty search expression \"[]\"".into()));
    }
    split_outside_quotes(inner, "&&")
        .iter()
        .map(|term| parse_condition(term.trim()))
        .collect()
}

fn split_outside_quotes(s: &str, sep: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if !quoted && rest.starts_with(sep) {
            parts.push(std::mem::take(&mut cur));
            rest = &rest[sep.len()..];
            continue;
        }
        if c == '"' {
            quoted = !quoted;
        }
        cur.push(c);
        rest = &rest[c.len_utf8()..];
    }
    parts.push(cur);
    parts
}

fn parse_condition(term: &str) -> Result<Condition, SyntaxError> {
    const OPS: [(&str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    let quote = term.find('"').unwrap_or(term.len());
    let (pos, op, len) = OPS
        .iter()
        .filter_map(|(s, op)| term[..quote].find(s).map(|p| (p, *op, s.len())))
        .min_by_key(|(p, _, len)| (*p, usize::MAX - len))
        .ok_or_else(|| SyntaxError(format!("no comparison operator in \"{term}\"")))?;
    let rel_path = term[..pos].trim().to_string();
    for part in rel_path.split('.') {
        check_name(part)?;
    }
    let raw = term[pos + len..].trim();
    let value = if let Some(q) = raw.strip_prefix('"') {
        let body = q
            .strip_suffix('"')
            .filter(|b| !b.contains('"'))
            .ok_or_else(|| SyntaxError(format!("badly quoted value in \"{term}\"")))?;
        Literal::Quoted(body.replace("%22", "\"").replace("%25", "%"))
    } else if !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-+.".contains(c))
    {
        Literal::Bare(raw.to_string())
    } else {
        return Err(SyntaxError(format!("invalid value in \"{term}\"")));
    };
    Ok(Condition {
        rel_path,
        op,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameter_and_object_paths() {
        let p = parse("Device.DeviceInfo.Manufacturer", false).unwrap();
        assert_eq!(p.leaf, Leaf::Param("Manufacturer".into()));
        assert_eq!(p.segments.len(), 2);
        let p = parse("Device.LocalAgent.MTP.1.", false).unwrap();
        assert_eq!(p.leaf, Leaf::Object);
        assert_eq!(p.segments[3], Segment::Instance(1));
        assert!(!p.is_search());
        assert_eq!(
            parse("Device.Reboot()", false).unwrap().leaf,
            Leaf::Command("Reboot()".into())
        );
        assert_eq!(
            parse("Device.Boot!", false).unwrap().leaf,
            Leaf::Event("Boot!".into())
        );
    }

    #[test]
    fn parses_search_expressions_and_unique_keys() {
        let p = parse(
            "Device.LocalAgent.MTP.[Alias==\"cpe-ws\"&&WebSocket.Port>=80].Enable",
            false,
        )
        .unwrap();
        assert!(p.is_search());
        let Segment::Search(conds) = &p.segments[3] else {
            panic!("expected a search segment, got {:?}", p.segments[3]);
        };
        assert_eq!(conds.len(), 2);
        assert_eq!(conds[0].op, Op::Eq);
        assert_eq!(conds[0].value, Literal::Quoted("cpe-ws".into()));
        assert_eq!(conds[1].rel_path, "WebSocket.Port");
        assert_eq!(conds[1].op, Op::Ge);
        assert_eq!(conds[1].value, Literal::Bare("80".into()));
        let p = parse("Device.LocalAgent.Subscription.[ID == \"a.b%22\"].", false).unwrap();
        let Segment::Search(conds) = &p.segments[3] else {
            panic!("expected a search segment");
        };
        assert_eq!(conds[0].value, Literal::Quoted("a.b\"".into()));
        assert!(parse("Device.LocalAgent.MTP.*.Alias", false)
            .unwrap()
            .is_search());
    }

    #[test]
    fn rejects_invalid_syntax() {
        for bad in [
            "",
            "Device..DeviceInfo.",
            "Foo.Bar.",
            "Device.LocalAgent.MTP.[].",
            "Device.LocalAgent.MTP.[Alias=\"x\"].",
            "Device.LocalAgent.MTP.[Alias==\"x\".",
            "Device.LocalAgent.MTP.{i}.",
            "Device.LocalAgent.MTP.0.",
            "Device.LocalAgent.MTP.1.2.",
            "Device.Device Info.",
        ] {
            assert!(parse(bad, false).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(
            parse("Device.LocalAgent.MTP.{i}.", true).unwrap().segments[3],
            Segment::Placeholder
        );
    }
}
