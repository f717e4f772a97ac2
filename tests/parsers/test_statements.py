"""Real parsers read sandbank's statement files without adapters, into exactly what the
ledger holds: `mt-940` for MT940, `pycamt` for camt.053 (.02 and .08), Python's csv for the
WeChat bill and (after unzip and GBK decoding) the Alipay bill.
"""
import csv
import io
import zipfile
from decimal import Decimal

import mt940
import pytest
from pycamt.parser import Camt053Parser

DAYS = ["20260302", "20260303"]


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


def wechat_bill(path):
    """Detail rows (dicts, backticks stripped) and the summary (dict) of a WeChat bill."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    header = rows[0]
    assert len(header) == 27 and header[0] == "交易时间"
    end = next(i for i, r in enumerate(rows) if r and r[0] == "总交易单数")
    strip = lambda r: [f[1:] if f.startswith("`") else f for f in r]
    details = [dict(zip(header, strip(r))) for r in rows[1:end]]
    for r in rows[1:end] + [rows[end + 1]]:
        assert all(f.startswith("`") for f in r), r
    summary = dict(zip(rows[end], strip(rows[end + 1])))
    return details, summary


def check_wechat_summary(details, summary):
    assert int(summary["总交易单数"]) == len(details)
    for col, total in [("应结订单金额", "应结订单总金额"), ("退款金额", "退款总金额"), ("手续费", "手续费总金额"), ("订单金额", "订单总金额"), ("申请退款金额", "申请退款总金额")]:
        assert sum(dec(r[col]) for r in details) == dec(summary[total]), total
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
    refunds, refund_summary = wechat_bill(statement_dir / "synthetic_wechat_refund.csv")
    assert [r["商户退款单号"] for r in refunds] == [t["out_refund_no"] for t in rows if t["kind"] == "refund"]
    check_wechat_summary(refunds, refund_summary)


# ---------------------------------------------------------------------- the Alipay bill


def alipay_bill(path):
    """(detail rows as dicts, footer lines, summary rows as dicts) of an Alipay bill ZIP."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert len(names) == 2 and names[0].endswith("_业务明细.csv") and names[1].endswith("_业务明细(汇总).csv")
        detail_text = z.read(names[0]).decode("gbk")
        summary_text = z.read(names[1]).decode("gbk")
    lines = detail_text.splitlines()
    assert lines[0] == "#支付宝业务明细查询" and lines[1].startswith("#账号：[2088") and lines[1].endswith("0156]")
    header_at = next(i for i, l in enumerate(lines) if l.startswith("支付宝交易号,"))
    end = next(i for i, l in enumerate(lines) if l.startswith("#") and "业务明细列表结束" in l)
    table = list(csv.reader(io.StringIO("\n".join(lines[header_at:end]))))
    header = table[0]
    assert len(header) == 25
    details = [dict(zip(header, (f.rstrip("\t") for f in r))) for r in table[1:]]
    assert all(r[0].endswith("\t") for r in table[1:]), "text fields end with a TAB"
    slines = summary_text.splitlines()
    assert slines[0] == "#支付宝业务汇总查询"
    sheader_at = next(i for i, l in enumerate(slines) if l.startswith("门店编号,"))
    stable = list(csv.reader(io.StringIO("\n".join(l for l in slines[sheader_at:] if not l.startswith("#")))))
    summary = [dict(zip(stable[0], (f.rstrip("\t") for f in r))) for r in stable[1:]]
    return details, lines[end + 1 :], summary


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
