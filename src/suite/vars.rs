//! Case variables: values captured from earlier responses, substituted as
//! `${name}` into later requests and expectations.

use super::error::StepError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }

    /// Replaces every `${name}`; `$$` stands for a literal `$`.
    pub fn substitute(&self, text: &str) -> Result<String, StepError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('{') {
                let end = tail.find('}').ok_or_else(|| StepError::Unterminated {
                    text: text.to_string(),
                })?;
                let name = &tail[..end];
                let value = self.get(name).ok_or_else(|| StepError::UndefinedVariable {
                    name: name.to_string(),
                })?;
                out.push_str(value);
                rest = &tail[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_reports_undefined() {
        let mut v = Vars::default();
        v.set("sub", "Device.LocalAgent.Subscription.3.");
        assert_eq!(
            v.substitute("${sub}Enable").unwrap(),
            "Device.LocalAgent.Subscription.3.Enable"
        );
        assert_eq!(v.substitute("cost $5 $${x}").unwrap(), "cost $5 ${x}");
        assert_eq!(
            v.substitute("${nope}"),
            Err(StepError::UndefinedVariable {
                name: "nope".into()
            })
        );
        assert!(matches!(
            v.substitute("${sub"),
            Err(StepError::Unterminated { .. })
        ));
    }
}
