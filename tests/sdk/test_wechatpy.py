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
