//! The flat `<xml><field>value</field>…</xml>` documents of WeChat Pay v2.
//!
//! Reading accepts text and CDATA values, refuses nesting, DTDs and anything that is not one
//! `<xml>` root (each gets `XML_FORMAT_ERROR` upstream). Writing follows wechatpy: CDATA for
//! values that are not all digits, plain text for digits.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::BTreeMap;

/// Most fields a v2 document may carry; real ones have under 60 (coupon lists included).
pub const MAX_FIELDS: usize = 256;

/// Why a document is not a flat v2 document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

/// Parse a flat document into its fields.
///
/// Documents of the shape every client sends — `<xml>`, then `<name>text</name>` or
/// `<name><![CDATA[text]]></name>` fields with whitespace between, then `</xml>` — are read
/// by a scanner that only splits the text; anything else (declarations, entities, empty
/// elements, other names, errors) goes to [`parse_general`], which reads any XML and says
/// what is wrong. Both give the same fields for what the scanner accepts (a property test
/// holds them to it).
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, XmlError> {
    match scan_flat(text) {
        Some(fields) => Ok(fields),
        None => parse_general(text),
    }
}

/// The scanner of [`parse`] alone: `None` when `text` is not of the plain flat shape (or
/// has more than [`MAX_FIELDS`] fields), for the general reader to judge.
pub fn scan_flat(text: &str) -> Option<BTreeMap<String, String>> {
    // Byte by byte: every delimiter is ASCII, so every cut below is on a char boundary.
    fn skip_ws(s: &str) -> &str {
        let n = s
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n'))
            .count();
        &s[n..]
    }
    let mut rest = skip_ws(text).strip_prefix("<xml>")?;
    let mut fields = BTreeMap::new();
    loop {
        rest = skip_ws(rest);
        if let Some(after) = rest.strip_prefix("</xml>") {
            return skip_ws(after).is_empty().then_some(fields);
        }
        let open = rest.strip_prefix('<')?;
        let name_len = open
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if name_len == 0 || open.as_bytes().get(name_len) != Some(&b'>') {
            return None;
        }
        let name = &open[..name_len];
        let body = &open[name_len + 1..];
        let (value, after) = match body.strip_prefix("<![CDATA[") {
            Some(cdata) => {
                let end = cdata.as_bytes().windows(3).position(|w| w == b"]]>")?;
                (&cdata[..end], &cdata[end + 3..])
            }
            None => {
                // A reference to unescape or a line end to normalise: the general reader's.
                let end = body
                    .bytes()
                    .position(|b| matches!(b, b'<' | b'&' | b'\r'))?;
                if body.as_bytes()[end] != b'<' {
                    return None;
                }
                (&body[..end], &body[end..])
            }
        };
        let close = after.strip_prefix("</")?;
        rest = close.strip_prefix(name)?.strip_prefix('>')?;
        fields.insert(name.to_string(), value.to_string());
        if fields.len() > MAX_FIELDS {
            return None;
        }
    }
}

/// Parse any flat document into its fields with a full XML reader.
pub fn parse_general(text: &str) -> Result<BTreeMap<String, String>, XmlError> {
    let mut reader = Reader::from_str(text);
    let mut fields = BTreeMap::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut current: Option<String> = None;
    let mut value = String::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| XmlError(format!("malformed XML: {e}")))?
        {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                depth += 1;
                match depth {
                    1 if !root_seen => root_seen = true,
                    1 => return Err(XmlError("more than one root element".into())),
                    2 => {
                        current = Some(name);
                        value.clear();
                    }
                    _ => {
                        return Err(XmlError(format!(
                            "nested element <{name}> in a flat document"
                        )))
                    }
                }
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                match depth {
                    0 if !root_seen => root_seen = true,
                    1 => {
                        // Empty elements are fields too: counted against the cap like
                        // the others, or thousands of `<a/>` would slip past it.
                        fields.insert(name, String::new());
                        if fields.len() > MAX_FIELDS {
                            return Err(XmlError(format!("more than {MAX_FIELDS} fields")));
                        }
                    }
                    _ => return Err(XmlError(format!("unexpected element <{name}/>"))),
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some(name) = current.take() {
                        fields.insert(name, std::mem::take(&mut value));
                        if fields.len() > MAX_FIELDS {
                            return Err(XmlError(format!("more than {MAX_FIELDS} fields")));
                        }
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                // Most values hold no reference to unescape: take them as they are.
                let s = match std::str::from_utf8(&t) {
                    Ok(plain) if !plain.contains('&') => std::borrow::Cow::Borrowed(plain),
                    _ => t
                        .unescape()
                        .map_err(|e| XmlError(format!("bad text: {e}")))?,
                };
                if depth == 2 {
                    value.push_str(&s);
                } else if !s.trim().is_empty() {
                    return Err(XmlError("text outside a field".into()));
                }
            }
            Event::CData(c) => {
                if depth != 2 {
                    return Err(XmlError("CDATA outside a field".into()));
                }
                value.push_str(&String::from_utf8_lossy(&c));
            }
            Event::DocType(_) => return Err(XmlError("DTDs are not allowed".into())),
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if !root_seen {
        return Err(XmlError("no root element".into()));
    }
    if depth != 0 {
        return Err(XmlError("unclosed element".into()));
    }
    Ok(fields)
}

/// Write fields as a flat `<xml>` document, in the order given.
pub fn write<'a, I>(fields: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
    I::IntoIter: Clone,
{
    let fields = fields.into_iter();
    // Sized once (a pass over the lengths costs less than growing the string).
    let size: usize = fields
        .clone()
        .map(|(k, v)| 2 * k.len() + v.len() + 17)
        .sum();
    let mut out = String::with_capacity(size + 11);
    out.push_str("<xml>");
    for (k, v) in fields {
        out.push('<');
        out.push_str(k);
        out.push('>');
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(v);
        } else {
            out.push_str("<![CDATA[");
            // `]]>` cannot appear inside CDATA; split it the standard way.
            // (A byte search first: building a substring searcher costs more than writing.)
            if v.contains(']') && v.contains("]]>") {
                out.push_str(&v.replace("]]>", "]]]]><![CDATA[>"));
            } else {
                out.push_str(v);
            }
            out.push_str("]]>");
        }
        out.push_str("</");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_elements_count_against_the_field_cap() {
        let at_cap: String = (0..MAX_FIELDS).map(|i| format!("<e{i}/>")).collect();
        assert_eq!(
            parse(&format!("<xml>{at_cap}</xml>")).unwrap().len(),
            MAX_FIELDS
        );
        let over = format!("<xml>{at_cap}<one_more/></xml>");
        assert!(parse(&over).unwrap_err().0.contains("fields"));
    }

    #[test]
    fn reads_text_and_cdata() {
        let f = parse("<xml><a><![CDATA[x&y]]></a><b>12</b><c>a &amp; b</c><d/></xml>").unwrap();
        assert_eq!(f["a"], "x&y");
        assert_eq!(f["b"], "12");
        assert_eq!(f["c"], "a & b");
        assert_eq!(f["d"], "");
    }

    #[test]
    fn refuses_what_is_not_flat() {
        assert!(parse("").is_err());
        assert!(parse("not xml").is_err());
        assert!(parse("<xml><a><b>1</b></a></xml>").is_err());
        assert!(parse("<xml><a>1</a>").is_err());
        assert!(parse(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>"
        )
        .is_err());
        assert!(parse("<xml></xml><xml></xml>").is_err());
    }

    #[test]
    fn round_trips() {
        let doc = write([
            ("return_code", "SUCCESS"),
            ("total_fee", "101"),
            ("odd", "a]]>b"),
        ]);
        let f = parse(&doc).unwrap();
        assert_eq!(f["return_code"], "SUCCESS");
        assert_eq!(f["total_fee"], "101");
        assert_eq!(f["odd"], "a]]>b");
        assert!(doc.contains("<total_fee>101</total_fee>"));
    }
}
