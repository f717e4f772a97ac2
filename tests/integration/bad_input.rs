//! A table of bad inputs over a real socket: each row is one request (endpoint, method,
//! body) and the protocol's own refusal — WeChat Pay's `return_code=FAIL` with an
//! `err_code` (or a signed `result_code=FAIL`), the bank's `retCode`, the control API's
//! 400/404/409 with the field named — and after every row the ledger is exactly as it was.

use crate::common::*;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use sandbank::http;
use serde_json::{json, Value};

/// What a row expects.
#[derive(Debug, Clone)]
enum Expect {
    /// WeChat: `return_code=FAIL` and this `err_code`.
    WxComm(&'static str),
    /// WeChat: a signed business failure, `result_code=FAIL`, this `err_code`, and an
    /// `err_code_des` naming this field.
    WxBiz(&'static str, &'static str),
    /// WeChat `downloadbill`: `return_code=FAIL` and this `error_code`.
    WxBill(&'static str),
    /// The bank: HTTP status, `retCode`, and a word `retMsg` must contain.
    Bank(u16, &'static str, &'static str),
    /// The control API: HTTP status and a word the `error` must contain.
    Ctl(u16, &'static str),
}

struct Row {
    name: String,
    method: Method,
    path: String,
    body: Bytes,
    expect: Expect,
}

fn row(name: &str, method: Method, path: &str, body: impl Into<Bytes>, expect: Expect) -> Row {
    Row {
        name: name.into(),
        method,
        path: path.into(),
        body: body.into(),
        expect,
    }
}

/// A signed WeChat request from the test merchant's fields, with `patch` applied
/// (`None` removes a field) before signing.
fn wx_signed(base: &[(&str, &str)], patch: &[(&str, Option<&str>)]) -> String {
    let mut fields: Vec<(String, String)> = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in patch {
        fields.retain(|(name, _)| name != k);
        if let Some(v) = v {
            fields.push((k.to_string(), v.to_string()));
        }
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    wx_request(&refs, KEY)
}

fn order_fields() -> Vec<(&'static str, &'static str)> {
    native_fields("BADIN1", "100", "http://127.0.0.1:9/notify")
}

fn query_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "q1"),
        ("out_trade_no", "BAD-NONE"),
    ]
}

fn bill_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "b1"),
        ("bill_date", "20260302"),
        ("bill_type", "ALL"),
    ]
}

/// A signed payout body with `patch` applied (`Value::Null` in the patch removes a field).
fn bank_signed(patch: Value) -> String {
    let mut v = payout_fields("BAD-P1", 100, "6228480000000000000");
    for (k, x) in patch.as_object().expect("a patch is an object") {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    bank_request(v, BANK_KEY)
}

fn rows() -> Vec<Row> {
    use Expect::*;
    let post = Method::POST;
    let uo = "wxpay/pay/unifiedorder";
    let oq = "wxpay/pay/orderquery";
    let db = "wxpay/pay/downloadbill";
    let of = order_fields();
    let qf = query_fields();
    let bf = bill_fields();
    let mut r = vec![
        // ---- WeChat Pay: the envelope, for each API
        row("GET unifiedorder", Method::GET, uo, "", WxComm("REQUIRE_POST_METHOD")),
        row("PUT orderquery", Method::PUT, oq, "", WxComm("REQUIRE_POST_METHOD")),
        row("empty unifiedorder", post.clone(), uo, "", WxComm("POST_DATA_EMPTY")),
        row("empty orderquery", post.clone(), oq, "", WxComm("POST_DATA_EMPTY")),
        row("empty downloadbill", post.clone(), db, "", WxComm("POST_DATA_EMPTY")),
        row("not UTF-8", post.clone(), uo, Bytes::from_static(b"<xml>\xff\xfe</xml>"), WxComm("NOT_UTF8")),
        row("not XML", post.clone(), uo, "hello", WxComm("XML_FORMAT_ERROR")),
        row("JSON to the channel", post.clone(), oq, r#"{"mch_id":"10000100"}"#, WxComm("XML_FORMAT_ERROR")),
        row("unclosed root", post.clone(), uo, "<xml><mch_id>1</mch_id>", WxComm("XML_FORMAT_ERROR")),
        row("mismatched end tag", post.clone(), uo, "<xml><mch_id>1</appid></xml>", WxComm("XML_FORMAT_ERROR")),
        row("nested element", post.clone(), uo, "<xml><mch_id><a>1</a></mch_id></xml>", WxComm("XML_FORMAT_ERROR")),
        row("two roots", post.clone(), uo, "<xml></xml><xml></xml>", WxComm("XML_FORMAT_ERROR")),
        row("DTD", post.clone(), uo, "<!DOCTYPE xml [<!ENTITY a \"b\">]><xml><mch_id>&a;</mch_id></xml>", WxComm("XML_FORMAT_ERROR")),
        row("external entity", post.clone(), oq, "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><mch_id>&e;</mch_id></xml>", WxComm("XML_FORMAT_ERROR")),
        row("unknown entity", post.clone(), uo, "<xml><mch_id>&nope;</mch_id></xml>", WxComm("XML_FORMAT_ERROR")),
        row("text outside a field", post.clone(), uo, "<xml>loose<mch_id>1</mch_id></xml>", WxComm("XML_FORMAT_ERROR")),
        row("CDATA outside a field", post.clone(), db, "<xml><![CDATA[x]]></xml>", WxComm("XML_FORMAT_ERROR")),
        row("only text", post.clone(), db, "   ", WxComm("XML_FORMAT_ERROR")),
        row(
            "300 fields",
            post.clone(),
            uo,
            format!("<xml>{}</xml>", (0..300).map(|i| format!("<f{i}>v</f{i}>")).collect::<String>()),
            WxComm("XML_FORMAT_ERROR"),
        ),
        row(
            "a signed query with 300 empty elements",
            post.clone(),
            oq,
            wx_signed(&qf, &[]).replace(
                "</xml>",
                &format!("{}</xml>", (0..300).map(|i| format!("<e{i}/>")).collect::<String>()),
            ),
            WxComm("XML_FORMAT_ERROR"),
        ),
        row("empty document", post.clone(), uo, "<xml/>", WxComm("LACK_PARAMS")),
        row("no mch_id", post.clone(), uo, wx_signed(&of, &[("mch_id", None)]), WxComm("LACK_PARAMS")),
        row("empty mch_id", post.clone(), oq, wx_signed(&qf, &[("mch_id", Some(""))]), WxComm("LACK_PARAMS")),
        row("unknown mch_id", post.clone(), uo, wx_signed(&of, &[("mch_id", Some("999"))]), WxComm("MCHID_NOT_EXIST")),
        row("unknown mch_id, bill", post.clone(), db, wx_signed(&bf, &[("mch_id", Some("999"))]), WxComm("MCHID_NOT_EXIST")),
        row("no appid", post.clone(), uo, wx_signed(&of, &[("appid", None)]), WxComm("LACK_PARAMS")),
        row("no appid, query", post.clone(), oq, wx_signed(&qf, &[("appid", None)]), WxComm("LACK_PARAMS")),
        row("wrong appid", post.clone(), uo, wx_signed(&of, &[("appid", Some("wx000"))]), WxComm("APPID_MCHID_NOT_MATCH")),
        row("wrong appid, query", post.clone(), oq, wx_signed(&qf, &[("appid", Some("wx000"))]), WxComm("APPID_MCHID_NOT_MATCH")),
        row("wrong appid, bill", post.clone(), db, wx_signed(&bf, &[("appid", Some("wx000"))]), WxComm("APPID_MCHID_NOT_MATCH")),
        row("no nonce_str", post.clone(), uo, wx_signed(&of, &[("nonce_str", None)]), WxComm("PARAM_ERROR")),
        row("nonce_str of 33", post.clone(), oq, wx_signed(&qf, &[("nonce_str", Some(&"n".repeat(33)))]), WxComm("PARAM_ERROR")),
        row("unknown sign_type", post.clone(), uo, wx_request(&[("appid", APPID), ("mch_id", MCH_ID), ("nonce_str", "x"), ("sign", "AA")], KEY).replace("<sign>", "<sign_type>RSA</sign_type><sign>"), WxComm("PARAM_ERROR")),
        row("signed with another key", post.clone(), uo, wx_request(&of, "0000000000000000000000000000000"), WxComm("SIGNERROR")),
        row("no sign", post.clone(), oq, xml_doc(&qf), WxComm("SIGNERROR")),
        row("field changed after signing", post.clone(), uo, wx_signed(&of, &[]).replace("<total_fee>100<", "<total_fee>1<"), WxComm("SIGNERROR")),
        row("HMAC-SHA256 signed as MD5", post.clone(), oq, wx_signed(&qf, &[]).replace("<sign>", "<sign_type>HMAC-SHA256</sign_type><sign>"), WxComm("SIGNERROR")),
    ];
    // ---- WeChat Pay: unifiedorder's fields (signed, so refused as business failures)
    for f in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        r.push(row(
            &format!("unifiedorder without {f}"),
            post.clone(),
            uo,
            wx_signed(&of, &[(f, None)]),
            WxBiz("LACK_PARAMS", f),
        ));
    }
    for (f, v, code, named) in [
        ("out_trade_no", "has space", "PARAM_ERROR", "out_trade_no"),
        ("out_trade_no", "订单", "PARAM_ERROR", "out_trade_no"),
        (
            "out_trade_no",
            &*"x".repeat(33),
            "PARAM_ERROR",
            "out_trade_no",
        ),
        ("total_fee", "0", "PARAM_ERROR", "total_fee"),
        ("total_fee", "-1", "PARAM_ERROR", "total_fee"),
        ("total_fee", "1.5", "PARAM_ERROR", "total_fee"),
        ("total_fee", "1e2", "PARAM_ERROR", "total_fee"),
        ("total_fee", "abc", "PARAM_ERROR", "total_fee"),
        (
            "total_fee",
            "99999999999999999999",
            "PARAM_ERROR",
            "total_fee",
        ),
        ("trade_type", "CASH", "PARAM_ERROR", "trade_type"),
        ("trade_type", "JSAPI", "LACK_PARAMS", "openid"),
        ("product_id", "", "LACK_PARAMS", "product_id"),
        ("fee_type", "USD", "PARAM_ERROR", "fee_type"),
        (
            "notify_url",
            "ftp://127.0.0.1/n",
            "PARAM_ERROR",
            "notify_url",
        ),
        (
            "notify_url",
            "http://127.0.0.1/n?x=1",
            "PARAM_ERROR",
            "notify_url",
        ),
        ("notify_url", "notaurl", "PARAM_ERROR", "notify_url"),
    ] {
        r.push(row(
            &format!("unifiedorder {f}={v:.20}"),
            post.clone(),
            uo,
            wx_signed(&of, &[(f, Some(v))]),
            WxBiz(code, named),
        ));
    }
    r.push(row(
        "orderquery with neither number",
        post.clone(),
        oq,
        wx_signed(&qf, &[("out_trade_no", None)]),
        WxBiz("LACK_PARAMS", "out_trade_no"),
    ));
    r.push(row(
        "orderquery of an unknown order",
        post.clone(),
        oq,
        wx_signed(&qf, &[]),
        WxBiz("ORDERNOTEXIST", ""),
    ));
    r.push(row(
        "orderquery of an unknown transaction",
        post.clone(),
        oq,
        wx_signed(
            &qf,
            &[
                ("out_trade_no", None),
                ("transaction_id", Some("4200000000")),
            ],
        ),
        WxBiz("ORDERNOTEXIST", ""),
    ));
    for (f, v) in [
        ("bill_date", None),
        ("bill_date", Some("2026-03-02")),
        ("bill_date", Some("20261301")),
        ("bill_date", Some("+2621421231")),
        ("bill_type", Some("EVERYTHING")),
        ("tar_type", Some("ZIP")),
    ] {
        r.push(row(
            &format!("downloadbill {f}={v:?}"),
            post.clone(),
            db,
            wx_signed(&bf, &[(f, v)]),
            WxBill("20001"),
        ));
    }

    // ---- The bank
    let apply = "bank/agentpay/apply";
    let query = "bank/agentpay/query";
    r.extend([
        row(
            "GET apply",
            Method::GET,
            apply,
            "",
            Bank(405, "PARAM_ERROR", "POST"),
        ),
        row(
            "not JSON",
            post.clone(),
            apply,
            "mchId=1",
            Bank(200, "PARAM_ERROR", "JSON"),
        ),
        row(
            "empty body",
            post.clone(),
            apply,
            "",
            Bank(200, "PARAM_ERROR", "JSON"),
        ),
        row(
            "truncated JSON",
            post.clone(),
            query,
            r#"{"mchId":"20000100""#,
            Bank(200, "PARAM_ERROR", "JSON"),
        ),
        row(
            "a JSON array",
            post.clone(),
            apply,
            "[1,2]",
            Bank(200, "PARAM_ERROR", "object"),
        ),
        row(
            "a JSON string",
            post.clone(),
            query,
            r#""x""#,
            Bank(200, "PARAM_ERROR", "object"),
        ),
        row(
            "JSON null",
            post.clone(),
            apply,
            "null",
            Bank(200, "PARAM_ERROR", "object"),
        ),
        row(
            "a nested object",
            post.clone(),
            apply,
            r#"{"mchId":"20000100","x":{"y":1}}"#,
            Bank(200, "PARAM_ERROR", "x"),
        ),
        row(
            "an array field",
            post.clone(),
            query,
            r#"{"mchId":"20000100","x":[1]}"#,
            Bank(200, "PARAM_ERROR", "x"),
        ),
        row(
            "no mchId",
            post.clone(),
            apply,
            bank_signed(json!({"mchId": null})),
            Bank(200, "PARAM_ERROR", "mchId"),
        ),
        row(
            "empty mchId",
            post.clone(),
            query,
            r#"{"mchId":"","mchOrderNo":"A"}"#,
            Bank(200, "PARAM_ERROR", "mchId"),
        ),
        row(
            "unknown mchId",
            post.clone(),
            apply,
            bank_signed(json!({"mchId": "999"})),
            Bank(200, "MCH_NOT_EXIST", "999"),
        ),
        row(
            "no sign",
            post.clone(),
            query,
            r#"{"mchId":"20000100","mchOrderNo":"A"}"#,
            Bank(200, "SIGN_ERROR", "sign"),
        ),
        row(
            "wrong sign",
            post.clone(),
            apply,
            bank_signed(json!({})).replace(r#""sign":""#, r#""sign":"00"#),
            Bank(200, "SIGN_ERROR", "sign"),
        ),
        row(
            "amount changed after signing",
            post.clone(),
            apply,
            bank_signed(json!({})).replace(r#""amount":100"#, r#""amount":1"#),
            Bank(200, "SIGN_ERROR", "sign"),
        ),
        row(
            "amount 1e2 where the client signed 100",
            post.clone(),
            apply,
            bank_signed(json!({})).replace(r#""amount":100"#, r#""amount":1e2"#),
            Bank(200, "PARAM_ERROR", "amount"),
        ),
        row(
            "amount -0",
            post.clone(),
            apply,
            bank_signed(json!({})).replace(r#""amount":100"#, r#""amount":-0"#),
            Bank(200, "PARAM_ERROR", "amount"),
        ),
        row(
            "query without mchOrderNo",
            post.clone(),
            query,
            bank_request(json!({"mchId": BANK_MCH_ID}), BANK_KEY),
            Bank(200, "PARAM_ERROR", "mchOrderNo"),
        ),
        row(
            "query of an unknown payout",
            post.clone(),
            query,
            bank_request(
                json!({"mchId": BANK_MCH_ID, "mchOrderNo": "NOPE"}),
                BANK_KEY,
            ),
            Bank(200, "ORDER_NOT_EXIST", "NOPE"),
        ),
    ]);
    for f in [
        "mchOrderNo",
        "amount",
        "accountNo",
        "accountName",
        "reqTime",
    ] {
        r.push(row(
            &format!("apply without {f}"),
            post.clone(),
            apply,
            bank_signed(json!({ f: null })),
            Bank(200, "PARAM_ERROR", f),
        ));
    }
    for (f, v, word) in [
        ("mchOrderNo", json!("has space"), "mchOrderNo"),
        ("mchOrderNo", json!("x".repeat(65)), "mchOrderNo"),
        ("amount", json!(0), "amount"),
        ("amount", json!(-5), "amount"),
        ("amount", json!(1.5), "amount"),
        ("amount", json!("abc"), "amount"),
        ("amount", json!(1e20), "amount"),
        ("amount", json!(true), "amount"),
        ("currency", json!("XXX"), "XXX"),
    ] {
        r.push(row(
            &format!("apply {f}={v}"),
            post.clone(),
            apply,
            bank_signed(json!({ f: v })),
            Bank(200, "PARAM_ERROR", word),
        ));
    }
    r.push(row(
        "no such bank API",
        post.clone(),
        "bank/agentpay/cancel",
        "{}",
        Bank(404, "NOT_FOUND", "cancel"),
    ));

    // ---- The control API
    let ctl = |p: &str| format!("_sandbank/{p}");
    r.extend([
        row(
            "clock: not JSON",
            post.clone(),
            &ctl("clock"),
            "advance=1s",
            Ctl(400, "JSON"),
        ),
        row(
            "clock: advance not a duration",
            post.clone(),
            &ctl("clock"),
            r#"{"advance":"soon"}"#,
            Ctl(400, "soon"),
        ),
        row(
            "clock: advance a number",
            post.clone(),
            &ctl("clock"),
            r#"{"advance":5}"#,
            Ctl(400, "advance"),
        ),
        row(
            "clock: unknown unit",
            post.clone(),
            &ctl("clock"),
            r#"{"advance":"5y"}"#,
            Ctl(400, "5y"),
        ),
        row(
            "clock: advance and to",
            post.clone(),
            &ctl("clock"),
            r#"{"advance":"1s","to":"2026-03-03 10:00"}"#,
            Ctl(400, "advance"),
        ),
        row(
            "clock: to not an instant",
            post.clone(),
            &ctl("clock"),
            r#"{"to":"tomorrow"}"#,
            Ctl(400, "tomorrow"),
        ),
        row(
            "clock: unknown field",
            post.clone(),
            &ctl("clock"),
            r#"{"forward":"1s"}"#,
            Ctl(400, "forward"),
        ),
        row(
            "clock: backwards",
            post.clone(),
            &ctl("clock"),
            r#"{"to":"2020-01-01 00:00"}"#,
            Ctl(409, "back"),
        ),
        row(
            "faults: not JSON",
            post.clone(),
            &ctl("faults"),
            "{",
            Ctl(400, "fault"),
        ),
        row(
            "faults: no target",
            post.clone(),
            &ctl("faults"),
            r#"{"op":"notify","action":"drop"}"#,
            Ctl(400, "target"),
        ),
        row(
            "faults: unknown action",
            post.clone(),
            &ctl("faults"),
            r#"{"target":"bank","op":"payout.submit","action":"explode"}"#,
            Ctl(400, "explode"),
        ),
        row(
            "faults: probability 2",
            post.clone(),
            &ctl("faults"),
            r#"{"target":"bank","op":"payout.submit","action":"reset","probability":2}"#,
            Ctl(400, "probability"),
        ),
        row(
            "faults: unknown target",
            post.clone(),
            &ctl("faults"),
            r#"{"target":"nobank","op":"payout.submit","action":"reset"}"#,
            Ctl(400, "nobank"),
        ),
        row(
            "faults: delay not a duration",
            post.clone(),
            &ctl("faults"),
            r#"{"target":"wxpay","op":"notify","action":"delay","delay":"later"}"#,
            Ctl(400, "later"),
        ),
        row(
            "faults: delete unknown",
            Method::DELETE,
            &ctl("faults/9999"),
            "",
            Ctl(404, "9999"),
        ),
        row(
            "pay: unknown order",
            post.clone(),
            &ctl("channels/wxpay/orders/NOPE/pay"),
            "{}",
            Ctl(404, "NOPE"),
        ),
        row(
            "pay: unknown channel",
            post.clone(),
            &ctl("channels/nochan/orders/NOPE/pay"),
            "{}",
            Ctl(404, "nochan"),
        ),
        row(
            "order: unknown",
            Method::GET,
            &ctl("channels/wxpay/orders/NOPE"),
            "",
            Ctl(404, "NOPE"),
        ),
        row(
            "forge: unknown kind",
            post.clone(),
            &ctl("channels/wxpay/orders/NOPE/notify"),
            r#"{"forge":"everything"}"#,
            Ctl(400, "forge"),
        ),
        row(
            "payouts: unknown bank",
            Method::GET,
            &ctl("banks/nobank/payouts"),
            "",
            Ctl(404, "nobank"),
        ),
        row(
            "return: unknown payout",
            post.clone(),
            &ctl("banks/bank/payouts/NOPE/return"),
            "{}",
            Ctl(404, "NOPE"),
        ),
        row(
            "statement: bad date",
            Method::GET,
            &ctl("statements/bank/2026-13-01"),
            "",
            Ctl(400, "date"),
        ),
        row(
            // Regression: this date parsed, then overflowed the day's window (no reply).
            "statement: a date beyond the world's calendar",
            Method::GET,
            &ctl("statements/bank/+262142-12-31"),
            "",
            Ctl(400, "date"),
        ),
        row(
            "statement: unknown instance",
            Method::GET,
            &ctl("statements/nobank/2026-03-02"),
            "",
            Ctl(404, "nobank"),
        ),
        row(
            "statement: unknown format",
            Method::GET,
            &ctl("statements/bank/2026-03-02?format=pdf"),
            "",
            Ctl(400, "pdf"),
        ),
        row(
            "statement: unknown account",
            Method::GET,
            &ctl("statements/bank/2026-03-02?account=123"),
            "",
            Ctl(404, "123"),
        ),
        row(
            "expected: no date",
            Method::GET,
            &ctl("statements/expected"),
            "",
            Ctl(400, "date"),
        ),
        row(
            "expected: bad date",
            Method::GET,
            &ctl("statements/expected?date=lastweek"),
            "",
            Ctl(400, "date"),
        ),
        row(
            "mismatch: not JSON",
            post.clone(),
            &ctl("statements/bank/mismatches"),
            "[",
            Ctl(400, "mismatch"),
        ),
        row(
            "mismatch: unknown kind",
            post.clone(),
            &ctl("statements/bank/mismatches"),
            r#"{"day":"2026-03-02","kind":"vanish"}"#,
            Ctl(400, "vanish"),
        ),
        row(
            "journal: unknown kind",
            Method::GET,
            &ctl("journal?kind=gossip"),
            "",
            Ctl(400, "gossip"),
        ),
        row(
            "journal: limit not a number",
            Method::GET,
            &ctl("journal?limit=many"),
            "",
            Ctl(400, "limit"),
        ),
        row(
            "scenario: not TOML",
            post.clone(),
            &ctl("scenario"),
            "[world",
            Ctl(400, "scenario"),
        ),
        row(
            "scenario: no channel kind",
            post.clone(),
            &ctl("scenario"),
            "[world]\nname=\"x\"\n[[channels]]\nid=\"c\"\nkind=\"cash\"\n",
            Ctl(400, "kind"),
        ),
        row(
            "no such route",
            Method::GET,
            &ctl("everything"),
            "",
            Ctl(404, "everything"),
        ),
    ]);
    r
}

/// An unsigned document of these fields.
fn xml_doc(fields: &[(&str, &str)]) -> String {
    sandbank::channels::wxpay::xml::write(fields.iter().copied())
}

/// Check a reply against a row's expectation; `Err` says how it differs.
fn check(expect: &Expect, status: StatusCode, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    match expect {
        Expect::WxComm(code) | Expect::WxBiz(code, _) | Expect::WxBill(code) => {
            if status != StatusCode::OK {
                return Err(format!("HTTP {status}"));
            }
            let f = sandbank::channels::wxpay::xml::parse(&text)
                .map_err(|e| format!("not v2 XML ({e})"))?;
            let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
            let ok = match expect {
                Expect::WxComm(_) => get("return_code") == "FAIL" && get("err_code") == *code,
                Expect::WxBiz(_, field) => {
                    get("return_code") == "SUCCESS"
                        && get("err_code_des").contains(field)
                        && get("result_code") == "FAIL"
                        && get("err_code") == *code
                        && reply_signed(&f, KEY, sign::SignType::Md5)
                }
                _ => get("return_code") == "FAIL" && get("error_code") == *code,
            };
            ok.then_some(()).ok_or_else(|| format!("got {f:?}"))
        }
        Expect::Bank(http_status, code, word) => {
            let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
            let msg = v["retMsg"].as_str().unwrap_or("");
            (status.as_u16() == *http_status && v["retCode"] == *code && msg.contains(word))
                .then_some(())
                .ok_or_else(|| format!("HTTP {status}: {v}"))
        }
        Expect::Ctl(http_status, word) => {
            let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
            let msg = v["error"].as_str().unwrap_or("");
            (status.as_u16() == *http_status && msg.contains(word))
                .then_some(())
                .ok_or_else(|| format!("HTTP {status}: {v}"))
        }
    }
}

use sandbank::protocol::sign;

#[tokio::test]
async fn every_bad_input_gets_the_protocols_own_error_and_leaves_the_ledger_alone() {
    let w = start().await;
    let rows = rows();
    assert!(rows.len() >= 80, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    let mut ledger = w.ledger().await;
    for r in &rows {
        let reply = http::send(
            r.method.clone(),
            &w.url(&r.path),
            &[("content-type", "application/octet-stream")],
            r.body.clone(),
            REQUEST_TIMEOUT,
        )
        .await;
        match reply {
            Err(e) => failures.push(format!("{}: no reply ({e})", r.name)),
            Ok(reply) => {
                if let Err(e) = check(&r.expect, reply.status, &reply.body) {
                    failures.push(format!("{}: expected {:?}, {e}", r.name, r.expect));
                }
            }
        }
        let after = w.ledger().await;
        if after != ledger {
            failures.push(format!("{}: the ledger changed", r.name));
            ledger = after;
        }
    }
    // The world still works after all of it.
    w.native_order("BAD-AFTER", "100", "http://127.0.0.1:9/n")
        .await;
    assert!(
        failures.is_empty(),
        "{} of {} rows:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
