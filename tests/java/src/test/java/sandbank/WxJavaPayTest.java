package sandbank;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.binarywang.wxpay.bean.notify.WxPayOrderNotifyResult;
import com.github.binarywang.wxpay.bean.notify.WxPayRefundNotifyResult;
import com.github.binarywang.wxpay.bean.request.WxPayOrderCloseRequest;
import com.github.binarywang.wxpay.bean.request.WxPayRefundRequest;
import com.github.binarywang.wxpay.bean.request.WxPayUnifiedOrderRequest;
import com.github.binarywang.wxpay.bean.result.WxPayBillInfo;
import com.github.binarywang.wxpay.bean.result.WxPayBillResult;
import com.github.binarywang.wxpay.bean.result.WxPayOrderCloseResult;
import com.github.binarywang.wxpay.bean.result.WxPayOrderQueryResult;
import com.github.binarywang.wxpay.bean.result.WxPayRefundQueryResult;
import com.github.binarywang.wxpay.bean.result.WxPayRefundResult;
import com.github.binarywang.wxpay.bean.result.WxPayUnifiedOrderResult;
import com.github.binarywang.wxpay.config.WxPayConfig;
import com.github.binarywang.wxpay.exception.WxPayException;
import com.github.binarywang.wxpay.service.WxPayService;
import com.github.binarywang.wxpay.service.impl.WxPayServiceImpl;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Unmodified WxJava (weixin-java-pay) against `sandbank serve`'s default world, pointed at it
 * with a custom payBaseUrl: create, pay (the control API), the payment notification parsed and
 * verified by WxJava, query, refund, refund query, the refund notification decrypted by WxJava,
 * the bill. WxJava checks the signature of every reply it parses.
 *
 * <p>The real refund endpoint wants the merchant's client certificate (mutual TLS); WxJava
 * loads it into an SSLContext before a refund unless one is configured. sandbank serves plain
 * HTTP and checks the signature only, so the tests hand WxJava the JVM's default SSLContext
 * (no client key): WxJava's public configuration, no patch. Over http:// it is never used.
 */
class WxJavaPayTest {
  static final String APPID = "wx2421b1c4370ec43b";
  static final String MCH_ID = "10000100";
  static final String KEY = "192006250b4c09247ec02edce69f6a2d";
  static final String ACK =
      "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  String base;
  HttpClient http;
  HttpServer receiver;
  BlockingQueue<String> notifications = new LinkedBlockingQueue<>();
  String notifyUrl;
  WxPayService service;

  @BeforeEach
  void setUp() throws Exception {
    String url = System.getenv("SANDBANK_URL");
    Assumptions.assumeTrue(
        url != null && !url.isBlank(),
        "SANDBANK_URL is not set: start `sandbank serve` and set SANDBANK_URL=http://HOST:PORT to run the WxJava tests");
    base = url.replaceAll("/+$", "");
    http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    control("POST", "reset", "{}");

    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/notify",
        exchange -> {
          String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          notifications.add(body);
          byte[] reply = ACK.getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "text/xml");
          exchange.sendResponseHeaders(200, reply.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(reply);
          }
        });
    receiver.start();
    notifyUrl = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/notify";
    service = service(KEY);
  }

  @AfterEach
  void tearDown() {
    if (receiver != null) {
      receiver.stop(0);
    }
  }

  WxPayService service(String key) throws Exception {
    WxPayConfig config = new WxPayConfig();
    config.setAppId(APPID);
    config.setMchId(MCH_ID);
    config.setMchKey(key);
    config.setSignType("MD5");
    config.setPayBaseUrl(base + "/wxpay");
    config.setSslContext(SSLContext.getDefault());
    config.setHttpTimeout((int) TIMEOUT.toMillis());
    config.setHttpConnectionTimeout((int) TIMEOUT.toMillis());
    WxPayService s = new WxPayServiceImpl();
    s.setConfig(config);
    return s;
  }

  String control(String method, String path, String json) throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/_sandbank/" + path)).timeout(TIMEOUT);
    if ("POST".equals(method)) {
      b.header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(json));
    } else {
      b.GET();
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), path + ": " + r.body());
    return r.body();
  }

  String notification() throws InterruptedException {
    String body = notifications.poll(10, TimeUnit.SECONDS);
    assertNotNull(body, "a notification arrives");
    return body;
  }

  static String orderNo() {
    return "JAVA" + UUID.randomUUID().toString().replace("-", "").substring(0, 20).toUpperCase();
  }

  WxPayUnifiedOrderResult create(String no, int totalFee) throws WxPayException {
    WxPayUnifiedOrderRequest req =
        WxPayUnifiedOrderRequest.newBuilder()
            .body("sandbank WxJava test")
            .outTradeNo(no)
            .totalFee(totalFee)
            .spbillCreateIp("127.0.0.1")
            .notifyUrl(notifyUrl)
            .tradeType("NATIVE")
            .productId("P-0001")
            .build();
    return service.unifiedOrder(req);
  }

  @Test
  void createPayNotifyQueryRefundRefundNotifyAndBill() throws Exception {
    String no = orderNo();
    WxPayUnifiedOrderResult created = create(no, 1000);
    assertTrue(created.getCodeURL().startsWith("weixin://wxpay/bizpayurl?pr="), created.getCodeURL());
    assertTrue(created.getPrepayId().startsWith("wx"), created.getPrepayId());

    // The customer pays (the control API), and the notification goes out.
    control("POST", "channels/wxpay/orders/" + no + "/pay", "{}");
    control("POST", "clock", "{}");
    WxPayOrderNotifyResult paid = service.parseOrderNotifyResult(notification());
    assertEquals(no, paid.getOutTradeNo());
    assertEquals(1000, paid.getTotalFee());
    assertEquals("SUCCESS", paid.getResultCode());

    WxPayOrderQueryResult q = service.queryOrder(null, no);
    assertEquals("SUCCESS", q.getTradeState());
    assertEquals(paid.getTransactionId(), q.getTransactionId());

    // Refund 3.00 of 10.00, notified to the same endpoint.
    String refundNo = "R" + no;
    WxPayRefundResult refund =
        service.refund(
            WxPayRefundRequest.newBuilder()
                .outTradeNo(no)
                .outRefundNo(refundNo)
                .totalFee(1000)
                .refundFee(300)
                .notifyUrl(notifyUrl)
                .build());
    assertEquals(refundNo, refund.getOutRefundNo());
    assertEquals(300, refund.getRefundFee());
    String refundId = refund.getRefundId();
    assertEquals(29, refundId.length(), refundId);

    WxPayRefundQueryResult processing = service.refundQuery(null, no, null, null);
    assertEquals(1, processing.getRefundCount());
    assertEquals("PROCESSING", processing.getRefundRecords().get(0).getRefundStatus());

    control("POST", "clock", "{\"advance\": \"10s\"}");
    WxPayRefundQueryResult done = service.refundQuery(null, null, refundNo, null);
    WxPayRefundQueryResult.RefundRecord record = done.getRefundRecords().get(0);
    assertEquals("SUCCESS", record.getRefundStatus());
    assertEquals(refundId, record.getRefundId());
    assertEquals(300, record.getRefundFee());
    assertNotNull(record.getRefundSuccessTime());

    WxPayRefundNotifyResult notified = service.parseRefundNotifyResult(notification());
    WxPayRefundNotifyResult.ReqInfo info = notified.getReqInfo();
    assertEquals(refundNo, info.getOutRefundNo());
    assertEquals(no, info.getOutTradeNo());
    assertEquals(refundId, info.getRefundId());
    assertEquals("SUCCESS", info.getRefundStatus());
    assertEquals(300, info.getRefundFee());
    assertEquals(1000, info.getTotalFee());

    assertEquals("REFUND", service.queryOrder(null, no).getTradeState());

    // The day's ALL bill, from 09:00 the next morning: the payment and the refund.
    Matcher m = Pattern.compile("\"now_local\"\\s*:\\s*\"(\\d{4}-\\d{2}-\\d{2})").matcher(control("GET", "clock", null));
    assertTrue(m.find(), "the clock shows a local date");
    LocalDate today = LocalDate.parse(m.group(1));
    control("POST", "clock", "{\"to\": \"" + today.plusDays(1) + " 09:00\"}");
    WxPayBillResult bill = service.downloadBill(today.toString().replace("-", ""), "ALL", null, null);
    List<WxPayBillInfo> rows = bill.getBillInfoList();
    assertEquals(2, rows.size());
    assertEquals("2", bill.getTotalRecord());
    assertEquals("10.00", bill.getTotalFee());
    assertEquals("3.00", bill.getTotalRefundFee());
    assertEquals(no, rows.get(0).getOutTradeNo());
    assertEquals("SUCCESS", rows.get(0).getTradeState());
    assertEquals("REFUND", rows.get(1).getTradeState());
    assertEquals(refundId, rows.get(1).getRefundId());
    assertEquals(refundNo, rows.get(1).getOutRefundNo());
    assertEquals("3.00", rows.get(1).getSettlementRefundFee());
    assertEquals("SUCCESS", rows.get(1).getRefundState());
  }

  /** Create an order of {@code totalFee} fen, have the customer pay it, return its notification. */
  WxPayOrderNotifyResult paidOrder(String no, int totalFee) throws Exception {
    create(no, totalFee);
    control("POST", "channels/wxpay/orders/" + no + "/pay", "{}");
    control("POST", "clock", "{}");
    WxPayOrderNotifyResult paid = service.parseOrderNotifyResult(notification());
    assertEquals(no, paid.getOutTradeNo());
    return paid;
  }

  /** Refund {@code refundFee} of an order of {@code totalFee}, and wait until it succeeded. */
  WxPayRefundQueryResult.RefundRecord refunded(String no, String refundNo, int totalFee, int refundFee)
      throws Exception {
    service.refund(
        WxPayRefundRequest.newBuilder()
            .outTradeNo(no)
            .outRefundNo(refundNo)
            .totalFee(totalFee)
            .refundFee(refundFee)
            .build());
    control("POST", "clock", "{\"advance\": \"10s\"}");
    WxPayRefundQueryResult.RefundRecord r =
        service.refundQuery(null, null, refundNo, null).getRefundRecords().get(0);
    assertEquals("SUCCESS", r.getRefundStatus());
    return r;
  }

  /**
   * The SUCCESS and REFUND bills have layouts of their own (20 and 29 columns), which WxJava
   * reads with a parser per bill type: read with the wrong layout, 商品名称 would be a refund
   * id and 手续费 a refund amount. The rows are held against what happened.
   */
  @Test
  void successAndRefundBillsParseIntoWhatHappened() throws Exception {
    String a = orderNo();
    String b = orderNo();
    WxPayOrderNotifyResult paidA = paidOrder(a, 1000);
    WxPayOrderNotifyResult paidB = paidOrder(b, 500);
    WxPayRefundQueryResult.RefundRecord ra = refunded(a, "RA" + a, 1000, 300);
    WxPayRefundQueryResult.RefundRecord rb = refunded(b, "RB" + b, 500, 500);

    Matcher m = Pattern.compile("\"now_local\"\\s*:\\s*\"(\\d{4}-\\d{2}-\\d{2})").matcher(control("GET", "clock", null));
    assertTrue(m.find(), "the clock shows a local date");
    LocalDate today = LocalDate.parse(m.group(1));
    control("POST", "clock", "{\"to\": \"" + today.plusDays(1) + " 09:00\"}");
    String day = today.toString().replace("-", "");

    // SUCCESS: the two payments, no refund columns.
    WxPayBillResult success = service.downloadBill(day, "SUCCESS", null, null);
    List<WxPayBillInfo> pays = success.getBillInfoList();
    assertEquals(2, pays.size());
    assertEquals("2", success.getTotalRecord());
    assertEquals("15.00", success.getTotalFee());
    assertEquals("0.00", success.getTotalRefundFee());
    assertEquals("15.00", success.getTotalAmount());
    WxPayOrderNotifyResult[] paid = {paidA, paidB};
    String[] amounts = {"10.00", "5.00"};
    for (int i = 0; i < 2; i++) {
      WxPayBillInfo row = pays.get(i);
      assertEquals(paid[i].getOutTradeNo(), row.getOutTradeNo());
      assertEquals(paid[i].getTransactionId(), row.getTransactionId());
      assertEquals(paid[i].getOpenid(), row.getOpenId());
      assertEquals(APPID, row.getAppId());
      assertEquals(MCH_ID, row.getMchId());
      assertEquals("NATIVE", row.getTradeType());
      assertEquals("SUCCESS", row.getTradeState());
      assertEquals("CNY", row.getFeeType());
      assertEquals(amounts[i], row.getTotalFee());
      assertEquals(amounts[i], row.getTotalAmount());
      assertEquals("sandbank WxJava test", row.getBody());
      assertEquals("0.60%", row.getPoundageRate());
      assertEquals("", row.getFeeRemark());
      assertTrue(row.getPoundage().matches("\\d+\\.\\d{5}"), row.getPoundage());
      // Paid at the instant the notification says (time_end is yyyyMMddHHmmss).
      assertEquals(paid[i].getTimeEnd(), row.getTradeTime().replaceAll("[- :]", ""));
    }
    String feeA = pays.get(0).getPoundage();
    String feeB = pays.get(1).getPoundage();
    assertEquals(
        new java.math.BigDecimal(feeA).add(new java.math.BigDecimal(feeB)),
        new java.math.BigDecimal(success.getTotalPoundageFee()));

    // REFUND: the two refunds, with their request and success times.
    WxPayBillResult refunds = service.downloadBill(day, "REFUND", null, null);
    List<WxPayBillInfo> rows = refunds.getBillInfoList();
    assertEquals(2, rows.size());
    assertEquals("2", refunds.getTotalRecord());
    assertEquals("0.00", refunds.getTotalFee());
    assertEquals("8.00", refunds.getTotalRefundFee());
    assertEquals("8.00", refunds.getTotalAppliedRefundFee());
    WxPayRefundQueryResult.RefundRecord[] records = {ra, rb};
    String[] refundNos = {"RA" + a, "RB" + b};
    String[] refundAmounts = {"3.00", "5.00"};
    for (int i = 0; i < 2; i++) {
      WxPayBillInfo row = rows.get(i);
      assertEquals(paid[i].getOutTradeNo(), row.getOutTradeNo());
      assertEquals(paid[i].getTransactionId(), row.getTransactionId());
      assertEquals("REFUND", row.getTradeState());
      assertEquals("0.00", row.getTotalFee());
      assertEquals(records[i].getRefundId(), row.getRefundId());
      assertEquals(refundNos[i], row.getOutRefundNo());
      assertEquals(refundAmounts[i], row.getSettlementRefundFee());
      assertEquals("ORIGINAL", row.getRefundChannel());
      assertEquals("SUCCESS", row.getRefundState());
      assertEquals("sandbank WxJava test", row.getBody());
      assertEquals("0.60%", row.getPoundageRate());
      // Dated by the payment; asked for, then succeeded when refundquery says.
      assertEquals(pays.get(i).getTradeTime(), row.getTradeTime());
      assertEquals(records[i].getRefundSuccessTime(), row.getRefundSuccessTime());
      assertTrue(row.getRefundTime().compareTo(row.getRefundSuccessTime()) < 0, row.getRefundTime());
      assertTrue(row.getTradeTime().compareTo(row.getRefundTime()) <= 0, row.getTradeTime());
      assertTrue(row.getPoundage().startsWith("-"), "the fee given back: " + row.getPoundage());
    }
    // A whole refund gives back the whole fee.
    assertEquals("-" + feeB, rows.get(1).getPoundage());
    assertEquals(
        new java.math.BigDecimal(rows.get(0).getPoundage()).add(new java.math.BigDecimal(rows.get(1).getPoundage())),
        new java.math.BigDecimal(refunds.getTotalPoundageFee()));

    // The ALL bill holds both, and its fee total is theirs together.
    WxPayBillResult all = service.downloadBill(day, "ALL", null, null);
    assertEquals("4", all.getTotalRecord());
    assertEquals(
        new java.math.BigDecimal(success.getTotalPoundageFee()).add(new java.math.BigDecimal(refunds.getTotalPoundageFee())),
        new java.math.BigDecimal(all.getTotalPoundageFee()));
  }

  /**
   * WxJava reads a bill by splitting it on the backtick each field starts with: a backtick,
   * comma or line break inside a product name or attach must not shift the columns. sandbank
   * writes each as a space.
   */
  @Test
  void aBacktickInTheProductNameKeepsTheBillsColumns() throws Exception {
    String no = orderNo();
    service.unifiedOrder(
        WxPayUnifiedOrderRequest.newBuilder()
            .body("tea `green`, 2 pcs")
            .attach("a`b")
            .outTradeNo(no)
            .totalFee(1000)
            .spbillCreateIp("127.0.0.1")
            .notifyUrl(notifyUrl)
            .tradeType("NATIVE")
            .productId("P-0001")
            .build());
    control("POST", "channels/wxpay/orders/" + no + "/pay", "{}");
    control("POST", "clock", "{}");
    WxPayOrderNotifyResult paid = service.parseOrderNotifyResult(notification());

    Matcher m = Pattern.compile("\"now_local\"\\s*:\\s*\"(\\d{4}-\\d{2}-\\d{2})").matcher(control("GET", "clock", null));
    assertTrue(m.find(), "the clock shows a local date");
    LocalDate today = LocalDate.parse(m.group(1));
    control("POST", "clock", "{\"to\": \"" + today.plusDays(1) + " 09:00\"}");
    for (String type : new String[] {"ALL", "SUCCESS"}) {
      WxPayBillResult bill = service.downloadBill(today.toString().replace("-", ""), type, null, null);
      List<WxPayBillInfo> rows = bill.getBillInfoList();
      assertEquals(1, rows.size(), type);
      WxPayBillInfo row = rows.get(0);
      assertEquals(no, row.getOutTradeNo(), type);
      assertEquals(paid.getTransactionId(), row.getTransactionId(), type);
      assertEquals("tea  green   2 pcs", row.getBody(), type);
      assertEquals("a b", row.getAttach(), type);
      assertEquals("10.00", row.getTotalFee(), type);
      assertEquals("0.60%", row.getPoundageRate(), type);
      assertEquals("1", bill.getTotalRecord(), type);
    }
  }

  @Test
  void closeOrderWaitsFiveMinutesAndWrongKeysAreRefused() throws Exception {
    String no = orderNo();
    create(no, 100);
    WxPayException early = assertThrows(WxPayException.class, () -> service.closeOrder(no));
    assertEquals("SYSTEMERROR", early.getErrCode());
    control("POST", "clock", "{\"advance\": \"5m\"}");
    WxPayOrderCloseResult closed = service.closeOrder(WxPayOrderCloseRequest.newBuilder().outTradeNo(no).build());
    assertEquals("SUCCESS", closed.getResultCode());
    assertEquals("CLOSED", service.queryOrder(null, no).getTradeState());

    // A refund signed with another key: SIGNERROR, nothing refunded.
    String paidNo = orderNo();
    create(paidNo, 100);
    control("POST", "channels/wxpay/orders/" + paidNo + "/pay", "{}");
    WxPayService wrong = service("00000000000000000000000000000000");
    WxPayException e =
        assertThrows(
            WxPayException.class,
            () ->
                wrong.refund(
                    WxPayRefundRequest.newBuilder()
                        .outTradeNo(paidNo)
                        .outRefundNo("R" + paidNo)
                        .totalFee(100)
                        .refundFee(100)
                        .build()));
    assertEquals("SIGNERROR", e.getErrCode());
    WxPayException none =
        assertThrows(WxPayException.class, () -> service.refundQuery(null, paidNo, null, null));
    assertEquals("REFUNDNOTEXIST", none.getErrCode());
  }
}
