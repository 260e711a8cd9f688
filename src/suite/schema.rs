//! JSON Schema for the types whose `Deserialize` is written by hand (a
//! scalar or a mapping): each schema here accepts exactly the forms the
//! visitor accepts, so an editor validating against the shipped schema
//! agrees with `plugfest validate`. The derived types are in model.rs and
//! loader.rs; `loader::schema()` assembles the whole document.

use super::matchers::{CodeMatcher, CountMatcher, Matcher};
use super::model::{ParamSetting, ScalarString};
use crate::datamodel::BaseType;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// The scalar forms `ScalarVisitor` takes (YAML string, number, boolean).
fn scalar() -> Schema {
    json_schema!({ "type": ["string", "number", "boolean"] })
}

impl JsonSchema for ScalarString {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut s = scalar();
        s.insert(
            "description".into(),
            "A string, number or boolean, kept as text (quote values like \"1.10\").".into(),
        );
        s
    }
}

impl JsonSchema for ParamSetting {
    fn schema_name() -> Cow<'static, str> {
        "ParamSetting".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "`Name: value` (required), or `Name: { value: v, required: false }`.",
            "anyOf": [
                scalar(),
                {
                    "type": "object",
                    "properties": {
                        "value": scalar(),
                        "required": { "type": "boolean", "default": true }
                    },
                    "required": ["value"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for BaseType {
    fn schema_name() -> Cow<'static, str> {
        "BaseType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = [
            BaseType::String,
            BaseType::Boolean,
            BaseType::UnsignedInt,
            BaseType::Int,
            BaseType::UnsignedLong,
            BaseType::Long,
            BaseType::Decimal,
            BaseType::DateTime,
            BaseType::Base64,
            BaseType::HexBinary,
        ]
        .into_iter()
        .map(BaseType::name)
        .collect();
        json_schema!({
            "description": "A TR-106 base type.",
            "enum": names
        })
    }
}

impl JsonSchema for Matcher {
    fn schema_name() -> Cow<'static, str> {
        "Matcher".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let base_type = generator.subschema_for::<BaseType>();
        json_schema!({
            "description": "A value to compare with (equality), or a mapping of predicates that must all hold.",
            "anyOf": [
                scalar(),
                {
                    "type": "object",
                    "properties": {
                        "equals": scalar(),
                        "not_equals": scalar(),
                        "regex": { "type": "string", "description": "A regular expression (Rust regex syntax)." },
                        "one_of": { "type": "array", "items": scalar() },
                        "exists": { "type": "boolean" },
                        "absent": { "type": "boolean" },
                        "type": base_type,
                        "min": { "type": "number" },
                        "max": { "type": "number" },
                        "contains": scalar(),
                        "if_present": { "type": "boolean", "default": false }
                    },
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for CodeMatcher {
    fn schema_name() -> Cow<'static, str> {
        "CodeMatcher".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let code = json_schema!({ "type": "integer", "minimum": 0, "maximum": u32::MAX });
        json_schema!({
            "description": "A USP error code such as 7026, or { one_of: [7004, 7026] }.",
            "anyOf": [
                code.clone(),
                {
                    "type": "object",
                    "properties": { "one_of": { "type": "array", "items": code, "minItems": 1 } },
                    "required": ["one_of"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for CountMatcher {
    fn schema_name() -> Cow<'static, str> {
        "CountMatcher".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let count = json_schema!({ "type": "integer", "minimum": 0 });
        json_schema!({
            "description": "A count such as 2, or { min: 1, max: 3 } (inclusive).",
            "anyOf": [
                count.clone(),
                {
                    "type": "object",
                    "properties": { "min": count.clone(), "max": count },
                    "additionalProperties": false
                }
            ]
        })
    }
}
