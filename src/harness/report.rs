//! `sandbank conform --report DIR`: one self-contained HTML page per scenario — the
//! invariants that failed, the failure text with its seed and journal lines, the command
//! that reproduces it, and the scenario's timeline drawn as the inspector draws it (its
//! script and stylesheet inlined: the page opens offline, from a CI artefact) — and an
//! `index.html` listing them.

use super::checks::Violation;
use crate::journal::Filter;
use crate::timeline::{mermaid, Timeline};
use crate::world::Sandbank;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Most journal entries a page draws (a scenario writes a few hundred; the newest are kept).
pub const REPORT_ENTRIES_MAX: usize = 5000;

/// What a page is made of, gathered when the scenario ends (before its world stops).
#[derive(Debug, Clone)]
pub struct ScenarioPage {
    /// Feature name.
    pub feature: String,
    /// Scenario name.
    pub scenario: String,
    /// The failure text, `None` when it passed.
    pub failure: Option<String>,
    /// The invariants the scenario found broken.
    pub violations: Vec<Violation>,
    /// The command that runs this scenario again.
    pub reproduce: String,
    /// Its world's timeline, when a world was started.
    pub timeline: Option<Timeline>,
}

/// The timeline of `sb`'s journal (its newest [`REPORT_ENTRIES_MAX`] entries).
pub fn timeline_of(sb: &Sandbank) -> Timeline {
    let st = sb.lock();
    let entries = st.core.journal.select(&Filter {
        limit: Some(REPORT_ENTRIES_MAX),
        ..Default::default()
    });
    Timeline::build(&st.core.directory, None, entries.iter())
}

/// `text` safe in HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside a `<script>` element: no `</script>` or `<!--` can end it early.
fn script_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The file name of a scenario's page: its feature and name, lower-case, with a hash of both
/// so that two names that read alike do not share a file.
pub fn file_name(feature: &str, scenario: &str) -> String {
    let mut slug = String::new();
    for c in format!("{feature}--{scenario}").chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(80).collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in feature.bytes().chain([0]).chain(scenario.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{slug}-{h:08x}.html")
}

/// The page of one scenario.
pub fn page(p: &ScenarioPage) -> String {
    let ui = |s: &str| s.replace("</script", "<\\/script");
    let verdict = if p.failure.is_some() {
        "FAILED"
    } else {
        "passed"
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{verdict}: {} — sandbank conformance</title>\n<style>\n{}\n</style>\n<script>\n{}\n</script>\n</head>\n<body class=\"report\">\n",
        escape(&p.scenario),
        crate::control::ui::STYLE_CSS,
        ui(crate::control::ui::TIMELINE_JS),
    );
    let _ = write!(
        h,
        "<h1 data-verdict=\"{verdict}\">{verdict}: {}</h1>\n<p>feature: {}</p>\n",
        escape(&p.scenario),
        escape(&p.feature)
    );
    if !p.violations.is_empty() {
        h.push_str("<h2>invariants violated</h2>\n<ul>\n");
        for v in &p.violations {
            let _ = writeln!(
                h,
                "<li><span class=\"invariant\">{}</span>: {}{}</li>",
                escape(v.invariant),
                escape(&v.detail),
                if v.references.is_empty() {
                    String::new()
                } else {
                    format!(" (about {})", escape(&v.references.join(", ")))
                }
            );
        }
        h.push_str("</ul>\n");
    }
    let _ = write!(
        h,
        "<h2>reproduce</h2>\n<code class=\"reproduce\">{}</code>\n",
        escape(&p.reproduce)
    );
    if let Some(f) = &p.failure {
        let _ = write!(
            h,
            "<h2>failure</h2>\n<pre class=\"failure\">{}</pre>\n",
            escape(f)
        );
    }
    match &p.timeline {
        Some(t) => {
            let marked: Vec<&String> = p.violations.iter().flat_map(|v| &v.references).collect();
            let _ = write!(
                h,
                "<h2>timeline</h2>\n<p>Times are Beijing time. Steps about {} are marked; click a step for what it carried.</p>\n<div id=\"diagram\" class=\"diagram\"></div>\n<div id=\"details\" class=\"details\"></div>\n<details><summary>the same as Mermaid</summary><pre>{}</pre></details>\n<script type=\"application/json\" id=\"timeline-data\">{}</script>\n<script type=\"application/json\" id=\"marked\">{}</script>\n<script>\n{}\n</script>\n",
                if marked.is_empty() { "the failure".to_string() } else { escape(&marked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) },
                escape(&mermaid::render(t)),
                script_json(t),
                script_json(&marked),
                DRAW_SCRIPT,
            );
        }
        None => h.push_str("<p>No sandbank world was started in this scenario.</p>\n"),
    }
    h.push_str("</body></html>\n");
    h
}

/// Draws the embedded timeline with the embedded renderer.
const DRAW_SCRIPT: &str = r#"(() => {
  const t = JSON.parse(document.getElementById("timeline-data").textContent);
  const marked = JSON.parse(document.getElementById("marked").textContent);
  const details = document.getElementById("details");
  SandbankTimeline.draw(document.getElementById("diagram"), t, {
    highlight: s => marked.some(r => s.reference === r || (s.detail || "").includes(r)),
    onSelect: s => { details.textContent = ""; details.appendChild(SandbankTimeline.details(s)); },
  });
})();"#;

/// The index of a run's pages: each scenario, its verdict, a link to its page.
pub fn index(pages: &[(String, ScenarioPage)]) -> String {
    let failed = pages.iter().filter(|(_, p)| p.failure.is_some()).count();
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sandbank conformance: {failed} failed of {}</title>\n<style>\n{}\n</style></head>\n<body class=\"report\">\n<h1>sandbank conformance: {failed} failed of {}</h1>\n<table><thead><tr><th>verdict</th><th>feature</th><th>scenario</th></tr></thead><tbody>\n",
        pages.len(),
        crate::control::ui::STYLE_CSS,
        pages.len()
    );
    for (file, p) in pages {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td><a href=\"{}\">{}</a></td></tr>",
            if p.failure.is_some() {
                "<span class=\"invariant\">FAILED</span>"
            } else {
                "passed"
            },
            escape(&p.feature),
            escape(file),
            escape(&p.scenario)
        );
    }
    h.push_str("</tbody></table>\n</body></html>\n");
    h
}

/// Write `p`'s page into `dir` (created if missing); answers the file's path.
pub fn write_page(dir: &Path, p: &ScenarioPage) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file_name(&p.feature, &p.scenario));
    std::fs::write(&path, page(p))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(failure: Option<&str>) -> ScenarioPage {
        ScenarioPage {
            feature: "Payouts".into(),
            scenario: "A lost reply </script><b>".into(),
            failure: failure.map(str::to_string),
            violations: vec![Violation {
                invariant: "never double-pays",
                detail: "overpaid by 250.00 CNY".into(),
                references: vec!["PAY1".into()],
            }],
            reproduce: "sandbank conform --sut x.toml --seed 42 --name '^A lost reply$'".into(),
            timeline: Some(Timeline {
                reference: None,
                lanes: Vec::new(),
                steps: Vec::new(),
            }),
        }
    }

    #[test]
    fn a_page_names_the_invariant_the_reproduce_command_and_carries_its_own_assets() {
        let html = page(&sample(Some(
            "invariant violated: never double-pays\n  seed: 42",
        )));
        assert!(html.contains("<span class=\"invariant\">never double-pays</span>: overpaid by 250.00 CNY (about PAY1)"));
        assert!(html
            .contains("sandbank conform --sut x.toml --seed 42 --name &#39;^A lost reply$&#39;"));
        assert!(html.contains("const SandbankTimeline"));
        assert!(html.contains("<h1 data-verdict=\"FAILED\">"));
        // Nothing is fetched from elsewhere, and the name cannot close a script or open a tag.
        for outside in ["src=\"http", "href=\"http", "<link", "<script src"] {
            assert!(!html.contains(outside), "{outside}");
        }
        assert!(html.contains("A lost reply &lt;/script&gt;&lt;b&gt;"));
        assert_eq!(
            html.matches("</script>").count(),
            4,
            "the renderer, two data blocks, the drawing"
        );
    }

    #[test]
    fn file_names_are_tame_and_distinct() {
        let a = file_name("Payouts", "A lost reply: paid twice?");
        assert!(
            a.starts_with("payouts-a-lost-reply-paid-twice-") && a.ends_with(".html"),
            "{a}"
        );
        assert_ne!(a, file_name("Payouts", "A lost reply; paid twice?"));
        assert!(file_name("F", &"x".repeat(500)).len() < 100);
    }

    #[test]
    fn the_index_links_each_page() {
        let p = sample(None);
        let html = index(&[
            ("a.html".into(), p.clone()),
            ("b.html".into(), sample(Some("x"))),
        ]);
        assert!(html.contains("1 failed of 2"));
        assert!(html.contains("<a href=\"a.html\">"));
    }
}
