//! The layering `src/lib.rs` documents holds: every `crate::…` path in a module names a
//! module of a lower layer (or an earlier one of the same layer), so there is no import
//! cycle and no arrow pointing up. The layers are written out here once more, on purpose:
//! a change that moves a module must change the map in `lib.rs`, this table, and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers of `src/lib.rs`, bottom first; inside a layer, a module may use those listed
/// before it.
const LAYERS: &[&[&str]] = &[
    &["clock", "money", "rng", "http", "protocol"],
    &["ledger", "journal", "faults", "mismatches"],
    &["config", "directory", "core", "kind", "timeline"],
    &["statements"],
    &["channels", "banks"],
    &["scenario"],
    &["world"],
    &["control", "server"],
    &["harness", "learner", "testing"],
];

/// Items `lib.rs` re-exports at the crate root, and the module each comes from.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Running", "server"),
    ("Sandbank", "world"),
    ("serve", "server"),
];

fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .enumerate()
        .find_map(|(layer, mods)| mods.iter().position(|m| *m == module).map(|i| (layer, i)))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::…` paths in `text`, comments left out.
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let module = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == name)
                .map(|(_, m)| m.to_string())
                .unwrap_or(name);
            if !module.is_empty() {
                out.push(module);
            }
        }
    }
    out
}

#[test]
fn every_import_points_down_the_documented_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut modules = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src/");
        let first = rel.components().next().expect("a path").as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        modules += 1;
        let Some(own) = rank(&module) else {
            panic!("src/{} belongs to module `{module}`, which is in no layer of this test (and of the lib.rs map?)", rel.display());
        };
        assert!(
            lib.contains(&format!("[`{module}`]")) || lib.contains(&format!("(`{module}`)")),
            "the `//! # Layout` map of src/lib.rs does not name module `{module}`"
        );
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for used in uses(&text) {
            if used == module {
                continue;
            }
            let Some(theirs) = rank(&used) else {
                panic!(
                    "src/{} uses `crate::{used}`, which is in no layer",
                    rel.display()
                );
            };
            if theirs >= own {
                upward
                    .entry(format!("src/{}", rel.display()))
                    .or_default()
                    .push(used);
            }
        }
    }
    assert!(modules > 30, "read only {modules} files under src/");
    assert!(
        upward.is_empty(),
        "imports that point up (or sideways against the order) of the layers in src/lib.rs: {upward:#?}"
    );
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The scan must notice the kind of line it exists to catch, or the test above proves
    // nothing.
    let found =
        uses("use crate::world::WorldState; // crate::ignored\nlet x = crate::Running::start;");
    assert_eq!(found, vec!["world".to_string(), "server".to_string()]);
    assert!(rank("world") > rank("channels"));
}
