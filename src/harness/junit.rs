//! The JUnit report, amended: cucumber's JUnit writer leaves `classname` off every
//! `<testcase>`, and CI dashboards (GitLab, Jenkins, GitHub test reporters) group and name
//! test cases by it. Each test case gets its feature's name — the name of the
//! `<testsuite>` around it — as its class.

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};
use std::io;
use std::path::Path;

/// Rewrite the JUnit file at `path` with a `classname` on every `<testcase>` that has none.
pub fn add_classnames(path: &Path) -> io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let amended =
        with_classnames(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    std::fs::write(path, amended)
}

/// `xml` with a `classname` on every `<testcase>`: the enclosing suite's name, without the
/// `Feature: ` keyword and the `: path` cucumber appends.
pub fn with_classnames(xml: &str) -> Result<String, String> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    let mut suite = String::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let event = match event {
            Event::Eof => break,
            Event::Start(e) if e.name().as_ref() == b"testsuite" => {
                suite = attribute(&e, b"name")
                    .map(|n| class_of(&n))
                    .unwrap_or_default();
                Event::Start(e)
            }
            Event::Start(e) if e.name().as_ref() == b"testcase" => Event::Start(amend(e, &suite)),
            Event::Empty(e) if e.name().as_ref() == b"testcase" => Event::Empty(amend(e, &suite)),
            other => other,
        };
        writer.write_event(event).map_err(|e| e.to_string())?;
    }
    String::from_utf8(writer.into_inner()).map_err(|e| e.to_string())
}

fn attribute(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// `Feature: Payouts: features/payouts.feature` → `Payouts`.
fn class_of(suite_name: &str) -> String {
    let name = suite_name.strip_prefix("Feature: ").unwrap_or(suite_name);
    match name.rsplit_once(": ") {
        Some((feature, path)) if path.ends_with(".feature") => feature.to_string(),
        _ => name.to_string(),
    }
}

fn amend<'a>(e: BytesStart<'a>, suite: &str) -> BytesStart<'a> {
    if attribute(&e, b"classname").is_some() {
        return e;
    }
    let mut e = e;
    e.push_attribute(("classname", suite));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_testcase_gets_its_feature_as_classname() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite id="0" name="Feature: Payouts &amp; banks: features/payouts.feature" tests="2"><testcase name="Scenario: A: features/payouts.feature:3:3" time="0.1"><system-out><![CDATA[ok]]></system-out></testcase><testcase name="Scenario: B" classname="kept" time="0.2"/></testsuite></testsuites>"#;
        let out = with_classnames(xml).unwrap();
        assert!(
            out.contains(r#"<testcase name="Scenario: A: features/payouts.feature:3:3" time="0.1" classname="Payouts &amp; banks">"#),
            "{out}"
        );
        assert!(out.contains(r#"classname="kept""#), "{out}");
        assert_eq!(out.matches("classname=").count(), 2, "{out}");
        assert!(out.contains("<![CDATA[ok]]>"), "{out}");
    }
}
