"""Unmodified wechatpy 1.8.18 against sandbank's WeChat Pay v2 fake (default world).

Each test does what a merchant's integration does with the SDK — create an order, query it,
receive and verify the payment notification, download the bill — and checks the outcome
against the fake's own record (control API: ledger, journal).
"""

import datetime

import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay


# Waits between notification attempts documented by WeChat Pay, the first four
# (docs/protocols.md#a4-notifications-and-the-retry-ladder).
LADDER_HEAD = ["15s", "15s", "30s", "3m"]


def create_native(pay, order_no, notify_url, total_fee=101):
    return pay.order.create(
        trade_type="NATIVE",
        body="sandbank SDK test",
        total_fee=total_fee,
        notify_url=notify_url,
        client_ip="127.0.0.1",  # so wechatpy does no DNS look-up for its own IP
        out_trade_no=order_no,
        product_id="P-0001",
    )


def test_order_create_native_and_query(pay, control, merchant, order_no, receiver):
    res = create_native(pay, order_no, receiver.url)
    assert res["return_code"] == "SUCCESS" and res["result_code"] == "SUCCESS"
    assert res["trade_type"] == "NATIVE"
    assert res["prepay_id"].startswith("wx")
    assert res["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert res["appid"] == merchant["appid"] and res["mch_id"] == merchant["mch_id"]
    # The reply is signed with the merchant key, as wechatpy itself would check it.
    assert pay.check_signature(dict(res))

    q = pay.order.query(out_trade_no=order_no)
    assert q["trade_state"] == "NOTPAY"
    assert q["out_trade_no"] == order_no
    assert q["total_fee"] == "101"
    assert pay.check_signature(dict(q))


def test_payment_is_queried_and_its_notification_parsed(pay, control, order_no, receiver):
    create_native(pay, order_no, receiver.url)
    paid = control.pay(order_no)
    control.settle()

    q = pay.order.query(out_trade_no=order_no)
    assert q["trade_state"] == "SUCCESS"
    assert q["transaction_id"] == paid["transaction_id"]
    assert q["total_fee"] == "101"

    assert receiver.count() == 1
    data = pay.parse_payment_result(receiver.bodies[0])  # raises on a bad signature
    assert data["out_trade_no"] == order_no
    assert data["transaction_id"] == paid["transaction_id"]
    assert data["total_fee"] == 101 and data["cash_fee"] == 101
    assert data["result_code"] == "SUCCESS" and data["return_code"] == "SUCCESS"

    # Acknowledged: a day later there has been no second attempt.
    control.advance("25h")
    assert receiver.count() == 1


def test_unacknowledged_notification_is_resent_on_the_ladder(pay, control, order_no, receiver):
    receiver.ack = False
    create_native(pay, order_no, receiver.url)
    control.pay(order_no)
    control.settle()
    assert receiver.count() == 1

    for attempt, wait in enumerate(LADDER_HEAD, start=2):
        control.advance(wait)
        assert receiver.count() == attempt, f"attempt {attempt} is due {wait} after the previous one"
    # The next wait is 10 minutes: nothing comes before it.
    control.advance("9m")
    assert receiver.count() == 5
    control.advance("1m")
    assert receiver.count() == 6

    # Every attempt is the same valid notification.
    assert len({pay.parse_payment_result(b)["transaction_id"] for b in receiver.bodies}) == 1
    sent = [e for e in control.journal(kind="callback", reference=order_no) if "status" in e]
    assert len(sent) == 6
    assert all("not acknowledged" in e["message"] for e in sent)

    # Once acknowledged, the retries stop.
    receiver.ack = True
    control.advance("20m")
    assert receiver.count() == 7
    control.advance("25h")
    assert receiver.count() == 7


def test_wrong_api_key_is_signerror_and_moves_no_money(make_pay, pay, control, order_no, receiver):
    before = control.ledger()
    wrong = make_pay(api_key="0" * 32)
    with pytest.raises(WeChatPayException) as e:
        create_native(wrong, order_no, receiver.url)
    assert e.value.errcode == "SIGNERROR"
    assert e.value.return_code == "FAIL"
    assert control.ledger() == before
    with pytest.raises(WeChatPayException) as e:
        pay.order.query(out_trade_no=order_no)
    assert e.value.errcode == "ORDERNOTEXIST"


def test_api_base_url_needs_its_trailing_slash(sandbank_addr, pay, control, order_no):
    # The URL is '{base}{endpoint}' (docs/protocols.md#c-pointing-wechatpy-at-sandbank), so
    # without the slash wechatpy asks for /wxpaypay/orderquery, which the fake does not serve.
    assert WeChatPay.API_BASE_URL == "https://api.mch.weixin.qq.com/"
    assert pay.API_BASE_URL.endswith("/wxpay/")
    pay.API_BASE_URL = f"http://{sandbank_addr}/wxpay"
    with pytest.raises(WeChatPayException) as e:
        pay.order.query(out_trade_no=order_no)
    assert e.value.response is not None and e.value.response.status_code == 404
    assert e.value.response.request.url.endswith("/wxpaypay/orderquery")
    assert control.journal(kind="inbound") == []


def test_download_bill_returns_the_text_bill_from_nine_the_next_morning(pay, control, order_no, receiver):
    create_native(pay, order_no, receiver.url, total_fee=250)
    control.pay(order_no)
    today = datetime.date.fromisoformat(control.get("clock")["now_local"][:10])
    tomorrow = today + datetime.timedelta(days=1)

    control.post("clock", {"to": f"{tomorrow.isoformat()} 08:59"})
    with pytest.raises(WeChatPayException) as e:
        pay.tools.download_bill(today)
    # Not generated yet: `Bill Creating` (a late bill), never `No Bill Exist` (no trades).
    assert e.value.return_code == "FAIL" and e.value.return_msg == "Bill Creating"
    with pytest.raises(WeChatPayException) as e:
        pay.tools.download_bill(today - datetime.timedelta(days=1))
    assert e.value.return_code == "FAIL" and e.value.return_msg == "No Bill Exist"

    control.post("clock", {"to": f"{tomorrow.isoformat()} 09:00"})
    bill = pay.tools.download_bill(today)
    assert isinstance(bill, str), "wechatpy hands the raw text over when it is not XML"
    lines = bill.splitlines()
    assert lines[0].startswith("交易时间,公众账号ID,商户号,")
    row = lines[1].split(",")
    assert all(f.startswith("`") for f in row)
    assert f"`{order_no}" in row
    assert "`2.50" in row
    assert lines[-1].startswith("`1,`2.50,")


def test_jsapi_order_signed_with_hmac(pay, control, order_no, receiver):
    # wechatpy signs with HMAC-SHA256 when the request says so; the fake verifies it that way.
    res = pay.order.create(
        trade_type="JSAPI",
        body="sandbank SDK test",
        total_fee=1,
        notify_url=receiver.url,
        client_ip="127.0.0.1",
        user_id="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        out_trade_no=order_no,
        sign_type="HMAC-SHA256",
    )
    assert res["result_code"] == "SUCCESS"
    assert res["trade_type"] == "JSAPI"
    assert "code_url" not in res
    assert len(res["sign"]) == 64, "the reply is signed HMAC-SHA256 too"
    # JSAPI without the payer's openid is refused with the documented code.
    with pytest.raises(WeChatPayException) as e:
        pay.order.create(
            trade_type="JSAPI",
            body="sandbank SDK test",
            total_fee=1,
            notify_url=receiver.url,
            client_ip="127.0.0.1",
            out_trade_no=order_no + "X",
        )
    assert e.value.errcode == "LACK_PARAMS"


# ---------------------------------------------------------------- refunds, close, barcode
# docs/protocols.md, A.6–A.9. The refund endpoint needs a client certificate at the real
# channel; wechatpy sends one only when given `mch_cert`/`mch_key`, and sandbank's plain HTTP
# endpoint checks the signature alone, so the unmodified client works without one.


def paid_order(pay, control, order_no, receiver, total_fee=1000):
    create_native(pay, order_no, receiver.url, total_fee=total_fee)
    paid = control.pay(order_no)
    control.settle()
    return paid


def test_refund_query_and_refund_notification_decrypted_by_wechatpy(pay, control, order_no, receiver):
    paid = paid_order(pay, control, order_no, receiver)
    refund_no = "R" + order_no
    res = pay.refund.apply(
        total_fee=1000,
        refund_fee=300,
        out_refund_no=refund_no,
        out_trade_no=order_no,
        notify_url=receiver.url,
    )
    assert res["result_code"] == "SUCCESS"
    assert res["out_refund_no"] == refund_no and res["refund_fee"] == "300"
    assert res["transaction_id"] == paid["transaction_id"]
    assert pay.check_signature(dict(res))
    refund_id = res["refund_id"]

    q = pay.refund.query(out_refund_no=refund_no)
    assert q["refund_count"] == "1"
    assert q["refund_status_0"] == "PROCESSING"
    assert q["refund_id_0"] == refund_id
    assert pay.check_signature(dict(q))

    # The channel's refund_after (10 s in the default world) on the world clock.
    control.advance("10s")
    q = pay.refund.query(out_trade_no=order_no)
    assert q["refund_status_0"] == "SUCCESS"
    assert q["refund_success_time_0"]
    assert pay.order.query(out_trade_no=order_no)["trade_state"] == "REFUND"

    assert receiver.count() == 2, "the payment notification, then the refund's"
    data = pay.parse_refund_notify_result(receiver.bodies[1])  # decrypts req_info
    assert data["out_refund_no"] == refund_no
    assert data["out_trade_no"] == order_no
    assert data["refund_id"] == refund_id
    assert data["refund_status"] == "SUCCESS"
    assert data["refund_fee"] == 300 and data["total_fee"] == 1000
    assert data["settlement_refund_fee"] == 300
    assert data["transaction_id"] == paid["transaction_id"]

    # The refund is a ledger movement merchant → customer.
    refunds = [p for p in control.ledger()["postings"] if p["kind"] == "refund"]
    assert [p["reference"] for p in refunds] == [refund_no]


def test_refund_is_idempotent_on_out_refund_no_and_keeps_to_the_rules(pay, control, order_no, receiver):
    paid_order(pay, control, order_no, receiver, total_fee=500)
    first = pay.refund.apply(total_fee=500, refund_fee=200, out_refund_no="A" + order_no, out_trade_no=order_no)
    again = pay.refund.apply(total_fee=500, refund_fee=200, out_refund_no="A" + order_no, out_trade_no=order_no)
    assert again["refund_id"] == first["refund_id"]
    # A second refund of the order within a minute.
    with pytest.raises(WeChatPayException) as e:
        pay.refund.apply(total_fee=500, refund_fee=100, out_refund_no="B" + order_no, out_trade_no=order_no)
    assert e.value.errcode == "FREQUENCY_LIMITED"
    control.advance("1m")
    with pytest.raises(WeChatPayException) as e:
        pay.refund.apply(total_fee=500, refund_fee=301, out_refund_no="B" + order_no, out_trade_no=order_no)
    assert e.value.errcode == "INVALID_REQUEST"
    pay.refund.apply(total_fee=500, refund_fee=300, out_refund_no="B" + order_no, out_trade_no=order_no)
    control.advance("1m")
    refunds = [p for p in control.ledger()["postings"] if p["kind"] == "refund"]
    assert sorted(p["reference"] for p in refunds) == sorted(["A" + order_no, "B" + order_no])
    with pytest.raises(WeChatPayException) as e:
        pay.refund.query(out_refund_no="C" + order_no)
    assert e.value.errcode == "REFUNDNOTEXIST"


def test_refund_with_a_wrong_key_moves_no_money(make_pay, pay, control, order_no, receiver):
    paid_order(pay, control, order_no, receiver)
    before = len(control.ledger()["postings"])
    with pytest.raises(WeChatPayException) as e:
        make_pay(api_key="0" * 32).refund.apply(
            total_fee=1000, refund_fee=1000, out_refund_no="W" + order_no, out_trade_no=order_no
        )
    assert e.value.errcode == "SIGNERROR"
    control.advance("1h")
    assert len(control.ledger()["postings"]) == before


def test_refunds_are_rows_of_the_refund_bill(pay, control, order_no, receiver):
    paid_order(pay, control, order_no, receiver, total_fee=250)
    pay.refund.apply(total_fee=250, refund_fee=250, out_refund_no="B" + order_no, out_trade_no=order_no)
    control.advance("10s")
    today = datetime.date.fromisoformat(control.get("clock")["now_local"][:10])
    tomorrow = today + datetime.timedelta(days=1)
    control.post("clock", {"to": f"{tomorrow.isoformat()} 09:00"})
    bill = pay.tools.download_bill(today, bill_type="REFUND")
    lines = bill.splitlines()
    header = lines[0].split(",")
    # The REFUND bill's own 29 columns: the refund's request and success times before its ids.
    assert len(header) == 29 and header[14:16] == ["退款申请时间", "退款成功时间"]
    row = dict(zip(header, (f.lstrip("`") for f in lines[1].split(","))))
    assert row["商户订单号"] == order_no and row["商户退款单号"] == "B" + order_no
    assert (row["交易状态"], row["退款金额"], row["退款类型"], row["退款状态"]) == ("REFUND", "2.50", "ORIGINAL", "SUCCESS")
    assert row["退款申请时间"] < row["退款成功时间"], row


def test_close_order_after_five_minutes(pay, control, order_no, receiver):
    create_native(pay, order_no, receiver.url)
    with pytest.raises(WeChatPayException) as e:
        pay.order.close(order_no)
    assert e.value.errcode == "SYSTEMERROR", "not within 5 minutes of creation"
    control.advance("5m")
    res = pay.order.close(order_no)
    assert res["result_code"] == "SUCCESS"
    assert pay.order.query(out_trade_no=order_no)["trade_state"] == "CLOSED"


def test_close_a_paid_order_is_orderpaid(pay, control, order_no, receiver):
    paid_order(pay, control, order_no, receiver)
    with pytest.raises(WeChatPayException) as e:
        pay.order.close(order_no)
    assert e.value.errcode == "ORDERPAID"


def test_micropay_userpaying_then_paid_then_reversed(pay, control, order_no):
    res = pay.micropay.create(
        body="barcode", total_fee=100, auth_code="134567890123456789", client_ip="127.0.0.1",
        out_trade_no=order_no,
    )
    assert res["result_code"] == "SUCCESS" and res["trade_type"] == "MICROPAY"
    assert pay.check_signature(dict(res))

    waiting = order_no + "W"
    control.post("faults", {"target": "wxpay", "op": "pay/micropay", "order": waiting,
                            "action": "outcome", "outcome": "USERPAYING", "delay": "20s"})
    with pytest.raises(WeChatPayException) as e:
        pay.micropay.create(body="barcode", total_fee=100, auth_code="134567890123456789",
                            client_ip="127.0.0.1", out_trade_no=waiting)
    assert e.value.errcode == "USERPAYING"
    assert pay.micropay.query(out_trade_no=waiting)["trade_state"] == "USERPAYING"
    control.advance("20s")
    assert pay.micropay.query(out_trade_no=waiting)["trade_state"] == "SUCCESS"

    rev = pay.order.reverse(out_trade_no=waiting)
    assert rev["result_code"] == "SUCCESS" and rev["recall"] == "N"
    assert pay.micropay.query(out_trade_no=waiting)["trade_state"] == "REVOKED"
