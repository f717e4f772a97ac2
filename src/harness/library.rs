//! The step library, as a person writing scenarios needs it: every step the harness
//! defines, where it is defined, and an example of it taken from the feature files
//! (`sandbank steps`). Read from what is actually registered with cucumber, so it cannot
//! drift from the code; the examples come from the scenarios, so they are known to work.

use super::scene::Scene;
use cucumber::codegen::{StepConstructor, WorldInventory};
use cucumber::gherkin::{Feature, GherkinEnv, StepType};
use std::path::Path;

/// One step definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDef {
    /// `Given`, `When` or `Then`.
    pub keyword: &'static str,
    /// The regular expression a step's text must match.
    pub pattern: String,
    /// `file:line` of the step function.
    pub location: String,
    /// A step from the feature files that uses it, if any does.
    pub example: Option<String>,
}

/// Every registered step, sorted by keyword and pattern, with an example from the feature
/// files under `features` (a directory, or one `.feature` file).
pub fn library(features: &Path) -> Result<Vec<StepDef>, String> {
    let used = feature_steps(features)?;
    let mut defs = Vec::new();
    let mut add =
        |keyword: &'static str,
         ty: StepType,
         (loc, re, _): (cucumber::step::Location, fn() -> regex::Regex, _)| {
            let re = re();
            let example = used
                .iter()
                .find(|(t, text)| *t == ty && re.is_match(text))
                .map(|(_, text)| format!("{keyword} {text}"));
            defs.push(StepDef {
                keyword,
                pattern: re.as_str().to_string(),
                location: format!("{}:{}", loc.path, loc.line),
                example,
            });
        };
    for s in cucumber::codegen::inventory::iter::<<Scene as WorldInventory>::Given> {
        add("Given", StepType::Given, s.inner());
    }
    for s in cucumber::codegen::inventory::iter::<<Scene as WorldInventory>::When> {
        add("When", StepType::When, s.inner());
    }
    for s in cucumber::codegen::inventory::iter::<<Scene as WorldInventory>::Then> {
        add("Then", StepType::Then, s.inner());
    }
    defs.sort_by(|a, b| (order(a.keyword), &a.pattern).cmp(&(order(b.keyword), &b.pattern)));
    Ok(defs)
}

fn order(keyword: &str) -> u8 {
    match keyword {
        "Given" => 0,
        "When" => 1,
        _ => 2,
    }
}

/// Every step text of every scenario (and background) under `path`, with its resolved type
/// (an `And` takes the type of the step before it).
fn feature_steps(path: &Path) -> Result<Vec<(StepType, String)>, String> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "feature") {
                files.push(e.path());
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for file in files {
        let feature = Feature::parse_path(&file, GherkinEnv::default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let backgrounds = feature
            .background
            .iter()
            .chain(feature.rules.iter().flat_map(|r| r.background.iter()));
        for b in backgrounds {
            out.extend(b.steps.iter().map(|s| (s.ty, s.value.clone())));
        }
        let scenarios = feature
            .scenarios
            .iter()
            .chain(feature.rules.iter().flat_map(|r| r.scenarios.iter()));
        for sc in scenarios {
            out.extend(sc.steps.iter().map(|s| (s.ty, s.value.clone())));
        }
    }
    Ok(out)
}

/// The library as text: one block per step, its pattern, where it is defined, and an example.
pub fn render(defs: &[StepDef]) -> String {
    let mut out = String::new();
    for d in defs {
        out.push_str(&format!("{} /{}/\n", d.keyword, d.pattern));
        match &d.example {
            Some(e) => out.push_str(&format!("    e.g. {e}\n")),
            None => out.push_str("    (no scenario uses it yet)\n"),
        }
        out.push_str(&format!("    defined at {}\n\n", d.location));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_listed_with_an_example_from_the_features() {
        let features = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let defs = library(&features).unwrap();
        assert!(defs.len() >= 10, "only {} steps registered", defs.len());
        let unused: Vec<String> = defs
            .iter()
            .filter(|d| d.example.is_none())
            .map(|d| format!("{} /{}/ at {}", d.keyword, d.pattern, d.location))
            .collect();
        assert!(
            unused.is_empty(),
            "steps no scenario uses (give them a scenario, or remove them): {unused:#?}"
        );
        let text = render(&defs);
        assert!(text.contains("e.g. Given a sandbank world"), "{text}");
    }
}
