"""Unmodified python-alipay-sdk 3.4.0 against sandbank's Alipay gateway (default world).

Each test does what a merchant's integration does with the SDK — precreate or charge a
payment code, query, receive and verify the notification, refund, fetch the bill — with the
SDK's own response signature check (it verifies every response and raises on a bad one), and
checks the outcome against the fake's own record (control API: ledger, orders).
"""

import io
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import pytest
from alipay.exceptions import AliPayValidationError



def http_get(url):
    """GET `url`: (status, body bytes), HTTP errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

# The waits between notification attempts documented by Alipay (docs/protocols.md, B.5), the
# first three.
LADDER_HEAD = ["4m", "10m", "10m"]


def notification(body):
    """A notification's fields and its sign, as a merchant's handler reads them."""
    data = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return data, data.pop("sign")


def test_precreate_query_pay_and_verify_the_notification(make_alipay, control, order_no, receiver):
    alipay = make_alipay(notify_url=receiver.url)
    res = alipay.api_alipay_trade_precreate(subject="sandbank 测试", out_trade_no=order_no, total_amount="88.88")
    assert res["code"] == "10000" and res["msg"] == "Success"
    assert res["out_trade_no"] == order_no
    assert res["qr_code"].startswith("https://qr.alipay.com/")

    # Nobody scanned the QR code yet: Alipay does not know the trade.
    q = alipay.api_alipay_trade_query(out_trade_no=order_no)
    assert q["code"] == "40004" and q["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    paid = control.pay(order_no)
    control.settle()
    q = alipay.api_alipay_trade_query(out_trade_no=order_no)
    assert q["code"] == "10000"
    assert q["trade_status"] == "TRADE_SUCCESS"
    assert q["total_amount"] == "88.88"
    assert q["trade_no"] == paid["trade_no"]

    assert receiver.count() == 1
    data, sign = notification(receiver.bodies[0])
    assert alipay.verify(dict(data), sign)  # the SDK drops sign_type itself
    assert data["trade_status"] == "TRADE_SUCCESS"
    assert data["out_trade_no"] == order_no and data["trade_no"] == paid["trade_no"]
    assert data["total_amount"] == "88.88"
    assert data["app_id"] == alipay.appid
    # Tampered, it does not verify.
    forged = dict(data, total_amount="0.01")
    assert not alipay.verify(forged, sign)

    # Acknowledged with `success`: nothing more a day later.
    control.advance("25h")
    assert receiver.count() == 1
    kinds = [p["kind"] for p in control.postings()]
    assert kinds == ["payment", "fee"]


def test_unacknowledged_notifications_repeat_on_the_ladder(make_alipay, control, order_no, receiver):
    receiver.reply = "fail"
    alipay = make_alipay(notify_url=receiver.url)
    alipay.api_alipay_trade_precreate(subject="ladder", out_trade_no=order_no, total_amount="1.00")
    control.pay(order_no)
    control.settle()
    assert receiver.count() == 1
    for attempt, wait in enumerate(LADDER_HEAD, start=2):
        control.advance(wait)
        assert receiver.count() == attempt, f"attempt {attempt} is due {wait} after the previous one"
    ids = {notification(b)[0]["notify_id"] for b in receiver.bodies}
    assert len(ids) == 1, "notify_id is the same on every attempt"
    for b in receiver.bodies:
        data, sign = notification(b)
        assert alipay.verify(data, sign)


def test_a_request_signed_with_the_wrong_key_is_refused_and_moves_nothing(make_alipay, credentials, control, order_no):
    # Any other RSA key: the SDK signs with it, the gateway checks with the app's public key.
    # (The Alipay key pair's private half is not handed out; the fake's own is compiled in, so
    # a second app key is made here.)
    from Cryptodome.PublicKey import RSA

    other = RSA.generate(2048).export_key(pkcs=8).decode()
    alipay = make_alipay(private_key=other)
    res = alipay.api_alipay_trade_pay(order_no, "bar_code", "287634438256643941", "x", total_amount="5.00")
    assert res["code"] == "40002" and res["sub_code"] == "isv.invalid-signature"
    assert control.postings() == []


def test_the_sdk_refuses_a_response_it_cannot_verify(make_alipay, order_no):
    # Configured with the app's public key as "the Alipay public key", the SDK's check of
    # sandbank's signed response must fail: the responses really are signed and checked.
    from Cryptodome.PublicKey import RSA

    wrong = RSA.generate(2048).publickey().export_key().decode()
    alipay = make_alipay(alipay_public_key=wrong)
    with pytest.raises(AliPayValidationError):
        alipay.api_alipay_trade_query(out_trade_no=order_no)


def test_barcode_payment_refund_and_refund_query(make_alipay, control, order_no, receiver):
    alipay = make_alipay(notify_url=receiver.url)
    res = alipay.api_alipay_trade_pay(order_no, "bar_code", "287634438256643941", "barcode", total_amount="100.00")
    assert res["code"] == "10000"
    assert res["total_amount"] == "100.00"
    control.settle()
    assert receiver.count() == 1

    r = alipay.api_alipay_trade_refund(refund_amount="30.00", out_trade_no=order_no, out_request_no="R1")
    assert r["code"] == "10000" and r["fund_change"] == "Y" and r["refund_fee"] == "30.00"
    again = alipay.api_alipay_trade_refund(refund_amount="30.00", out_trade_no=order_no, out_request_no="R1")
    assert again["fund_change"] == "N", "the same out_request_no refunds once"
    q = alipay.api_alipay_trade_fastpay_refund_query("R1", out_trade_no=order_no)
    assert q["refund_status"] == "REFUND_SUCCESS" and q["refund_amount"] == "30.00"

    # The partial refund is notified, signed like any other notification.
    control.settle()
    assert receiver.count() == 2
    data, sign = notification(receiver.bodies[1])
    assert alipay.verify(data, sign)
    assert data["refund_fee"] == "30.00" and data["trade_status"] == "TRADE_SUCCESS"
    kinds = [p["kind"] for p in control.postings()]
    assert kinds == ["payment", "fee", "refund", "fee"]


def test_a_partial_refund_is_notified_and_the_sdk_verifies_it(make_alipay, control, order_no, receiver):
    alipay = make_alipay(notify_url=receiver.url)
    res = alipay.api_alipay_trade_precreate(subject="refund notify", out_trade_no=order_no, total_amount="88.88")
    assert res["code"] == "10000"
    control.pay(order_no)
    control.settle()
    assert receiver.count() == 1
    paid, paid_sign = notification(receiver.bodies[0])
    assert alipay.verify(paid, paid_sign)
    assert "refund_fee" not in paid and "gmt_refund" not in paid

    r = alipay.api_alipay_trade_refund(refund_amount="30.00", out_trade_no=order_no, out_request_no="RN1")
    assert r["code"] == "10000" and r["fund_change"] == "Y" and r["refund_fee"] == "30.00"
    control.settle()
    assert receiver.count() == 2, "a partial refund sends a notification"

    # As the SDK's README says: pop `sign`, hand the rest to `verify` (which drops `sign_type`).
    data = dict(urllib.parse.parse_qsl(receiver.bodies[1].decode("utf-8"), keep_blank_values=True))
    signature = data.pop("sign")
    assert data["sign_type"] == "RSA2"
    assert alipay.verify(dict(data), signature)
    assert data["out_trade_no"] == order_no and data["trade_no"] == paid["trade_no"]
    assert data["trade_status"] == "TRADE_SUCCESS"
    assert data["total_amount"] == "88.88"
    assert data["refund_fee"] == "30.00"
    assert data["out_biz_no"] == "RN1"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3})?", data["gmt_refund"]), data["gmt_refund"]
    assert data["notify_id"] and data["notify_id"] != paid["notify_id"], "a new notification, not a retry"
    # The same notification with another refund_fee does not verify.
    forged = dict(data, refund_fee="88.88")
    assert not alipay.verify(forged, signature)

    # Acknowledged: no retry. Refunding the rest closes the trade, which is not notified.
    control.advance("25h")
    assert receiver.count() == 2
    rest = alipay.api_alipay_trade_refund(refund_amount="58.88", out_trade_no=order_no, out_request_no="RN2")
    assert rest["code"] == "10000" and rest["refund_fee"] == "88.88"
    control.settle()
    control.advance("1h")
    assert receiver.count() == 2, "a full refund closes the trade and sends nothing"
    q = alipay.api_alipay_trade_query(out_trade_no=order_no)
    assert q["trade_status"] == "TRADE_CLOSED"


def test_a_password_payment_waits_then_cancel_closes_it(make_alipay, control, order_no):
    alipay = make_alipay()
    res = alipay.api_alipay_trade_pay(order_no, "bar_code", "287634438256643941", "big", total_amount="5000.00")
    assert res["code"] == "10003"
    q = alipay.api_alipay_trade_query(out_trade_no=order_no)
    assert q["trade_status"] == "WAIT_BUYER_PAY"
    c = alipay.api_alipay_trade_cancel(out_trade_no=order_no)
    assert c["code"] == "10000" and c["action"] == "close" and c["retry_flag"] == "N"
    q = alipay.api_alipay_trade_query(out_trade_no=order_no)
    assert q["trade_status"] == "TRADE_CLOSED"
    assert control.postings() == []


def test_the_bill_link_serves_the_zip_for_thirty_seconds(make_alipay, control, order_no):
    alipay = make_alipay()
    alipay.api_alipay_trade_pay(order_no, "bar_code", "287634438256643941", "bill", total_amount="10.00")
    day = control.get("clock")["now_local"][:10]
    control.advance("34h")  # past 09:00 the next day, whatever the time now
    res = alipay.server_api(
        "alipay.data.dataservice.bill.downloadurl.query",
        biz_content={"bill_type": "trade", "bill_date": day},
    )
    assert res["code"] == "10000", res
    status, body = http_get(res["bill_download_url"])
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        detail = z.read(z.infolist()[0]).decode("gbk")
    assert detail.startswith("#支付宝业务明细查询")
    assert order_no in detail
    control.advance("31s")
    status, body = http_get(res["bill_download_url"])
    assert status == 404 and "下载超时" in body.decode()
