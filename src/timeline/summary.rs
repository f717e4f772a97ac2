//! What a reply said, in a few words: the values of its code and status fields, whatever the
//! protocol — XML elements and JSON members whose names end in `code`, `status` or
//! `state` (`return_code`, `err_code`, `trade_state`, `sub_code`, …), in the order they
//! come, each value once.

/// Most values a summary gives.
const VALUES_MAX: usize = 3;

/// Longest value kept (a code is short; a longer "value" is not one).
const VALUE_MAX_CHARS: usize = 40;

fn is_code_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("code") || n.ends_with("status") || n.ends_with("state")
}

fn push(out: &mut Vec<String>, value: &str) {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > VALUE_MAX_CHARS || out.len() >= VALUES_MAX {
        return;
    }
    if !out.iter().any(|x| x == v) {
        out.push(v.to_string());
    }
}

/// `<name>value</name>` and `<name><![CDATA[value]]></name>` pairs of a flat XML body.
fn xml_pairs(body: &str, out: &mut Vec<String>) {
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else { return };
        let name = &rest[..close];
        rest = &rest[close + 1..];
        if name.starts_with(['/', '?', '!']) || !is_code_name(name) {
            continue;
        }
        let end_tag = format!("</{name}>");
        let Some(end) = rest.find(&end_tag) else {
            continue;
        };
        let raw = &rest[..end];
        let value = raw
            .strip_prefix("<![CDATA[")
            .and_then(|v| v.strip_suffix("]]>"))
            .unwrap_or(raw);
        push(out, value);
        rest = &rest[end + end_tag.len()..];
    }
}

/// `"name":"value"` and `"name":number` members of a JSON body, at any depth.
fn json_pairs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if is_code_name(k) => push(out, s),
                    serde_json::Value::Number(n) if is_code_name(k) => push(out, &n.to_string()),
                    _ => json_pairs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_pairs(v, out)),
        _ => {}
    }
}

/// The code and status values of a reply body, joined by ` · ` (empty when it has none).
pub fn reply_summary(body: &str) -> String {
    let mut out = Vec::new();
    let trimmed = body.trim_start();
    if trimmed.starts_with('<') {
        xml_pairs(trimmed, &mut out);
    } else if trimmed.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
            json_pairs(&v, &mut out);
        }
    }
    out.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_codes_in_order_each_once() {
        let body = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg>OK</return_msg>\
            <result_code><![CDATA[FAIL]]></result_code><err_code>ORDERPAID</err_code>\
            <err_code_des>paid</err_code_des></xml>";
        assert_eq!(reply_summary(body), "SUCCESS · FAIL · ORDERPAID");
    }

    #[test]
    fn json_codes_at_any_depth() {
        let body = r#"{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"},"sign":"x"}"#;
        assert_eq!(reply_summary(body), "40004 · ACQ.TRADE_NOT_EXIST");
        assert_eq!(
            reply_summary(r#"{"status":"PROCESSING","code":0}"#),
            "0 · PROCESSING"
        );
    }

    #[test]
    fn no_codes_no_summary() {
        assert_eq!(reply_summary(""), "");
        assert_eq!(reply_summary("plain text"), "");
        assert_eq!(reply_summary("{not json"), "");
        assert_eq!(reply_summary("<xml><a>1</a><b_code>"), "");
    }
}
