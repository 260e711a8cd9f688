//! Matchers: the small predicates an expectation applies to one value, one
//! error code or one count. Each can be written as a bare scalar (equality)
//! or as a mapping of predicates that must all hold.

use super::model::ScalarVisitor;
use super::vars::Vars;
use crate::datamodel::{check_base, BaseType};
use crate::usp::errors;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A regular expression compiled while loading, so a bad one is reported at
/// its line and column.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        regex::Regex::new(&s).map(Pattern).map_err(|e| {
            // regex errors span several lines; the last one says what is wrong.
            let text = e.to_string();
            let why = text
                .lines()
                .last()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            de::Error::custom(format!("invalid regex {s:?}: {why}"))
        })
    }
}

/// Predicates on one value (absent when the value is not in the response).
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub equals: Option<String>,
    pub not_equals: Option<String>,
    pub regex: Option<Pattern>,
    pub one_of: Vec<String>,
    pub exists: Option<bool>,
    pub absent: Option<bool>,
    /// A TR-106 base type name (`unsignedInt`, `boolean`, ...).
    pub ty: Option<BaseType>,
    /// Numeric bounds, inclusive.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// A comma-separated list value has this item.
    pub contains: Option<String>,
    /// For wildcard keys: no matching value at all is fine (tables that may
    /// be empty); every value that is there must still satisfy the rest.
    pub if_present: bool,
}

impl Matcher {
    pub fn equals(v: impl Into<String>) -> Matcher {
        Matcher {
            equals: Some(v.into()),
            ..Matcher::default()
        }
    }

    /// Whether the value must be missing (then nothing else applies).
    pub fn wants_absent(&self) -> bool {
        self.absent == Some(true) || self.exists == Some(false)
    }

    /// What the matcher demands, in words, with variables substituted.
    pub fn describe(&self, vars: &Vars) -> String {
        let sub = |s: &String| vars.substitute(s).unwrap_or_else(|_| s.clone());
        let mut parts = Vec::new();
        if self.wants_absent() {
            parts.push("absent".to_string());
        }
        if self.exists == Some(true) || self.absent == Some(false) {
            parts.push("present".to_string());
        }
        if let Some(v) = &self.equals {
            parts.push(format!("= {:?}", sub(v)));
        }
        if let Some(v) = &self.not_equals {
            parts.push(format!("≠ {:?}", sub(v)));
        }
        if let Some(p) = &self.regex {
            parts.push(format!("matches /{}/", p.0.as_str()));
        }
        if !self.one_of.is_empty() {
            let items: Vec<String> = self.one_of.iter().map(sub).collect();
            parts.push(format!("one of {{{}}}", items.join(", ")));
        }
        if let Some(t) = self.ty {
            parts.push(format!("a valid {t}"));
        }
        if let Some(m) = self.min {
            parts.push(format!(">= {m}"));
        }
        if let Some(m) = self.max {
            parts.push(format!("<= {m}"));
        }
        if let Some(c) = &self.contains {
            parts.push(format!("list contains {:?}", sub(c)));
        }
        let text = if parts.is_empty() {
            "anything".to_string()
        } else {
            parts.join(" and ")
        };
        if self.if_present {
            format!("{text}, where present")
        } else {
            text
        }
    }

    /// Checks `actual`; `Err` says which predicate failed. Undefined
    /// variables fail the match rather than the whole step.
    pub fn check(&self, actual: Option<&str>, vars: &Vars) -> Result<(), String> {
        let Some(v) = actual else {
            return if self.wants_absent() || self.if_present {
                Ok(())
            } else {
                Err("missing".into())
            };
        };
        if self.wants_absent() {
            return Err(format!("present with value {v:?}"));
        }
        let sub = |s: &String| vars.substitute(s).map_err(|e| e.to_string());
        if let Some(e) = &self.equals {
            let e = sub(e)?;
            if v != e {
                return Err(format!("{v:?} is not {e:?}"));
            }
        }
        if let Some(e) = &self.not_equals {
            let e = sub(e)?;
            if v == e {
                return Err(format!("{v:?} equals {e:?}"));
            }
        }
        if let Some(p) = &self.regex {
            if !p.0.is_match(v) {
                return Err(format!("{v:?} does not match /{}/", p.0.as_str()));
            }
        }
        if !self.one_of.is_empty() {
            let items = self.one_of.iter().map(sub).collect::<Result<Vec<_>, _>>()?;
            if !items.iter().any(|i| i == v) {
                return Err(format!("{v:?} is not one of {{{}}}", items.join(", ")));
            }
        }
        if let Some(t) = self.ty {
            check_base(t, v).map_err(|e| format!("{v:?} is {e}"))?;
        }
        if self.min.is_some() || self.max.is_some() {
            let n: f64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
            if self.min.is_some_and(|m| n < m) || self.max.is_some_and(|m| n > m) {
                return Err(format!("{v} is out of range"));
            }
        }
        if let Some(c) = &self.contains {
            let c = sub(c)?;
            if !v.split(',').any(|i| i.trim() == c) {
                return Err(format!("{v:?} does not list {c:?}"));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Matcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value to compare with, or a mapping of matchers")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Matcher, E> {
                ScalarVisitor.visit_str(v).map(Matcher::equals)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Matcher, E> {
                ScalarVisitor.visit_bool(v).map(Matcher::equals)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Matcher, E> {
                ScalarVisitor.visit_i64(v).map(Matcher::equals)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Matcher, E> {
                ScalarVisitor.visit_u64(v).map(Matcher::equals)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Matcher, E> {
                ScalarVisitor.visit_f64(v).map(Matcher::equals)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Matcher, A::Error> {
                MatcherFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Into::into)
            }
        }
        d.deserialize_any(V)
    }
}

// The mapping form; a separate type so the derive does the field work.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatcherFields {
    #[serde(default)]
    equals: Option<super::model::ScalarString>,
    #[serde(default)]
    not_equals: Option<super::model::ScalarString>,
    #[serde(default)]
    regex: Option<Pattern>,
    #[serde(default)]
    one_of: Vec<super::model::ScalarString>,
    #[serde(default)]
    exists: Option<bool>,
    #[serde(default)]
    absent: Option<bool>,
    #[serde(rename = "type", default)]
    ty: Option<BaseType>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    contains: Option<super::model::ScalarString>,
    #[serde(default)]
    if_present: bool,
}

impl From<MatcherFields> for Matcher {
    fn from(m: MatcherFields) -> Matcher {
        Matcher {
            equals: m.equals.map(|s| s.0),
            not_equals: m.not_equals.map(|s| s.0),
            regex: m.regex,
            one_of: m.one_of.into_iter().map(|s| s.0).collect(),
            exists: m.exists,
            absent: m.absent,
            ty: m.ty,
            min: m.min,
            max: m.max,
            contains: m.contains.map(|s| s.0),
            if_present: m.if_present,
        }
    }
}

/// An error code: `7026` or `{ one_of: [7004, 7026] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeMatcher {
    pub one_of: Vec<u32>,
}

impl CodeMatcher {
    pub fn is(code: u32) -> CodeMatcher {
        CodeMatcher { one_of: vec![code] }
    }

    pub fn matches(&self, code: u32) -> bool {
        self.one_of.contains(&code)
    }

    /// `7026 (Invalid path)` or `one of 7004 (…), 7026 (…)`.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self.one_of.iter().map(|c| errors::describe(*c)).collect();
        match names.len() {
            1 => names.join(""),
            _ => format!("one of {}", names.join(", ")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeFields {
    one_of: Vec<u32>,
}

impl<'de> Deserialize<'de> for CodeMatcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodeMatcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an error code such as 7026, or { one_of: [7004, 7026] }")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodeMatcher, E> {
                u32::try_from(v)
                    .map(CodeMatcher::is)
                    .map_err(|_| E::custom(format!("error code {v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CodeMatcher, E> {
                u32::try_from(v)
                    .map(CodeMatcher::is)
                    .map_err(|_| E::custom(format!("error code {v} is not a fixed32")))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CodeMatcher, A::Error> {
                let f = CodeFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if f.one_of.is_empty() {
                    return Err(de::Error::custom("one_of needs at least one error code"));
                }
                Ok(CodeMatcher { one_of: f.one_of })
            }
        }
        d.deserialize_any(V)
    }
}

/// A count: `2` or `{ min: 1, max: 3 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountMatcher {
    pub min: Option<usize>,
    pub max: Option<usize>,
}

impl CountMatcher {
    pub fn exactly(n: usize) -> CountMatcher {
        CountMatcher {
            min: Some(n),
            max: Some(n),
        }
    }

    pub fn matches(&self, n: usize) -> bool {
        self.min.is_none_or(|m| n >= m) && self.max.is_none_or(|m| n <= m)
    }

    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => format!("{a}"),
            (Some(a), Some(b)) => format!("{a} to {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => "any number".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountFields {
    #[serde(default)]
    min: Option<usize>,
    #[serde(default)]
    max: Option<usize>,
}

impl<'de> Deserialize<'de> for CountMatcher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CountMatcher;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count such as 2, or { min: 1, max: 3 }")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CountMatcher, E> {
                Ok(CountMatcher::exactly(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CountMatcher, E> {
                usize::try_from(v)
                    .map(CountMatcher::exactly)
                    .map_err(|_| E::custom("a count cannot be negative"))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CountMatcher, A::Error> {
                let f = CountFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(CountMatcher {
                    min: f.min,
                    max: f.max,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(yaml: &str) -> Matcher {
        serde_saphyr::from_str(yaml).expect("matcher parses")
    }

    #[test]
    fn every_matcher_passes_and_fails() {
        let mut vars = Vars::default();
        vars.set("old", "Box");
        let cases: &[(&str, &str, &str)] = &[
            ("x", "x", "y"),
            ("{ equals: \"${old}\" }", "Box", "box"),
            ("{ not_equals: \"${old}\" }", "box", "Box"),
            ("{ regex: \"^[0-9A-F]{6}$\" }", "00256D", "00256d"),
            ("{ one_of: [WebSocket, MQTT] }", "MQTT", "CoAP"),
            ("{ exists: true }", "", "<absent>"),
            ("{ absent: true }", "<absent>", "x"),
            ("{ exists: false }", "<absent>", "x"),
            ("{ type: unsignedInt }", "2", "not-a-number"),
            ("{ type: boolean }", "true", "yes"),
            ("{ min: 1, max: 2 }", "2", "3"),
            ("{ contains: MQTT }", "WebSocket, MQTT", "WebSocket"),
            ("{ if_present: true, type: boolean }", "<absent>", "yes"),
            ("true", "true", "1"),
            ("2", "2", "02"),
        ];
        for (yaml, good, bad) in cases {
            let matcher = m(yaml);
            fn get<'a>(v: &&'a str) -> Option<&'a str> {
                (*v != "<absent>").then_some(*v)
            }
            assert!(matcher.check(get(good), &vars).is_ok(), "{yaml} on {good}");
            assert!(matcher.check(get(bad), &vars).is_err(), "{yaml} on {bad}");
        }
    }

    #[test]
    fn undefined_variable_fails_the_match() {
        let e = m("{ equals: \"${nope}\" }")
            .check(Some("x"), &Vars::default())
            .unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn describes_in_words() {
        assert_eq!(
            m("{ one_of: [a, b] }").describe(&Vars::default()),
            "one of {a, b}"
        );
        assert_eq!(m("{ exists: true }").describe(&Vars::default()), "present");
    }

    #[test]
    fn codes_and_counts() {
        let c: CodeMatcher = serde_saphyr::from_str("7026").expect("code");
        assert!(c.matches(7026) && !c.matches(7003));
        assert_eq!(c.describe(), "7026 (Invalid path)");
        let c: CodeMatcher = serde_saphyr::from_str("{ one_of: [7004, 7026] }").expect("codes");
        assert!(c.matches(7004) && c.matches(7026) && !c.matches(7003));
        let n: CountMatcher = serde_saphyr::from_str("{ min: 1 }").expect("count");
        assert!(n.matches(5) && !n.matches(0));
        let n: CountMatcher = serde_saphyr::from_str("2").expect("count");
        assert!(n.matches(2) && !n.matches(3));
    }

    #[test]
    fn bad_regex_is_a_parse_error() {
        let e = serde_saphyr::from_str::<Matcher>("{ regex: \"(\" }").unwrap_err();
        assert!(e.to_string().contains("invalid regex"), "{e}");
    }
}
