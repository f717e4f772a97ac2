//! Checked configuration: the error a scenario file gets, and the helpers every section's
//! validator uses to name the field it refuses.
//!
//! Scenario files are read in two stages (raw as parsed → validated), and each section is
//! validated by whoever owns its meaning: the world settings by [`crate::scenario`], a
//! channel's or bank's section by its kind. They all report problems the same way, as a
//! [`ScenarioError`] naming the file, the field path and the problem:
//! `scenarios/x.toml: banks[0].on_duplicate: \`twice\` is not one of replay, reject, pay_again`.
//! That shared vocabulary sits here, below the kinds, so that kinds need not import the
//! scenario module that dispatches to them.

use std::fmt;

/// A problem with a scenario: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file name, or what the scenario came from.
    pub source_name: String,
    /// The field path, e.g. `banks[0].on_duplicate`; empty for a parse error.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source_name, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.source_name, self.field, self.problem)
        }
    }
}

/// One section of a scenario being validated: the file it came from and the path of the
/// section (`channels[0]`, `banks[1].clients[2]`, or empty at the top level).
#[derive(Debug, Clone)]
pub struct Section<'a> {
    source: &'a str,
    path: String,
}

impl<'a> Section<'a> {
    /// The top level of the file `source`.
    pub fn root(source: &'a str) -> Section<'a> {
        Section {
            source,
            path: String::new(),
        }
    }

    /// The `index`-th element of list `name` below this section: `name[index]`.
    pub fn item(&self, name: &str, index: usize) -> Section<'a> {
        Section {
            source: self.source,
            path: self.field(&format!("{name}[{index}]")),
        }
    }

    /// The full path of `field` in this section.
    pub fn field(&self, field: &str) -> String {
        match (self.path.is_empty(), field.is_empty()) {
            (true, _) => field.to_string(),
            (false, true) => self.path.clone(),
            (false, false) => format!("{}.{field}", self.path),
        }
    }

    /// An error about `field` of this section.
    pub fn err(&self, field: &str, problem: impl Into<String>) -> ScenarioError {
        ScenarioError {
            source_name: self.source.to_string(),
            field: self.field(field),
            problem: problem.into(),
        }
    }

    /// `value`, or the error that `field` is missing.
    pub fn need<'v>(
        &self,
        field: &str,
        value: &'v Option<String>,
    ) -> Result<&'v str, ScenarioError> {
        value.as_deref().ok_or_else(|| self.err(field, "missing"))
    }

    /// Read this section's own fields from a TOML table into `T` (which refuses unknown
    /// fields), naming the section when the table does not fit.
    pub fn read<T: serde::de::DeserializeOwned>(
        &self,
        table: toml::Table,
    ) -> Result<T, ScenarioError> {
        T::deserialize(toml::Value::Table(table))
            .map_err(|e| self.err("", e.to_string().trim_end().replace('\n', " ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_field_inside_nested_sections() {
        let root = Section::root("x.toml");
        let bank = root.item("banks", 0);
        let client = bank.item("clients", 2);
        assert_eq!(
            root.err("world.clock", "p").to_string(),
            "x.toml: world.clock: p"
        );
        assert_eq!(client.err("key", "p").field, "banks[0].clients[2].key");
        assert_eq!(bank.err("", "p").field, "banks[0]");
        assert_eq!(root.need("id", &None).unwrap_err().problem, "missing");
    }
}
