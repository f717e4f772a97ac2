//! A [`Timeline`] as a Mermaid `sequenceDiagram`: a participant per lane the steps use (in
//! lane order), an arrow per message (`->>` a request or a callback, `-->>` its reply or
//! answer, `--x` a reply that never came), a `Note over` per posting, fault, retry and clock
//! move. Paste it into any Mermaid renderer (GitHub and GitLab render it in Markdown).
//!
//! Participants are named `L0`, `L1`, … with the lane's label as alias, so no instance id
//! can collide with Mermaid's keywords; text is escaped with Mermaid's entity codes (`#35;`)
//! so that `;`, `#`, `<` and `>` in a label cannot end a statement or open markup.

use super::{Class, Timeline};
use std::fmt::Write as _;

/// Text safe on one line of a Mermaid sequence diagram.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The diagram as Mermaid text.
pub fn render(t: &Timeline) -> String {
    // Only the lanes some step uses, in lane order: a diagram of one order does not draw
    // every bank of the world.
    let used: Vec<usize> = t
        .lanes
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            t.steps.iter().any(|s| {
                s.from.as_deref() == Some(&*l.id)
                    || s.to.as_deref() == Some(&*l.id)
                    || s.over.as_ref().is_some_and(|o| o.contains(&l.id))
            })
        })
        .map(|(i, _)| i)
        .collect();
    let name = |lane: &str| -> String {
        t.lanes
            .iter()
            .position(|l| l.id == lane)
            .map(|i| format!("L{i}"))
            .unwrap_or_else(|| "L0".into())
    };
    let mut out = String::from("sequenceDiagram\n");
    if let Some(r) = &t.reference {
        let _ = writeln!(
            out,
            "    title {}",
            escape(&format!("sandbank timeline: {r}"))
        );
    }
    for i in &used {
        let _ = writeln!(
            out,
            "    participant L{i} as {}",
            escape(&t.lanes[*i].label)
        );
    }
    for s in &t.steps {
        let text = escape(&format!("{} {}", s.local, s.label));
        match (&s.from, &s.to, &s.over) {
            (Some(from), Some(to), _) => {
                let arrow = match s.class {
                    Class::Reply | Class::Answer => "-->>",
                    Class::LostReply => "--x",
                    _ => "->>",
                };
                let _ = writeln!(out, "    {}{arrow}{}: {text}", name(from), name(to));
            }
            (_, _, Some(over)) => {
                let lanes: Vec<String> = over.iter().map(|l| name(l)).collect();
                let _ = writeln!(out, "    Note over {}: {text}", lanes.join(","));
            }
            _ => {}
        }
    }
    out
}
