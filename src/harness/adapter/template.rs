//! The adapter's template language: `{name}` placeholders, how they are found, checked and
//! rendered, and how values are quoted for `sh`.
//!
//! It lives apart from the configuration and the hook calls because both use it at
//! different times: loading checks every template against the variables it can see, so a
//! typo fails when the file is read, and calling renders the same templates with real
//! values. Keeping one definition of "what is a placeholder" here means the check and the
//! rendering can never disagree about it.

use std::collections::BTreeMap;

/// Variables every template can use. The harness supplies them for each scenario, so an
/// adapter file may not set them, and their values (addresses, a number, a temporary
/// directory path made of `[A-Za-z0-9/_.-]` unless TMPDIR says otherwise) are spliced
/// into shell commands unquoted.
pub const BUILTIN_VARS: [&str; 4] = ["sandbank_url", "sut_addr", "seed", "state_dir"];

/// How many times a variable's value may itself be expanded before rendering gives up and
/// reports a loop.
const MAX_DEPTH: usize = 8;

/// Whether `s` can be a variable name: ASCII letters, digits and `_`, not starting with a
/// digit. Only such names inside braces are placeholders.
pub(super) fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The `{name}` placeholders in a template, in order, as `(start, end, name)` with byte
/// offsets covering the braces. Braces around anything that is not an identifier (JSON,
/// say) are not placeholders.
pub fn placeholders(template: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            if let Some(len) = template[i + 1..].find('}') {
                let name = &template[i + 1..i + 1 + len];
                if is_ident(name) {
                    out.push((i, i + len + 2, name));
                    i += len + 2;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

/// Check that every placeholder in `template` names one of the `known` variables; the error
/// lists them, so the reader can see what the field could have used.
pub(super) fn check_template(template: &str, known: &[String]) -> Result<(), String> {
    for (_, _, name) in placeholders(template) {
        if !known.iter().any(|k| k == name) {
            return Err(format!(
                "unknown variable `{{{name}}}` (known here: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Quote a value for `sh` as one single-quoted word, so that no character in it (spaces,
/// `;`, `$`, quotes) is interpreted by the shell.
pub fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Render `template` with `vars`. Variable values may themselves contain templates (e.g.
/// `sut = "http://{sut_addr}"`); they are expanded up to a fixed depth, and a loop between
/// variables is an error rather than a hang. With `quote`, each substituted value is
/// shell-quoted, except built-ins and command variables (see [`BUILTIN_VARS`]; names
/// ending `_bin` or `_cmd`).
pub fn render(
    template: &str,
    vars: &BTreeMap<String, String>,
    quote: bool,
) -> Result<String, String> {
    render_depth(template, vars, quote, 0)
}

fn render_depth(
    template: &str,
    vars: &BTreeMap<String, String>,
    quote: bool,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_DEPTH {
        return Err("variables refer to each other in a loop".into());
    }
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for (start, end, name) in placeholders(template) {
        out.push_str(&template[last..start]);
        let raw = vars
            .get(name)
            .ok_or_else(|| format!("variable `{name}` has no value"))?;
        // Values of variables are expanded unquoted; only the final value is quoted, once.
        let value = render_depth(raw, vars, false, depth + 1)?;
        if quote && !BUILTIN_VARS.contains(&name) && !is_command_var(name) {
            out.push_str(&shell_quote(&value));
        } else {
            out.push_str(&value);
        }
        last = end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// Variables that hold command text (`sut_bin`) are spliced in unquoted on purpose.
fn is_command_var(name: &str) -> bool {
    name.ends_with("_bin") || name.ends_with("_cmd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_values_are_quoted() {
        let mut v = BTreeMap::new();
        v.insert("x".to_string(), "a'b; rm -rf /".to_string());
        assert_eq!(
            render("echo {x}", &v, true).unwrap(),
            r#"echo 'a'\''b; rm -rf /'"#
        );
        assert_eq!(placeholders(r#"{"a":{b}}"#).len(), 1);
    }
}
