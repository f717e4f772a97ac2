//! Unit tests of `config.rs`.

use super::super::template::render;
use super::*;

const GOOD: &str = r#"
[start]
command = "{sut_bin} --listen {sut_addr} --sandbank {sandbank_url} --bug {bug}"
ready = "http://{sut_addr}/health"
[vars]
sut_bin = "cargo run --example x --"
bug = "none"
sut = "http://{sut_addr}"
[hooks.onboard_merchant]
url = "{sut}/merchants"
body = '{"merchant_id":"{merchant_id}","account_no":"{account_no}"}'
[hooks.create_order]
url = "{sut}/orders"
body = '{"merchant_id":"{merchant_id}","amount_minor":{amount_minor}}'
[hooks.run_settlement]
command = "echo {date}"
[hooks.run_reconciliation]
url = "{sut}/rec"
body = '{"date":"{date}"}'
[hooks.reconciliation_report]
url = "{sut}/rec/{date}"
"#;

#[test]
fn a_good_adapter_loads_and_renders() {
    let a = load_str(GOOD, "a.toml", &BTreeMap::new()).unwrap();
    assert!(a.start.is_some());
    let mut builtins = BTreeMap::new();
    builtins.insert("sut_addr".to_string(), "127.0.0.1:9".to_string());
    builtins.insert("sandbank_url".to_string(), "http://127.0.0.1:8".to_string());
    let v = a.vars_with(
        &builtins,
        &[("merchant_id", "M1".into()), ("amount_minor", "100".into())],
    );
    let HookAction::Http { url, body, .. } = &a.hooks["create_order"].action else {
        panic!()
    };
    assert_eq!(render(url, &v, false).unwrap(), "http://127.0.0.1:9/orders");
    assert_eq!(
        render(body.as_ref().unwrap(), &v, false).unwrap(),
        r#"{"merchant_id":"M1","amount_minor":100}"#
    );
    let cmd = render(&a.start.as_ref().unwrap().command, &v, true).unwrap();
    assert_eq!(
        cmd,
        "cargo run --example x -- --listen 127.0.0.1:9 --sandbank http://127.0.0.1:8 --bug 'none'"
    );
    assert_eq!(a.hooks["run_settlement"].timeout, HOOK_TIMEOUT);
}

#[test]
fn overrides_replace_vars() {
    let mut o = BTreeMap::new();
    o.insert("bug".to_string(), "new-order-no-on-retry".to_string());
    let a = load_str(GOOD, "a.toml", &o).unwrap();
    assert_eq!(a.vars["bug"], "new-order-no-on-retry");
}

#[test]
fn errors_name_the_hook_and_field() {
    let e = load_str(
        &GOOD.replace("{merchant_id}\",\"amount", "{merchant}\",\"amount"),
        "a.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.field, "hooks.create_order.body");
    assert!(e.problem.contains("unknown variable `{merchant}`"), "{e}");
    let e = load_str(
        &GOOD.replace("[hooks.run_settlement]\ncommand = \"echo {date}\"", ""),
        "a.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.field, "hooks.run_settlement");
    let e = load_str(
        &GOOD.replace("reconciliation_report]", "reconcile_report]"),
        "a.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.field, "hooks.reconcile_report");
    let e = load_str("[hooks.x", "a.toml", &BTreeMap::new()).unwrap_err();
    assert!(e.to_string().starts_with("a.toml: "), "{e}");
    // A hook variable is not visible in another hook.
    let e = load_str(
        &GOOD.replace("/rec/{date}", "/rec/{merchant_id}"),
        "a.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.field, "hooks.reconciliation_report.url");
}

#[test]
fn the_refund_hook_is_optional_and_the_policy_is_checked() {
    let a = load_str(GOOD, "a.toml", &BTreeMap::new()).unwrap();
    assert_eq!(a.refund_policy, RefundPolicy::PreDeposit);
    assert!(!a.hooks.contains_key("create_refund"));
    let with_refund = format!(
        "refund_policy = \"{{policy}}\"\n{}\n[hooks.create_refund]\nurl = \"{{sut}}/refunds\"\nbody = '{{\"no\":\"{{out_trade_no}}\",\"amount\":{{amount_minor}}}}'\n",
        GOOD.replace("bug = \"none\"", "bug = \"none\"\npolicy = \"netted\"")
    );
    let a = load_str(&with_refund, "a.toml", &BTreeMap::new()).unwrap();
    assert_eq!(a.refund_policy, RefundPolicy::Netted);
    assert!(a.hooks.contains_key("create_refund"));
    let mut o = BTreeMap::new();
    o.insert("policy".to_string(), "pre_deposit".to_string());
    assert_eq!(
        load_str(&with_refund, "a.toml", &o).unwrap().refund_policy,
        RefundPolicy::PreDeposit
    );
    o.insert("policy".to_string(), "net".to_string());
    let e = load_str(&with_refund, "a.toml", &o).unwrap_err();
    assert_eq!(e.field, "refund_policy");
    assert!(e.problem.contains("`net` is not a refund policy"), "{e}");
    // The refund hook's variables are its own.
    let e = load_str(
        &with_refund.replace("{out_trade_no}", "{date}"),
        "a.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.field, "hooks.create_refund.body");
}
