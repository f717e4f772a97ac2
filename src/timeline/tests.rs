use super::*;
use crate::clock::parse_instant;
use crate::directory::Instance;
use crate::journal::{Filter, Journal, Record};

fn directory() -> Directory {
    let inst = |id: &str, family, kind| Instance {
        id: id.into(),
        family,
        kind,
        accounts: Vec::new(),
        ops: &[],
    };
    Directory::new(vec![
        inst("wxpay", Family::Channel, "wechatpay-v2"),
        inst("bank", Family::Bank, "payout-json"),
    ])
}

/// A journal with an order's story: created, paid, notified twice without an ack (the
/// second attempt due 15 s later), a fault, and a payout whose reply was lost.
fn story() -> Journal {
    let t0 = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let mut j = Journal::default();
    let rec = |op: &'static str, reference: &str| Record {
        instance: "wxpay".into(),
        op: op.into(),
        reference: Some(reference.into()),
        ..Default::default()
    };
    j.push(
        at(0),
        EntryKind::Inbound,
        Record {
            status: Some(200),
            message: "replied".into(),
            request: Some("<xml><out_trade_no>ORDER1</out_trade_no></xml>".into()),
            response: Some(
                "<xml><return_code><![CDATA[SUCCESS]]></return_code><result_code>SUCCESS</result_code></xml>"
                    .into(),
            ),
            ..rec("pay/unifiedorder", "ORDER1")
        },
    );
    j.push(
        at(5),
        EntryKind::Customer,
        Record {
            message: "customer paid 1.01 CNY".into(),
            ..rec("pay", "ORDER1")
        },
    );
    j.push(
        at(5),
        EntryKind::Posting,
        Record {
            message: "world:customers → channel:wxpay:merchant:10000100 1.01 CNY".into(),
            ..rec("payment", "ORDER1")
        },
    );
    j.push(
        at(5),
        EntryKind::Callback,
        Record {
            status: Some(500),
            message: "attempt 1 to http://127.0.0.1:9/notify: not acknowledged".into(),
            request: Some("<xml>notice</xml>".into()),
            response: Some("oops".into()),
            attempt: Some(1),
            acked: Some(false),
            ..rec("notify", "ORDER1")
        },
    );
    j.push(
        at(5),
        EntryKind::Callback,
        Record {
            message: "attempt 2 scheduled in 15s".into(),
            attempt: Some(2),
            next_at: Some(at(20)),
            ..rec("notify", "ORDER1")
        },
    );
    j.push(
        at(6),
        EntryKind::Fault,
        Record {
            message: "rule r1: commit_then_fail then hang".into(),
            ..Record {
                instance: "bank".into(),
                ..rec("payout.submit", "PAY1")
            }
        },
    );
    j.push(
        at(6),
        EntryKind::Inbound,
        Record {
            instance: "bank".into(),
            message: "no reply: held until the client gave up (the effect was applied)".into(),
            request: Some("{\"mchOrderNo\":\"PAY1\"}".into()),
            ..rec("payout.submit", "PAY1")
        },
    );
    j.push(
        at(7),
        EntryKind::World,
        Record {
            instance: "world".into(),
            op: "clock".into(),
            message: "clock advanced 15s".into(),
            ..Default::default()
        },
    );
    j
}

fn timeline(reference: Option<&str>) -> Timeline {
    let j = story();
    let f = Filter {
        reference: reference.map(str::to_string),
        ..Default::default()
    };
    Timeline::build(&directory(), reference, j.after(&f, 0))
}

#[test]
fn lanes_are_merchant_channels_customer_banks() {
    let ids: Vec<String> = Timeline::lanes(&directory())
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(ids, ["merchant", "wxpay", "customer", "bank"]);
}

#[test]
fn each_entry_becomes_arrows_or_notes_between_the_right_parties() {
    let t = timeline(None);
    let shape: Vec<(Class, String)> = t
        .steps
        .iter()
        .map(|s| {
            let lanes = match (&s.from, &s.to, &s.over) {
                (Some(f), Some(to), _) => format!("{f}->{to}"),
                (_, _, Some(o)) => format!("over {}", o.join(",")),
                _ => "?".into(),
            };
            (s.class, lanes)
        })
        .collect();
    let want: Vec<(Class, String)> = [
        (Class::Request, "merchant->wxpay"),
        (Class::Reply, "wxpay->merchant"),
        (Class::Customer, "customer->wxpay"),
        (Class::Posting, "over wxpay"),
        (Class::Callback, "wxpay->merchant"),
        (Class::Answer, "merchant->wxpay"),
        (Class::Retry, "over wxpay"),
        (Class::Fault, "over bank"),
        (Class::Request, "merchant->bank"),
        (Class::LostReply, "bank->merchant"),
        (Class::World, "over merchant,bank"),
    ]
    .into_iter()
    .map(|(c, s)| (c, s.to_string()))
    .collect();
    assert_eq!(shape, want);
    // The reply says what the protocol said; the answer whether it was acknowledged.
    assert_eq!(t.steps[1].label, "200 SUCCESS");
    assert_eq!(t.steps[1].status, Some(200));
    assert_eq!(t.steps[5].label, "500 not acknowledged");
    assert_eq!(t.steps[5].acked, Some(false));
    assert_eq!(t.steps[5].body.as_deref(), Some("oops"));
    assert_eq!(t.steps[4].label, "notify ORDER1 attempt 1");
    assert_eq!(t.steps[4].body.as_deref(), Some("<xml>notice</xml>"));
}

#[test]
fn a_failed_attempt_says_when_the_next_is_due_in_beijing_time() {
    let t = timeline(Some("ORDER1"));
    let retry = t.steps.iter().find(|s| s.class == Class::Retry).unwrap();
    assert_eq!(retry.attempt, Some(2));
    assert_eq!(retry.next_local.as_deref(), Some("2026-03-02 10:00:20"));
    assert_eq!(
        retry.label,
        "notify ORDER1 attempt 2 due 2026-03-02 10:00:20"
    );
    assert_eq!(retry.local, "2026-03-02 10:00:05");
    // Filtered: only ORDER1's steps, and its one reference.
    assert!(t
        .steps
        .iter()
        .all(|s| s.reference.as_deref() == Some("ORDER1")));
    assert_eq!(
        t.references(),
        [("ORDER1".to_string(), "wxpay".to_string())]
    );
    assert_eq!(timeline(None).references().len(), 2);
}

#[test]
fn json_carries_lanes_steps_and_times() {
    let v = serde_json::to_value(timeline(Some("ORDER1"))).unwrap();
    assert_eq!(v["reference"], "ORDER1");
    assert_eq!(v["lanes"][0]["label"], "settlement system");
    assert_eq!(v["lanes"][1]["role"], "channel");
    let retry = &v["steps"][6];
    assert_eq!(retry["class"], "retry");
    assert_eq!(retry["next_at"], "2026-03-02T02:00:20Z");
    assert_eq!(retry["over"][0], "wxpay");
    assert!(retry.get("from").is_none());
}

#[test]
fn mermaid_draws_the_story() {
    let m = mermaid::render(&timeline(None));
    let want = "sequenceDiagram
    participant L0 as settlement system
    participant L1 as wxpay (wechatpay-v2)
    participant L2 as customer
    participant L3 as bank (payout-json)
    L0->>L1: 2026-03-02 10:00:00 pay/unifiedorder ORDER1
    L1-->>L0: 2026-03-02 10:00:00 200 SUCCESS
    L2->>L1: 2026-03-02 10:00:05 pay ORDER1
    Note over L1: 2026-03-02 10:00:05 ledger payment: world:customers → channel:wxpay:merchant:10000100 1.01 CNY
    L1->>L0: 2026-03-02 10:00:05 notify ORDER1 attempt 1
    L0-->>L1: 2026-03-02 10:00:05 500 not acknowledged
    Note over L1: 2026-03-02 10:00:05 notify ORDER1 attempt 2 due 2026-03-02 10:00:20
    Note over L3: 2026-03-02 10:00:06 fault on payout.submit PAY1: rule r1: commit_then_fail then hang
    L0->>L3: 2026-03-02 10:00:06 payout.submit PAY1
    L3--xL0: 2026-03-02 10:00:06 no reply: held until the client gave up (the effect was applied)
    Note over L0,L3: 2026-03-02 10:00:07 clock advanced 15s
";
    assert_eq!(m, want);
    // One order's diagram declares only the parties it involves, under a title.
    let one = mermaid::render(&timeline(Some("PAY1")));
    assert!(one.starts_with(
        "sequenceDiagram\n    title sandbank timeline: PAY1\n    participant L0 as settlement system\n    participant L3 as bank (payout-json)\n"
    ), "{one}");
    assert!(!one.contains("L1"), "{one}");
}

#[test]
fn mermaid_text_cannot_break_out_of_its_line() {
    assert_eq!(mermaid::escape("a;b#c<br>d\ne"), "a#59;b#35;c#60;br#62;d e");
    let j = {
        let mut j = Journal::default();
        j.push(
            parse_instant("2026-03-02 10:00", SHANGHAI).unwrap(),
            EntryKind::Fault,
            Record {
                instance: "wxpay".into(),
                op: "notify".into(),
                reference: Some("X;\nNote over L0: injected".into()),
                message: "m".into(),
                ..Default::default()
            },
        );
        j
    };
    let m = mermaid::render(&Timeline::build(
        &directory(),
        None,
        j.after(&Filter::default(), 0),
    ));
    // Every line is the header, a participant, or one step: nothing injected.
    assert_eq!(m.lines().count(), 3, "{m}");
    assert!(
        m.contains("fault on notify X#59; Note over L0: injected: m"),
        "{m}"
    );
}

#[test]
fn long_labels_are_cut() {
    assert_eq!(label(&"x".repeat(500)).chars().count(), LABEL_MAX_CHARS);
    assert!(label(&"分".repeat(500)).ends_with('…'));
    assert_eq!(label("  short "), "short");
}

#[test]
fn what_a_bank_did_alone_is_a_note_over_its_lane_and_the_world_spans_all() {
    let mut j = Journal::default();
    let at = parse_instant("2026-03-02 10:00", SHANGHAI).unwrap();
    for instance in ["bank", "world"] {
        j.push(
            at,
            EntryKind::World,
            Record {
                instance: instance.into(),
                op: "payout.settle".into(),
                message: "PROCESSING → SUCCESS".into(),
                ..Default::default()
            },
        );
    }
    let t = Timeline::build(&directory(), None, j.after(&Filter::default(), 0));
    let over: Vec<Vec<String>> = t.steps.iter().map(|s| s.over.clone().unwrap()).collect();
    assert_eq!(
        over,
        [
            vec!["bank".to_string()],
            vec!["merchant".into(), "bank".into()]
        ]
    );
}
