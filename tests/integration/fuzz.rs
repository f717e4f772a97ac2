//! Property tests of every decoder, bounded so the whole run takes seconds: WeChat Pay's XML
//! (the parser and the full path through the world for `pay/unifiedorder`, `pay/orderquery`
//! and `pay/downloadbill`), the bank's JSON (`agentpay/apply`, `agentpay/query`), the
//! control API's JSON bodies (fault rules, mismatches, the clock), statement parameters, and
//! scenario TOML.
//!
//! Properties: nothing panics; a refusal is the protocol's own error and says what is
//! wrong; a refused request leaves the ledger as it was, and the ledger stays balanced with
//! every posting journalled.
//!
//! The generators start from valid requests and mutate them (drop, replace or add fields,
//! cut or splice the text), so cases reach past the first check; fully random input is
//! mixed in. Values stay inside the documented ranges of time and money (years 2000–2999,
//! durations of days, amounts up to 10^12) — the bounds on those are tested at the edges by
//! their own tests.

use crate::common::*;
use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sandbank::channels::wxpay::xml;
use sandbank::http::InboundRequest;
use sandbank::ledger::Ledger;
use sandbank::world::WorldState;
use sandbank::Sandbank;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How the cases of a target ended, so a test can show its generator reaches past the
/// first check (a fuzzer that only ever hits `XML_FORMAT_ERROR` proves little).
#[derive(Default)]
struct Reached {
    accepted: AtomicUsize,
    refused_late: AtomicUsize,
    refused_early: AtomicUsize,
}

impl Reached {
    /// Some accepted and some refused (for the control API, where refusals are not staged).
    fn check_both(&self, what: &str) {
        let a = self.accepted.load(Ordering::Relaxed);
        let r =
            self.refused_late.load(Ordering::Relaxed) + self.refused_early.load(Ordering::Relaxed);
        assert!(a > 0 && r > 0, "{what}: accepted {a}, refused {r}");
    }

    fn check(&self, what: &str) {
        let (a, l, e) = (
            self.accepted.load(Ordering::Relaxed),
            self.refused_late.load(Ordering::Relaxed),
            self.refused_early.load(Ordering::Relaxed),
        );
        assert!(
            a > 0 && l > 0 && e > 0,
            "{what}: accepted {a}, refused after authentication {l}, before {e}"
        );
    }
}

/// Cases per target. 20,000 cases of every target took 17 s in all on a loaded 2-core
/// machine, so 1,024 keep the fuzz run to about a second, well under CI's minute;
/// `PROPTEST_CASES` raises it for a longer hunt.
const CASES: u32 = 1024;

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES),
        failure_persistence: None,
        ..Config::default()
    }
}

fn spec() -> Arc<sandbank::scenario::WorldSpec> {
    Arc::new(
        sandbank::scenario::load_str(&scenario(&WorldOpts::default()), "fuzz.toml")
            .expect("the test world loads"),
    )
}

fn request(
    method: Method,
    path: &str,
    query: Option<String>,
    body: impl Into<Bytes>,
) -> InboundRequest {
    InboundRequest {
        method,
        path: path.into(),
        query,
        headers: HeaderMap::new(),
        body: body.into(),
    }
}

/// The ledger's observable state: every balance and how many postings.
fn ledger_state(l: &Ledger) -> (Vec<(String, String)>, usize) {
    (
        l.balances()
            .into_iter()
            .map(|(a, m)| (a, m.to_string()))
            .collect(),
        l.postings().len(),
    )
}

/// The books balance and the journal shows every posting.
fn consistent(st: &WorldState) -> Result<(), TestCaseError> {
    let mut sums: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
    for (_, m) in st.core.ledger.balances() {
        *sums.entry(format!("{:?}", m.currency)).or_default() += m.amount;
    }
    prop_assert!(sums.values().all(|s| s.is_zero()), "unbalanced: {sums:?}");
    let journalled = st
        .core
        .journal
        .select(&Default::default())
        .iter()
        .filter(|e| e.kind == sandbank::journal::EntryKind::Posting)
        .count();
    prop_assert_eq!(journalled, st.core.ledger.postings().len());
    Ok(())
}

// ------------------------------------------------------------------ mutation

/// How a field of a valid request is changed.
#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Set(usize, String),
    Add(String, String),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let value = prop_oneof![
        any::<String>(),
        "[0-9]{0,25}",
        "-?[0-9]{1,4}(\\.[0-9]{1,3})?(e[0-9])?",
        Just(String::new()),
        "[A-Za-z_*|-]{0,40}",
    ];
    let name = prop_oneof!["[a-z_]{1,20}", any::<String>()];
    proptest::collection::vec(
        prop_oneof![
            (0usize..16).prop_map(Edit::Drop),
            ((0usize..16), value.clone()).prop_map(|(i, v)| Edit::Set(i, v)),
            (name, value).prop_map(|(k, v)| Edit::Add(k, v)),
        ],
        0..4,
    )
}

fn apply_edits(mut fields: Vec<(String, String)>, edits: &[Edit]) -> Vec<(String, String)> {
    for e in edits {
        match e {
            Edit::Drop(i) if !fields.is_empty() => {
                let i = i % fields.len();
                fields.remove(i);
            }
            Edit::Set(i, v) if !fields.is_empty() => {
                let i = i % fields.len();
                fields[i].1 = v.clone();
            }
            Edit::Add(k, v) => fields.push((k.clone(), v.clone())),
            _ => {}
        }
    }
    fields
}

/// How the text of a body is damaged after signing, if at all.
#[derive(Debug, Clone)]
enum Damage {
    None,
    Cut(usize),
    Splice(usize, String),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => any::<usize>().prop_map(Damage::Cut),
        1 => (any::<usize>(), any::<String>()).prop_map(|(i, s)| Damage::Splice(i, s)),
    ]
}

fn apply_damage(text: String, d: &Damage) -> String {
    let at = |i: usize| {
        let mut i = i % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match d {
        Damage::None => text,
        Damage::Cut(i) => text[..at(*i)].to_string(),
        Damage::Splice(i, s) => {
            let i = at(*i);
            format!("{}{s}{}", &text[..i], &text[i..])
        }
    }
}

// ------------------------------------------------------------------ WeChat Pay XML

#[test]
fn xml_parse_never_panics_and_errors_say_what() {
    TestRunner::new(config())
        .run(
            &prop_oneof![
                any::<String>(),
                "<xml>(<[a-z]{1,3}>[^<]{0,5}</[a-z]{1,3}>|<[a-z]{1,3}/>|<!\\[CDATA\\[.{0,5}\\]\\]>|&[a-z#0-9]{0,5};){0,8}(</xml>)?",
            ],
            |text| {
                if let Err(e) = xml::parse(&text) {
                    prop_assert!(!e.0.is_empty());
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn xml_fast_path_reads_what_the_general_reader_reads() {
    // Documents near the flat shape: CDATA or text values with the characters that matter
    // (`<`, `&`, `]`, `>`, line ends, non-ASCII), whitespace, declarations, empty elements,
    // mismatched and odd names, repeated names, missing and extra ends.
    let name = prop_oneof![
        "[a-c]{1,2}",
        Just("c_1".to_string()),
        Just("d-e".to_string()),
        Just("x:y".to_string())
    ];
    let value = prop_oneof![
        "[a-zA-Z0-9 _中\\]\\[>;#-]{0,6}",
        "[a-z&;#\r\n\t]{0,4}",
        "<!\\[CDATA\\[[a-z<>&\\] ]{0,6}\\]\\]>",
    ];
    let field = (name, value, any::<u8>()).prop_map(|(n, v, k)| {
        let gap = ["", " ", "\n  "][usize::from(k % 3)];
        match k % 16 {
            0 => format!("{gap}<{n}/>"),
            1 => format!("{gap}<{n}>{v}</{n}x>"),
            2 => format!("{gap}<{n}>{v}"),
            _ => format!("{gap}<{n}>{v}</{n}>"),
        }
    });
    let doc = (proptest::collection::vec(field, 0..6), any::<u8>()).prop_map(|(fields, k)| {
        let body = fields.concat();
        match k % 8 {
            0 => format!("<?xml version=\"1.0\"?><xml>{body}</xml>"),
            1 => format!("<xml>{body}"),
            2 => format!("<xml>{body}</xml>x"),
            3 => format!("\n<xml>{body}\n</xml>\n"),
            _ => format!("<xml>{body}</xml>"),
        }
    });
    let scanned = std::sync::atomic::AtomicUsize::new(0);
    let cases = std::sync::atomic::AtomicUsize::new(0);
    TestRunner::new(config())
        .run(&doc, |text| {
            cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let general = xml::parse_general(&text);
            if let Some(fields) = xml::scan_flat(&text) {
                scanned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert_eq!(Ok(fields), general.clone(), "{:?}", text);
            }
            // And `parse` answers as the general reader does, whichever path it took.
            prop_assert_eq!(xml::parse(&text).is_ok(), general.is_ok());
            Ok(())
        })
        .unwrap();
    // Not vacuous: a good share of the documents took the scanner's path.
    let (scanned, cases) = (scanned.into_inner(), cases.into_inner());
    assert!(
        scanned * 10 >= cases,
        "only {scanned} of {cases} documents were scanned"
    );
}

#[test]
fn xml_written_fields_read_back() {
    let fields = proptest::collection::btree_map("[a-z_]{1,12}", any::<String>(), 0..12);
    TestRunner::new(config())
        .run(&fields, |fields| {
            // XML 1.0 cannot carry most control characters, and a parser normalises line
            // ends: values the channel would never be given.
            let clean = |v: &String| {
                !v.chars()
                    .any(|c| (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}')
            };
            prop_assume!(fields.values().all(clean));
            let doc = xml::write(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let back = xml::parse(&doc).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
            prop_assert_eq!(back, fields);
            Ok(())
        })
        .unwrap();
}

fn wx_base(api: &str) -> Vec<(String, String)> {
    let base: Vec<(&str, &str)> = match api {
        "pay/unifiedorder" => native_fields("FUZZ0001", "100", "http://127.0.0.1:9/n"),
        "pay/orderquery" => vec![
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "q"),
            ("out_trade_no", "FUZZ0001"),
        ],
        _ => vec![
            ("appid", APPID),
            ("mch_id", MCH_ID),
            ("nonce_str", "b"),
            ("bill_date", "20260302"),
            ("bill_type", "ALL"),
        ],
    };
    base.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wx_body(api: &str, edits: &[Edit], sign: bool, d: &Damage) -> String {
    let fields = apply_edits(wx_base(api), edits);
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let text = if sign {
        // A name that is not a valid XML name makes a document that is refused as a whole.
        wx_request(&refs, KEY)
    } else {
        xml::write(refs)
    };
    apply_damage(text, d)
}

#[test]
fn wechat_requests_through_the_world() {
    let spec = spec();
    let api = prop_oneof![
        Just("pay/unifiedorder"),
        Just("pay/orderquery"),
        Just("pay/downloadbill"),
    ];
    let one = (api, edits(), any::<bool>(), damage(), any::<bool>());
    let reached = Reached::default();
    TestRunner::new(config())
        .run(&proptest::collection::vec(one, 1..4), |reqs| {
            let reached = &reached;
            let mut st = WorldState::new(spec.clone(), 1);
            // A paid order to query and bill.
            st.serve(
                "wxpay",
                &request(
                    Method::POST,
                    "pay/unifiedorder",
                    None,
                    wx_body("pay/unifiedorder", &[], true, &Damage::None),
                ),
            );
            st.customer_pay("wxpay", "FUZZ0001", None)
                .expect("the order is payable");
            for (api, edits, sign, damage, post) in &reqs {
                let body = wx_body(api, edits, *sign, damage);
                let method = if *post { Method::POST } else { Method::GET };
                let before = ledger_state(&st.core.ledger);
                let out = st
                    .serve("wxpay", &request(method, api, None, body))
                    .expect("the channel is mounted");
                prop_assert_eq!(out.reply.status, StatusCode::OK);
                let text = out.reply.body_text();
                if out.reply.content_type.contains("xml") {
                    let f = xml::parse(&text)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
                    let failed = f.get("return_code").is_some_and(|c| c == "FAIL")
                        || f.get("result_code").is_some_and(|c| c == "FAIL");
                    let counter = if !failed {
                        &reached.accepted
                    } else if f.contains_key("sign") {
                        &reached.refused_late
                    } else {
                        &reached.refused_early
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if failed {
                        let said = f
                            .get("err_code")
                            .or(f.get("return_msg"))
                            .cloned()
                            .unwrap_or_default();
                        prop_assert!(!said.is_empty(), "a refusal says why: {text}");
                        prop_assert_eq!(&ledger_state(&st.core.ledger), &before);
                    }
                }
                // Nothing a merchant sends to the channel moves money.
                prop_assert_eq!(ledger_state(&st.core.ledger), before);
                consistent(&st)?;
            }
            Ok(())
        })
        .unwrap();
    reached.check("WeChat Pay");
}

// ------------------------------------------------------------------ the bank's JSON

fn bank_base(api: &str) -> Map<String, Value> {
    let v = if api == "agentpay/apply" {
        payout_fields("FUZZ-P1", 100, "6228480000000000000")
    } else {
        json!({ "mchId": BANK_MCH_ID, "mchOrderNo": "FUZZ-P0" })
    };
    v.as_object().cloned().unwrap_or_default()
}

/// A JSON value of any scalar kind, or a small nested one.
fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        "[0-9]{0,20}".prop_map(Value::from),
        Just(json!([1, "a"])),
        Just(json!({"a": 1})),
    ]
}

#[test]
fn bank_requests_through_the_world() {
    let spec = spec();
    let api = prop_oneof![Just("agentpay/apply"), Just("agentpay/query")];
    let edit = prop_oneof![
        ("[a-zA-Z]{1,12}", json_value()).prop_map(|(k, v)| (k, Some(v))),
        prop_oneof![
            Just("mchId"),
            Just("mchOrderNo"),
            Just("amount"),
            Just("accountNo"),
            Just("accountName"),
            Just("reqTime"),
            Just("currency")
        ]
        .prop_flat_map(|k| (Just(k.to_string()), proptest::option::of(json_value()))),
    ];
    let numbers = prop_oneof![
        Just(None),
        Just(Some("1e2")),
        Just(Some("1.0")),
        Just(Some("-0")),
        Just(Some("100.5"))
    ];
    let one = (
        api,
        proptest::collection::vec(edit, 0..4),
        any::<bool>(),
        numbers,
        damage(),
    );
    let reached = Reached::default();
    TestRunner::new(config())
        .run(&proptest::collection::vec(one, 1..4), |reqs| {
            let reached = &reached;
            let mut st = WorldState::new(spec.clone(), 1);
            st.serve(
                "bank",
                &request(
                    Method::POST,
                    "agentpay/apply",
                    None,
                    bank_request(Value::Object(bank_base("agentpay/apply")).clone(), BANK_KEY)
                        .replace("FUZZ-P1", "FUZZ-P0"),
                ),
            )
            .expect("the bank is mounted");
            for (api, edits, sign, number, damage) in &reqs {
                let mut m = bank_base(api);
                for (k, v) in edits {
                    match v {
                        Some(v) => m.insert(k.clone(), v.clone()),
                        None => m.remove(k),
                    };
                }
                let mut text = if *sign {
                    bank_request(Value::Object(m), BANK_KEY)
                } else {
                    Value::Object(m).to_string()
                };
                if let Some(n) = number {
                    // The same amount in another spelling, after signing.
                    text = text.replace("\"amount\":100", &format!("\"amount\":{n}"));
                }
                let body = apply_damage(text, damage);
                let before = ledger_state(&st.core.ledger);
                let out = st
                    .serve("bank", &request(Method::POST, api, None, body))
                    .expect("the bank is mounted");
                let v: Value = serde_json::from_slice(&out.reply.body).map_err(|e| {
                    TestCaseError::fail(format!("not JSON ({e}): {}", out.reply.body_text()))
                })?;
                let code = v["retCode"].as_str().unwrap_or("");
                prop_assert!(!code.is_empty(), "a retCode: {v}");
                let counter = match code {
                    "0" => &reached.accepted,
                    "PARAM_ERROR" | "MCH_NOT_EXIST" | "SIGN_ERROR" => &reached.refused_early,
                    _ => &reached.refused_late,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if code != "0" {
                    prop_assert!(
                        !v["retMsg"].as_str().unwrap_or("").is_empty(),
                        "a refusal says why: {v}"
                    );
                    prop_assert_eq!(ledger_state(&st.core.ledger), before);
                }
                consistent(&st)?;
            }
            Ok(())
        })
        .unwrap();
    reached.check("the bank");
}

// ------------------------------------------------------------------ the control API

/// Run control-API requests against a fresh world, checking every answer.
fn control_case(
    rt: &tokio::runtime::Runtime,
    spec: &Arc<sandbank::scenario::WorldSpec>,
    reqs: Vec<InboundRequest>,
    reached: &Reached,
) -> Result<(), TestCaseError> {
    rt.block_on(async {
        let sb = Sandbank::start((**spec).clone());
        for req in reqs {
            let what = format!(
                "{} {}?{:?} {}",
                req.method,
                req.path,
                req.query,
                String::from_utf8_lossy(&req.body)
            );
            let before = ledger_state(&sb.lock().core.ledger);
            let reply = sandbank::control::handle(&sb, req).await;
            let s = reply.status.as_u16();
            prop_assert!(
                [200, 201, 400, 404, 409].contains(&s),
                "{what}: HTTP {s} {}",
                reply.body_text()
            );
            let counter = match s {
                200 | 201 => &reached.accepted,
                400 => &reached.refused_early,
                _ => &reached.refused_late,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if s >= 400 {
                let v: Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| TestCaseError::fail(format!("{what}: not JSON ({e})")))?;
                prop_assert!(!v["error"].as_str().unwrap_or("").is_empty(), "{what}: {v}");
                prop_assert_eq!(ledger_state(&sb.lock().core.ledger), before, "{}", what);
            }
            consistent(&sb.lock())?;
        }
        sb.shutdown();
        Ok(())
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A duration within the documented range, or text that may not be one.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u32..1000,
            prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h"), Just("d")]
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[0-9a-z -]{0,8}",
    ]
}

fn control_body(
    fields: &'static [&'static str],
    values: impl Strategy<Value = Value> + Clone,
) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => proptest::sample::select(fields).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
    ];
    prop_oneof![
        8 => proptest::collection::btree_map(key, values, 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()).to_string()),
        1 => any::<String>(),
        1 => Just("[]".to_string()),
    ]
}

fn control_value() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        duration_text().prop_map(Value::from),
        proptest::sample::select(
            &[
                "wxpay",
                "bank",
                "notify",
                "payout.submit",
                "payout.query",
                "pay/unifiedorder",
                "delay",
                "drop",
                "reset",
                "hang",
                "duplicate",
                "http_error",
                "commit_then_fail",
                "amount",
                "missing",
                "extra",
                "status",
                "late",
                "2026-03-02",
                "2026-03-02 10:00",
                "FUZZ*",
                "6222000000000000001"
            ][..]
        )
        .prop_map(Value::from),
        (0.0f64..2.0).prop_map(|f| json!(f)),
        (-5i64..1000).prop_map(Value::from),
        "-?[0-9]{1,6}(\\.[0-9]{1,2})?".prop_map(Value::from),
        json_value(),
    ]
}

#[test]
fn control_api_json_bodies() {
    const FAULT: &[&str] = &[
        "target",
        "op",
        "action",
        "delay",
        "count",
        "times",
        "nth",
        "probability",
        "order",
        "amount",
        "status",
        "body",
        "then",
    ];
    const MISMATCH: &[&str] = &[
        "kind",
        "instance",
        "day",
        "account",
        "reference",
        "nth",
        "delta",
        "amount",
        "at",
        "status",
        "delay",
        "keep_bytes",
    ];
    const CLOCK: &[&str] = &["advance", "to"];
    let rt = runtime();
    let spec = spec();
    let reached = Reached::default();
    let req = prop_oneof![
        control_body(FAULT, control_value()).prop_map(|b| request(Method::POST, "faults", None, b)),
        control_body(MISMATCH, control_value()).prop_map(|b| request(
            Method::POST,
            "statements/bank/mismatches",
            None,
            b
        )),
        control_body(MISMATCH, control_value()).prop_map(|b| request(
            Method::POST,
            "statements/wxpay/mismatches",
            None,
            b
        )),
        control_body(CLOCK, control_value()).prop_map(|b| request(Method::POST, "clock", None, b)),
        control_body(&["forge"], control_value()).prop_map(|b| request(
            Method::POST,
            "channels/wxpay/orders/FUZZ0001/notify",
            None,
            b
        )),
    ];
    TestRunner::new(Config {
        cases: config().cases / 2,
        ..config()
    })
    .run(&proptest::collection::vec(req, 1..4), |reqs| {
        control_case(&rt, &spec, reqs, &reached)
    })
    .unwrap();
    reached.check_both("control API bodies");
}

#[test]
fn statement_parameters() {
    let rt = runtime();
    let spec = spec();
    let reached = Reached::default();
    let instance = prop_oneof![
        Just("wxpay".to_string()),
        Just("bank".to_string()),
        "[a-z%]{0,6}"
    ];
    let date = prop_oneof![
        (2000i32..3000, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (2000i32..3000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}")),
        "[0-9-]{0,12}",
        any::<String>().prop_map(|s| sandbank::http::percent_decode(&s)),
    ];
    let param = |name: &'static str, values: &'static [&'static str]| {
        proptest::option::of(prop_oneof![
            proptest::sample::select(values).prop_map(str::to_string),
            "[a-zA-Z0-9.%]{0,8}"
        ])
        .prop_map(move |v| v.map(|v| format!("{name}={v}")))
    };
    let query = (
        param(
            "format",
            &["wechat", "alipay", "camt053.02", "camt053.08", "mt940"],
        ),
        param("bill_type", &["ALL", "SUCCESS", "REFUND"]),
        param("account", &["6222000000000000001", "10000100"]),
    )
        .prop_map(|(a, b, c)| {
            let q: Vec<String> = [a, b, c].into_iter().flatten().collect();
            (!q.is_empty()).then(|| q.join("&"))
        });
    let req = prop_oneof![
        (instance, date.clone(), query).prop_map(|(i, d, q)| request(
            Method::GET,
            &format!("statements/{i}/{d}"),
            q,
            ""
        )),
        date.prop_map(|d| request(
            Method::GET,
            "statements/expected",
            Some(format!("date={d}")),
            ""
        )),
    ];
    TestRunner::new(Config {
        cases: config().cases / 2,
        ..config()
    })
    .run(&proptest::collection::vec(req, 1..3), |reqs| {
        control_case(&rt, &spec, reqs, &reached)
    })
    .unwrap();
    reached.check("statement parameters");
}

// ------------------------------------------------------------------ scenario TOML

#[test]
fn scenario_toml() {
    let valid = scenario(&WorldOpts::default());
    let lines: Vec<String> = valid.lines().map(str::to_string).collect();
    let n = lines.len();
    let edit = prop_oneof![
        (0..n).prop_map(|i| (i, None)),
        (
            0..n,
            prop_oneof![
                "[a-z_]{1,12} = \"[^\"\\\\]{0,12}\"",
                "[a-z_]{1,12} = -?[0-9]{1,6}",
                "\\[\\[?[a-z.]{1,12}\\]\\]?",
                any::<String>(),
            ]
        )
            .prop_map(|(i, l)| (i, Some(l))),
    ];
    let text = prop_oneof![
        6 => proptest::collection::vec(edit, 0..4).prop_map(move |edits| {
            let mut l = lines.clone();
            for (i, new) in edits {
                match new {
                    Some(new) => l[i] = new,
                    None => l[i].clear(),
                }
            }
            l.join("\n")
        }),
        1 => any::<String>(),
    ];
    TestRunner::new(config())
        .run(&text, |text| {
            if let Err(e) = sandbank::scenario::load_str(&text, "fuzz.toml") {
                let said = e.to_string();
                prop_assert!(said.starts_with("fuzz.toml: "), "{said}");
                prop_assert!(said.len() > "fuzz.toml: ".len() + 3, "{said}");
            }
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------------ the Alipay gateway

/// Cases of the Alipay target: each signs its requests and has sandbank sign its answers
/// with RSA-2048, several times the cost of an MD5 case, so a quarter of the others' count.
const ALIPAY_CASES: u32 = CASES / 4;

const ALIPAY_WORLD: &str = r#"
[world]
seed = 3
clock = "manual"
start = "2026-03-03 10:00"

[[channels]]
id = "alipay"
kind = "alipay-gateway"
fee_rate = "0.006"

[[channels.apps]]
app_id = "2021000000000001"
pid = "2088000000000001"
"#;

/// Form-encode `s` (everything but unreserved characters as `%XX`).
fn form(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A valid call to `method` as (name, value) pairs, before signing: the common parameters
/// and the business fields, which `edits` may change (Set/Drop on an index reach both).
fn alipay_base(method: &str) -> Vec<(String, String)> {
    let biz = match method {
        "alipay.trade.pay" => json!({"out_trade_no": "FUZZ0002", "total_amount": "3.00",
            "subject": "s", "scene": "bar_code", "auth_code": "287634438256643941"}),
        "alipay.trade.refund" => json!({"out_trade_no": "FUZZ0001", "refund_amount": "1.00",
            "out_request_no": "R1"}),
        "alipay.data.dataservice.bill.downloadurl.query" => {
            json!({"bill_type": "trade", "bill_date": "2026-03-02"})
        }
        _ => json!({"out_trade_no": "FUZZ0001"}),
    };
    [
        ("app_id", "2021000000000001"),
        ("method", method),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("timestamp", "2026-03-03 10:00:00"),
        ("version", "1.0"),
        ("biz_content", &biz.to_string()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn alipay_requests_through_the_world() {
    use sandbank::channels::alipay::keys::{PrivateKey, TEST_APP_PRIVATE_KEY};
    let key = PrivateKey::parse(TEST_APP_PRIVATE_KEY).expect("the shipped app key");
    let spec = Arc::new(sandbank::scenario::load_str(ALIPAY_WORLD, "fuzz.toml").expect("loads"));
    let method = prop_oneof![
        Just("alipay.trade.query"),
        Just("alipay.trade.pay"),
        Just("alipay.trade.refund"),
        Just("alipay.trade.close"),
        Just("alipay.trade.cancel"),
        Just("alipay.data.dataservice.bill.downloadurl.query"),
    ];
    let one = (method, edits(), any::<bool>(), damage(), any::<bool>());
    let reached = Reached::default();
    let mut cfg = config();
    cfg.cases = cfg.cases.clamp(1, ALIPAY_CASES);
    TestRunner::new(cfg)
        .run(&proptest::collection::vec(one, 1..4), |reqs| {
            let reached = &reached;
            let mut st = WorldState::new(spec.clone(), 1);
            // A paid trade to query, refund and cancel.
            let mut base = alipay_base("alipay.trade.pay");
            base[6].1 = json!({"out_trade_no": "FUZZ0001", "total_amount": "5.00",
                "subject": "s", "scene": "bar_code", "auth_code": "287634438256643941"})
            .to_string();
            let signed = |fields: &[(String, String)]| {
                let mut sorted: Vec<&(String, String)> =
                    fields.iter().filter(|(_, v)| !v.is_empty()).collect();
                sorted.sort();
                let content: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
                key.sign(content.join("&").as_bytes())
            };
            let query = |fields: &[(String, String)], sign: Option<String>| {
                let mut q: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", form(k), form(v)))
                    .collect();
                if let Some(s) = sign {
                    q.push(format!("sign={}", form(&s)));
                }
                q.join("&")
            };
            let s = signed(&base);
            st.serve(
                "alipay",
                &request(Method::GET, "gateway.do", Some(query(&base, Some(s))), ""),
            );
            prop_assert_eq!(
                st.core.ledger.postings().len(),
                2,
                "the set-up payment and its fee"
            );
            for (method, edits, sign, damage, post) in &reqs {
                let fields = apply_edits(alipay_base(method), edits);
                let sig = sign.then(|| signed(&fields));
                let text = apply_damage(query(&fields, sig), damage);
                let req = if *post {
                    let mut r = request(Method::POST, "gateway.do", None, text);
                    r.headers.insert(
                        hyper::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded"
                            .parse()
                            .expect("a header value"),
                    );
                    r
                } else {
                    request(Method::GET, "gateway.do", Some(text), "")
                };
                let before = ledger_state(&st.core.ledger);
                let out = st.serve("alipay", &req).expect("the channel is mounted");
                prop_assert_eq!(out.reply.status, StatusCode::OK);
                let body = out.reply.body_text();
                let v: Value = serde_json::from_str(&body)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?;
                prop_assert!(v.get("sign").is_some(), "every answer is signed: {body}");
                let inner = v
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.ends_with("_response")))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| TestCaseError::fail(format!("no response object: {body}")))?;
                let code = inner["code"].as_str().unwrap_or_default().to_string();
                match code.as_str() {
                    "10000" | "10003" => reached.accepted.fetch_add(1, Ordering::Relaxed),
                    "40004" => reached.refused_late.fetch_add(1, Ordering::Relaxed),
                    _ => reached.refused_early.fetch_add(1, Ordering::Relaxed),
                };
                if !code.starts_with('1') {
                    prop_assert!(
                        inner["sub_code"].as_str().is_some_and(|s| !s.is_empty()),
                        "a refusal says why: {body}"
                    );
                    prop_assert_eq!(&ledger_state(&st.core.ledger), &before, "{}", body);
                }
                consistent(&st)?;
            }
            Ok(())
        })
        .unwrap();
    reached.check("Alipay");
}
