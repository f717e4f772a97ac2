"""Real parsers read sandbank's statement files without adapters, into exactly what the
ledger holds: `mt-940` for MT940, `pycamt` for camt.053 (.02 and .08), Python's csv for the
WeChat bill and (after unzip and GBK decoding) the Alipay bill, whose tables are cut out
between their exact rule lines as public Alipay bill readers do.
"""
import csv
import io
import re
import zipfile
from decimal import Decimal

import mt940
import pytest
from pycamt.parser import Camt053Parser

DAYS = ["20260302", "20260303"]
# The SWIFT x character set, lines joined by the parser with a newline.
SWIFT_X_LINES = re.compile(r"[A-Za-z0-9/\-?:().,'+ \n]*")


def dec(text):
    return Decimal(str(text))


# ------------------------------------------------------------------------------- MT940


@pytest.mark.parametrize("day", DAYS)
def test_mt940_parses_into_the_ledger_movements_and_balances(statement_dir, truth, day):
    bank = truth["world"][day]["bank"]
    parsed = mt940.parse(str(statement_dir / f"mt940_{day}.sta"))
    assert parsed.data["account_identification"] == bank["account"]
    assert parsed.data["final_opening_balance"].amount.amount == dec(bank["opening"])
    assert parsed.data["final_closing_balance"].amount.amount == dec(bank["closing"])
    assert parsed.data["final_closing_balance"].amount.currency == bank["currency"]
    movements = bank["movements"]
    assert len(parsed.transactions) == len(movements)
    for tx, m in zip(parsed.transactions, movements):
        assert tx.data["id"] == "NTRF"
        assert tx.data["amount"].amount == dec(m["amount"])
        assert tx.data["customer_reference"] == m["reference"]
        assert str(tx.data["date"]) == m["date"]
        assert f"/EREF/{m['reference']}" in tx.data["transaction_details"]
        # Payee names and the rest are carried inside the SWIFT x set (docs/statements.md).
        assert SWIFT_X_LINES.fullmatch(tx.data["transaction_details"]), tx.data["transaction_details"]
        assert tx.data["status"] == ("RD" if m["kind"] == "payout_return" else "D" if dec(m["amount"]) < 0 else "C")
    opening = dec(bank["opening"])
    assert opening + sum(tx.data["amount"].amount for tx in parsed.transactions) == dec(bank["closing"])


# ---------------------------------------------------------------------------- camt.053


@pytest.mark.parametrize("version", ["02", "08"])
@pytest.mark.parametrize("day", DAYS)
def test_camt053_parses_into_the_ledger_movements_and_balances(statement_dir, truth, day, version):
    bank = truth["world"][day]["bank"]
    parser = Camt053Parser.from_file(statement_dir / f"camt053_{version}_{day}.xml")
    assert parser.version == f"camt.053.001.{version}"
    (info,) = parser.get_statement_info()
    assert info["Currency"] == bank["currency"]
    assert dec(info["OpeningBalance"]) == dec(bank["opening"])
    assert dec(info["ClosingBalance"]) == dec(bank["closing"])
    txs = parser.get_transactions()
    movements = bank["movements"]
    assert len(txs) == len(movements)
    for tx, m in zip(txs, movements):
        sign = -1 if tx["CreditDebitIndicator"] == "DBIT" else 1
        assert sign * dec(tx["Amount"]) == dec(m["amount"])
        assert tx["Currency"] == bank["currency"]
        assert tx["EndToEndId"] == m["reference"]
        assert tx["Status"] == "BOOK"
        assert tx["BookingDate"] == m["date"] and tx["ValueDate"] == m["date"]
        assert tx["BankTransactionCode"] == "PMNT"
        if m["kind"] == "payout_return":
            assert tx["ReversalIndicator"] == "true"
            assert tx["CreditDebitIndicator"] == "CRDT"
            assert tx["TransactionSubFamilyCode"] == "RRTN"
        else:
            assert tx["ReversalIndicator"] is None
    assert parser.get_group_header()["MessageID"]


# ---------------------------------------------------------------------- the WeChat bill


# Columns of each bill type's header (docs/statements.md, "The WeChat bill").
WECHAT_COLUMNS = {"ALL": 27, "SUCCESS": 20, "REFUND": 29}


def wechat_bill(path, bill_type="ALL"):
    """Detail rows (dicts, backticks stripped) and the summary (dict) of a WeChat bill."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    header = rows[0]
    assert len(header) == WECHAT_COLUMNS[bill_type] and header[0] == "交易时间"
    assert len(set(header)) == len(header), "column names are unique"
    end = next(i for i, r in enumerate(rows) if r and r[0] == "总交易单数")
    strip = lambda r: [f[1:] if f.startswith("`") else f for f in r]
    details = [dict(zip(header, strip(r))) for r in rows[1:end]]
    for r in rows[1:end] + [rows[end + 1]]:
        assert all(f.startswith("`") for f in r), r
    assert all(len(r) == len(header) for r in rows[1:end])
    summary = dict(zip(rows[end], strip(rows[end + 1])))
    return details, summary


def check_wechat_summary(details, summary):
    assert int(summary["总交易单数"]) == len(details)
    for col, total in [("应结订单金额", "应结订单总金额"), ("退款金额", "退款总金额"), ("手续费", "手续费总金额"), ("订单金额", "订单总金额"), ("申请退款金额", "申请退款总金额")]:
        # The SUCCESS bill has no refund columns: its refund totals are zero.
        assert sum(dec(r.get(col, "0")) for r in details) == dec(summary[total]), total
    assert len(summary["手续费总金额"].split(".")[1]) == 5


@pytest.mark.parametrize("day", DAYS)
def test_wechat_bill_parses_as_csv_into_the_ledger_payments(statement_dir, truth, day):
    payments = truth["world"][day]["wechat_payments"]
    details, summary = wechat_bill(statement_dir / f"wechat_all_{day}.csv")
    assert [r["商户订单号"] for r in details] == [p["out_trade_no"] for p in payments]
    for r, p in zip(details, payments):
        assert dec(r["应结订单金额"]) == dec(p["amount"]) == dec(r["订单金额"])
        assert dec(r["手续费"]) == dec(p["fee"]) and len(r["手续费"].split(".")[1]) == 5
        assert r["交易时间"] == p["time"]
        assert r["交易状态"] == "SUCCESS" and r["费率"] == "0.60%"
    check_wechat_summary(details, summary)


def test_wechat_bills_with_refunds(statement_dir, truth):
    rows = truth["synthetic"]
    details, summary = wechat_bill(statement_dir / "synthetic_wechat_all.csv")
    assert len(details) == len(rows)
    for r, t in zip(details, rows):
        assert r["商户订单号"] == t["out_trade_no"] and r["微信订单号"] == t["transaction_id"]
        assert dec(r["手续费"]) == dec(t["fee"])
        if t["kind"] == "refund":
            assert r["交易状态"] == "REFUND" and r["退款状态"] == "SUCCESS" and r["退款类型"] == "ORIGINAL"
            assert r["商户退款单号"] == t["out_refund_no"]
            assert dec(r["退款金额"]) == -dec(t["amount"]) == dec(r["申请退款金额"])
            assert dec(r["应结订单金额"]) == 0
        else:
            assert dec(r["应结订单金额"]) == dec(t["amount"]) and dec(r["退款金额"]) == 0
    check_wechat_summary(details, summary)

    refunds, refund_summary = wechat_bill(statement_dir / "synthetic_wechat_refund.csv", "REFUND")
    refunded = [t for t in rows if t["kind"] == "refund"]
    assert [r["商户退款单号"] for r in refunds] == [t["out_refund_no"] for t in refunded]
    paid_at = {t["out_trade_no"]: t["time"] for t in rows if t["kind"] == "payment"}
    for r, t in zip(refunds, refunded):
        # Dated by the order's payment; the refund's own times follow.
        assert r["交易时间"] == paid_at[t["out_trade_no"]]
        assert r["退款申请时间"] == t["refund_requested"] and r["退款成功时间"] == t["time"]
        assert r["交易时间"] <= r["退款申请时间"] <= r["退款成功时间"]
        assert dec(r["退款金额"]) == -dec(t["amount"]) == dec(r["申请退款金额"])
        assert dec(r["应结订单金额"]) == 0 == dec(r["订单金额"]) and dec(r["手续费"]) == dec(t["fee"])
    check_wechat_summary(refunds, refund_summary)

    payments, success_summary = wechat_bill(statement_dir / "synthetic_wechat_success.csv", "SUCCESS")
    paid = [t for t in rows if t["kind"] == "payment"]
    assert [(r["商户订单号"], r["交易时间"]) for r in payments] == [(t["out_trade_no"], t["time"]) for t in paid]
    for r, t in zip(payments, paid):
        assert r["交易状态"] == "SUCCESS" and dec(r["应结订单金额"]) == dec(t["amount"]) == dec(r["订单金额"])
    check_wechat_summary(payments, success_summary)


# ---------------------------------------------------------------------- the Alipay bill


# The rule lines as public Alipay bill readers split on them, whole lines compared
# (docs/statements.md, "The Alipay bill's fixed lines"): the summary's closing rule has one dash
# fewer before its words and one more after them than the detail's.
def alipay_rule(lead, words, tail):
    return "#" + "-" * lead + words + "-" * tail


DETAIL_OPEN = alipay_rule(41, "业务明细列表", 40)
DETAIL_CLOSE = alipay_rule(41, "业务明细列表结束", 36)
SUMMARY_OPEN = alipay_rule(41, "业务汇总列表", 40)
SUMMARY_CLOSE = alipay_rule(40, "业务汇总列表结束", 37)


def between_rules(lines, open_rule, close_rule):
    """The lines strictly between the exact opening rule and the exact closing rule, as the
    public readers cut a table out of the file (a substring between the two whole lines, or
    the lines from one rule to the other). No closing rule is an error: such a reader never
    finds the end of the table and its run fails."""
    assert open_rule in lines, f"no opening rule {open_rule!r}"
    start = lines.index(open_rule)
    if close_rule not in lines[start + 1 :]:
        raise LookupError(f"no closing rule {close_rule!r} after the opening one")
    end = lines.index(close_rule, start + 1)
    return start, end


def alipay_members(path):
    """(name, text) of the members of an Alipay bill ZIP, names and CSVs decoded from GBK.

    The names are GBK bytes without the UTF-8 flag (bit 11), as in the real downloads, so
    zipfile hands them out decoded as CP437: encoding them back gives the bytes stored."""
    with zipfile.ZipFile(path) as z:
        members = []
        for i in z.infolist():
            assert not i.flag_bits & 0x800, f"{i.filename!r}: the UTF-8 flag is set"
            members.append((i.filename.encode("cp437").decode("gbk"), z.read(i).decode("gbk")))
        return members


def alipay_bill(path):
    """(detail rows as dicts, footer lines, summary rows as dicts) of an Alipay bill ZIP,
    each table cut out between its exact rule lines, tabs dropped, then read as CSV."""
    (detail_name, detail_text), (summary_name, summary_text) = alipay_members(path)
    assert detail_name.endswith("_业务明细.csv") and summary_name.endswith("_业务明细(汇总).csv")
    for text in (detail_text, summary_text):
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = detail_text[: -len("\r\n")].split("\r\n")
    assert lines[0] == "#支付宝业务明细查询" and lines[1].startswith("#账号：[2088") and lines[1].endswith("0156]")
    start, end = between_rules(lines, DETAIL_OPEN, DETAIL_CLOSE)
    table = list(csv.reader(io.StringIO("\n".join(lines[start + 1 : end]))))
    assert all(r[0].endswith("\t") for r in table[1:]), "text fields end with a TAB"
    table = [[f.replace("\t", "") for f in r] for r in table]
    header = table[0]
    assert len(header) == 25 and header[0] == "支付宝交易号"
    details = [dict(zip(header, r)) for r in table[1:]]
    slines = summary_text[: -len("\r\n")].split("\r\n")
    assert slines[0] == "#支付宝业务汇总查询"
    sstart, send = between_rules(slines, SUMMARY_OPEN, SUMMARY_CLOSE)
    assert slines[send + 1 :] == [lines[-1]], "the summary ends with the detail's export line"
    stable = list(csv.reader(io.StringIO("\n".join(l.replace("\t", "") for l in slines[sstart + 1 : send]))))
    assert len(stable[0]) == 12 and stable[0][0] == "门店编号"
    summary = [dict(zip(stable[0], r)) for r in stable[1:]]
    return details, lines[end + 1 :], summary


def test_a_reader_that_splits_on_the_rules_fails_on_the_old_summary_close():
    """The reader above is as strict as the public ones: a summary closed with the detail's
    41/36 rule (what sandbank wrote before) has no end for it."""
    old = alipay_rule(41, "业务汇总列表结束", 36)
    lines = ["#支付宝业务汇总查询", SUMMARY_OPEN, "门店编号,门店名称", "合计\t,\t", old, "#导出时间：[2026年03月03日 06:00:00]"]
    with pytest.raises(LookupError):
        between_rules(lines, SUMMARY_OPEN, SUMMARY_CLOSE)
    assert between_rules(lines[:4] + [SUMMARY_CLOSE] + lines[5:], SUMMARY_OPEN, SUMMARY_CLOSE) == (1, 4)


def footer_numbers(footer):
    import re

    trades = re.match(r"#交易合计：(\d+)笔，商家实收共(-?[\d.]+)元", footer[0])
    refunds = re.match(r"#退款合计：(\d+)笔，商家实收退款共(-?[\d.]+)元", footer[1])
    assert footer[2].startswith("#导出时间：[")
    return int(trades[1]), dec(trades[2]), int(refunds[1]), dec(refunds[2])


def check_alipay_totals(details, footer, summary):
    trades = [r for r in details if r["业务类型"] == "交易"]
    refunds = [r for r in details if r["业务类型"] == "退款"]
    assert len(trades) + len(refunds) == len(details)
    n_t, sum_t, n_r, sum_r = footer_numbers(footer)
    assert (n_t, n_r) == (len(trades), len(refunds))
    assert sum_t == sum(dec(r["商家实收（元）"]) for r in trades)
    assert sum_r == sum(dec(r["商家实收（元）"]) for r in refunds)
    (total,) = summary
    assert total["门店编号"] == "合计"
    assert (int(total["交易订单总笔数"]), int(total["退款订单总笔数"])) == (n_t, n_r)
    assert dec(total["商家实收（元）"]) == sum_t + sum_r
    assert dec(total["服务费（元）"]) == sum(dec(r["服务费（元）"]) for r in details)


@pytest.mark.parametrize("day", DAYS)
def test_alipay_bill_unzips_decodes_and_parses_into_the_ledger_payments(statement_dir, truth, day):
    payments = truth["world"][day]["wechat_payments"]
    details, footer, summary = alipay_bill(statement_dir / f"alipay_{day}.zip")
    assert [r["商户订单号"] for r in details] == [p["out_trade_no"] for p in payments]
    for r, p in zip(details, payments):
        assert r["业务类型"] == "交易"
        assert dec(r["订单金额（元）"]) == dec(p["amount"]) == dec(r["商家实收（元）"])
        assert dec(r["服务费（元）"]) == -dec(p["fee"])
        assert r["完成时间"] == p["time"]
    check_alipay_totals(details, footer, summary)


def test_alipay_bill_with_refunds(statement_dir, truth):
    rows = truth["synthetic"]
    details, footer, summary = alipay_bill(statement_dir / "synthetic_alipay.zip")
    assert len(details) == len(rows)
    for r, t in zip(details, rows):
        assert r["支付宝交易号"] == t["transaction_id"] and r["商户订单号"] == t["out_trade_no"]
        assert r["商品名称"] == t["subject"]
        assert dec(r["商家实收（元）"]) == dec(t["amount"])
        if t["kind"] == "refund":
            assert r["业务类型"] == "退款" and dec(r["订单金额（元）"]) < 0
            assert r["退款批次号/请求号"] == t["out_refund_no"]
        else:
            assert r["业务类型"] == "交易" and r["退款批次号/请求号"] == ""
    check_alipay_totals(details, footer, summary)
