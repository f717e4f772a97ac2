package sandbank;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.alipay.api.AlipayApiException;
import com.alipay.api.AlipayClient;
import com.alipay.api.AlipayConfig;
import com.alipay.api.DefaultAlipayClient;
import com.alipay.api.domain.AlipayDataDataserviceBillDownloadurlQueryModel;
import com.alipay.api.domain.AlipayTradeFastpayRefundQueryModel;
import com.alipay.api.domain.AlipayTradePayModel;
import com.alipay.api.domain.AlipayTradePrecreateModel;
import com.alipay.api.domain.AlipayTradeQueryModel;
import com.alipay.api.domain.AlipayTradeRefundModel;
import com.alipay.api.internal.util.AlipaySignature;
import com.alipay.api.request.AlipayDataDataserviceBillDownloadurlQueryRequest;
import com.alipay.api.request.AlipayTradeFastpayRefundQueryRequest;
import com.alipay.api.request.AlipayTradePayRequest;
import com.alipay.api.request.AlipayTradePrecreateRequest;
import com.alipay.api.request.AlipayTradeQueryRequest;
import com.alipay.api.request.AlipayTradeRefundRequest;
import com.alipay.api.response.AlipayDataDataserviceBillDownloadurlQueryResponse;
import com.alipay.api.response.AlipayTradeFastpayRefundQueryResponse;
import com.alipay.api.response.AlipayTradePayResponse;
import com.alipay.api.response.AlipayTradePrecreateResponse;
import com.alipay.api.response.AlipayTradeQueryResponse;
import com.alipay.api.response.AlipayTradeRefundResponse;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The official Alipay Java SDK (alipay-sdk-java, unmodified) against `sandbank serve`'s default
 * world: an {@link AlipayConfig} whose serverUrl is sandbank's gateway, keys taken from
 * `GET /_sandbank/channels/alipay` as a user would. With an Alipay public key configured,
 * {@link DefaultAlipayClient} checks the `sign` of every response before it returns it (a test
 * below shows it does, by configuring the wrong key). Notifications arrive at a small HTTP
 * server in the test and are checked with the SDK's {@code AlipaySignature.rsaCheckV1}.
 */
class AlipayJavaSdkTest {
  static final Duration TIMEOUT = Duration.ofSeconds(10);
  static final String CHARSET = "UTF-8";
  static final String SIGN_TYPE = "RSA2";
  static final String AUTH_CODE = "287634438256643941";

  String base;
  HttpClient http;
  HttpServer receiver;
  BlockingQueue<String> notifications = new LinkedBlockingQueue<>();
  String notifyUrl;
  String appId;
  /** The app's PKCS#8 private key and the Alipay public key, as the bare base64 the SDK takes. */
  String appPrivateKey;
  String alipayPublicKey;
  AlipayClient alipay;

  @BeforeEach
  void setUp() throws Exception {
    String url = System.getenv("SANDBANK_URL");
    Assumptions.assumeTrue(
        url != null && !url.isBlank(),
        "SANDBANK_URL is not set: start `sandbank serve` and set SANDBANK_URL=http://HOST:PORT to run the Alipay SDK tests");
    base = url.replaceAll("/+$", "");
    http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    control("POST", "reset", "{}");

    String creds = control("GET", "channels/alipay", null);
    appId = jsonString(creds, "app_id");
    appPrivateKey = pemBody(jsonString(creds, "app_private_key"));
    alipayPublicKey = pemBody(jsonString(creds, "alipay_public_key"));

    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/notify",
        exchange -> {
          String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          notifications.add(body);
          byte[] reply = "success".getBytes(StandardCharsets.US_ASCII);
          exchange.getResponseHeaders().add("Content-Type", "text/plain");
          exchange.sendResponseHeaders(200, reply.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(reply);
          }
        });
    receiver.start();
    notifyUrl = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/notify";
    alipay = client(appPrivateKey, alipayPublicKey);
  }

  @AfterEach
  void tearDown() {
    if (receiver != null) {
      receiver.stop(0);
    }
  }

  AlipayClient client(String privateKey, String alipayKey) throws AlipayApiException {
    AlipayConfig config = new AlipayConfig();
    config.setServerUrl(base + "/alipay/gateway.do");
    config.setAppId(appId);
    config.setPrivateKey(privateKey);
    config.setAlipayPublicKey(alipayKey);
    config.setFormat("json");
    config.setCharset(CHARSET);
    config.setSignType(SIGN_TYPE);
    config.setConnectTimeout((int) TIMEOUT.toMillis());
    config.setReadTimeout((int) TIMEOUT.toMillis());
    return new DefaultAlipayClient(config);
  }

  /** A fresh RSA key pair nobody at sandbank knows. */
  static KeyPair strangerKeys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048);
    return g.generateKeyPair();
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

  /** The first string value named `key` in a JSON text, unescaped. */
  static String jsonString(String json, String key) {
    Matcher m =
        Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*\"([^\"\\\\]*+(?:\\\\.[^\"\\\\]*+)*+)\"")
            .matcher(json);
    assertTrue(m.find(), "`" + key + "` in " + json);
    return m.group(1)
        .replace("\\n", "\n")
        .replace("\\/", "/")
        .replace("\\\"", "\"")
        .replace("\\\\", "\\");
  }

  /** The base64 inside a PEM block: what the Java SDK wants for its keys. */
  static String pemBody(String pem) {
    assertTrue(pem.startsWith("-----BEGIN "), pem);
    return pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
  }

  /** The kinds of the ledger's postings, the opening balances left out. */
  List<String> postingKinds() throws Exception {
    String ledger = control("GET", "ledger", null);
    List<String> kinds = new ArrayList<>();
    Matcher m = Pattern.compile("\"kind\"\\s*:\\s*\"([a-z_]+)\"").matcher(ledger);
    while (m.find()) {
      if (!m.group(1).equals("opening")) {
        kinds.add(m.group(1));
      }
    }
    return kinds;
  }

  /** The next notification's fields, waiting at most TIMEOUT for it. */
  Map<String, String> notification() throws InterruptedException {
    String body = notifications.poll(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertNotNull(body, "a notification arrives within " + TIMEOUT);
    Map<String, String> fields = new HashMap<>();
    for (String pair : body.split("&")) {
      int eq = pair.indexOf('=');
      assertTrue(eq > 0, "a form field: " + pair);
      String name = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      assertNull(fields.put(name, value), "field `" + name + "` once");
    }
    return fields;
  }

  /** The SDK's notification check (it removes `sign` and `sign_type` from the map it gets). */
  static boolean verified(Map<String, String> fields, String alipayKey) throws AlipayApiException {
    return AlipaySignature.rsaCheckV1(new HashMap<>(fields), alipayKey, CHARSET, SIGN_TYPE);
  }

  static String orderNo() {
    return "JAVA" + UUID.randomUUID().toString().replace("-", "").substring(0, 20).toUpperCase();
  }

  AlipayTradeQueryResponse query(AlipayClient c, String no) throws AlipayApiException {
    AlipayTradeQueryModel m = new AlipayTradeQueryModel();
    m.setOutTradeNo(no);
    AlipayTradeQueryRequest req = new AlipayTradeQueryRequest();
    req.setBizModel(m);
    return c.execute(req);
  }

  AlipayTradeRefundResponse refund(AlipayClient c, String no, String requestNo, String amount)
      throws AlipayApiException {
    AlipayTradeRefundModel m = new AlipayTradeRefundModel();
    m.setOutTradeNo(no);
    m.setOutRequestNo(requestNo);
    m.setRefundAmount(amount);
    m.setRefundReason("sandbank Java 退款");
    AlipayTradeRefundRequest req = new AlipayTradeRefundRequest();
    req.setBizModel(m);
    return c.execute(req);
  }

  AlipayTradeFastpayRefundQueryResponse refundQuery(String no, String requestNo) throws AlipayApiException {
    AlipayTradeFastpayRefundQueryModel m = new AlipayTradeFastpayRefundQueryModel();
    m.setOutTradeNo(no);
    m.setOutRequestNo(requestNo);
    AlipayTradeFastpayRefundQueryRequest req = new AlipayTradeFastpayRefundQueryRequest();
    req.setBizModel(m);
    return alipay.execute(req);
  }

  AlipayTradePrecreateResponse precreate(String no, String amount) throws AlipayApiException {
    AlipayTradePrecreateModel m = new AlipayTradePrecreateModel();
    m.setOutTradeNo(no);
    m.setTotalAmount(amount);
    m.setSubject("sandbank Java 测试");
    AlipayTradePrecreateRequest req = new AlipayTradePrecreateRequest();
    req.setBizModel(m);
    req.setNotifyUrl(notifyUrl);
    return alipay.execute(req);
  }

  @Test
  void precreatePayNotifyQueryRefundRefundQueryAndBill() throws Exception {
    String no = orderNo();
    AlipayTradePrecreateResponse pre = precreate(no, "88.88");
    assertTrue(pre.isSuccess(), pre.getBody());
    assertEquals("10000", pre.getCode());
    assertEquals(no, pre.getOutTradeNo());
    assertTrue(pre.getQrCode().startsWith("https://qr.alipay.com/"), pre.getQrCode());

    // Nobody has scanned the code yet: Alipay does not know the trade (a signed 40004).
    AlipayTradeQueryResponse unscanned = query(alipay, no);
    assertFalse(unscanned.isSuccess());
    assertEquals("40004", unscanned.getCode());
    assertEquals("ACQ.TRADE_NOT_EXIST", unscanned.getSubCode());

    // The customer pays; the default world's clock is real and the notification is due at
    // once: `POST clock {}` answers once it has been delivered.
    control("POST", "channels/alipay/orders/" + no + "/pay", "{}");
    control("POST", "clock", "{}");
    Map<String, String> paid = notification();
    assertTrue(verified(paid, alipayPublicKey), "the payment notification verifies: " + paid);
    Map<String, String> forged = new HashMap<>(paid);
    forged.put("total_amount", "0.01");
    assertFalse(verified(forged, alipayPublicKey), "a changed field does not verify");
    assertFalse(
        verified(paid, Base64.getEncoder().encodeToString(strangerKeys().getPublic().getEncoded())),
        "another key does not verify");
    assertEquals("trade_status_sync", paid.get("notify_type"));
    assertEquals("TRADE_SUCCESS", paid.get("trade_status"));
    assertEquals(no, paid.get("out_trade_no"));
    assertEquals("88.88", paid.get("total_amount"));
    assertEquals(appId, paid.get("app_id"));
    assertEquals("sandbank Java 测试", paid.get("subject"));
    assertEquals("RSA2", paid.get("sign_type"));

    // Acknowledged with `success`: nothing is resent on the ladder (first retry at 4m).
    control("POST", "clock", "{\"advance\": \"5m\"}");
    assertNull(notifications.poll(500, TimeUnit.MILLISECONDS), "an acknowledged notification is not resent");

    AlipayTradeQueryResponse q = query(alipay, no);
    assertTrue(q.isSuccess(), q.getBody());
    assertEquals("TRADE_SUCCESS", q.getTradeStatus());
    assertEquals("88.88", q.getTotalAmount());
    assertEquals(paid.get("trade_no"), q.getTradeNo());

    // A partial refund: money moves now (fund_change Y); retried under the same request
    // number it refunds nothing more (fund_change N).
    String requestNo = "R" + no;
    AlipayTradeRefundResponse refund = refund(alipay, no, requestNo, "30.00");
    assertTrue(refund.isSuccess(), refund.getBody());
    assertEquals("Y", refund.getFundChange());
    assertEquals("30.00", refund.getRefundFee());
    assertEquals(q.getTradeNo(), refund.getTradeNo());
    assertNotNull(refund.getGmtRefundPay());
    AlipayTradeRefundResponse again = refund(alipay, no, requestNo, "30.00");
    assertTrue(again.isSuccess(), again.getBody());
    assertEquals("N", again.getFundChange());
    assertEquals("30.00", again.getRefundFee());

    // A partial refund of a face-to-face trade is notified: TRADE_SUCCESS with refund_fee.
    control("POST", "clock", "{}");
    Map<String, String> refunded = notification();
    assertTrue(verified(refunded, alipayPublicKey), "the refund notification verifies: " + refunded);
    assertEquals("TRADE_SUCCESS", refunded.get("trade_status"));
    assertEquals(no, refunded.get("out_trade_no"));
    assertEquals("30.00", refunded.get("refund_fee"));
    assertNotNull(refunded.get("gmt_refund"));
    assertNotEquals(paid.get("notify_id"), refunded.get("notify_id"));

    AlipayTradeFastpayRefundQueryResponse rq = refundQuery(no, requestNo);
    assertTrue(rq.isSuccess(), rq.getBody());
    assertEquals("REFUND_SUCCESS", rq.getRefundStatus());
    assertEquals("30.00", rq.getRefundAmount());
    assertEquals(requestNo, rq.getOutRequestNo());

    assertEquals(List.of("payment", "fee", "refund", "fee"), postingKinds());
    assertEquals("TRADE_SUCCESS", query(alipay, no).getTradeStatus(), "a partial refund leaves the trade paid");

    // The day's trade bill, from 09:00 the next morning: a link to a ZIP on sandbank.
    Matcher m =
        Pattern.compile("\"now_local\"\\s*:\\s*\"(\\d{4}-\\d{2}-\\d{2})").matcher(control("GET", "clock", null));
    assertTrue(m.find(), "the clock shows a local date");
    LocalDate today = LocalDate.parse(m.group(1));
    control("POST", "clock", "{\"to\": \"" + today.plusDays(1) + " 09:00\"}");
    AlipayDataDataserviceBillDownloadurlQueryModel bm = new AlipayDataDataserviceBillDownloadurlQueryModel();
    bm.setBillType("trade");
    bm.setBillDate(today.toString());
    AlipayDataDataserviceBillDownloadurlQueryRequest breq = new AlipayDataDataserviceBillDownloadurlQueryRequest();
    breq.setBizModel(bm);
    AlipayDataDataserviceBillDownloadurlQueryResponse bill = alipay.execute(breq);
    assertTrue(bill.isSuccess(), bill.getBody());
    String link = bill.getBillDownloadUrl();
    assertTrue(link.startsWith(base + "/alipay/"), link);

    HttpResponse<byte[]> zip =
        http.send(
            HttpRequest.newBuilder(URI.create(link)).timeout(TIMEOUT).GET().build(),
            HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, zip.statusCode());
    byte[] bytes = zip.body();
    assertArrayEquals(new byte[] {'P', 'K', 3, 4}, Arrays.copyOf(bytes, 4), "a ZIP file");
    // The member names and the CSVs are GBK (as in Alipay's own files).
    Charset gbk = Charset.forName("GBK");
    Map<String, String> members = new HashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(bytes), gbk)) {
      for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
        members.put(e.getName(), new String(in.readAllBytes(), gbk));
      }
    }
    assertEquals(2, members.size(), members.keySet().toString());
    String detailName =
        members.keySet().stream().filter(n -> n.endsWith("_业务明细.csv")).findFirst().orElse(null);
    assertNotNull(detailName, "a detail CSV among " + members.keySet());
    assertTrue(
        members.keySet().stream().anyMatch(n -> n.endsWith("_业务明细(汇总).csv")),
        "a summary CSV among " + members.keySet());
    assertTrue(detailName.contains("_" + today.toString().replace("-", "") + "_"), detailName);
    String detail = members.get(detailName);
    String[] lines = detail.split("\r?\n");
    assertEquals("#支付宝业务明细查询", lines[0]);
    List<String> rows =
        Arrays.stream(lines).filter(l -> !l.startsWith("#") && l.contains(no)).toList();
    assertEquals(2, rows.size(), detail);
    assertTrue(rows.get(0).contains("交易") && rows.get(0).contains("88.88"), rows.get(0));
    assertTrue(
        rows.get(1).contains("退款") && rows.get(1).contains("-30.00") && rows.get(1).contains(requestNo),
        rows.get(1));
  }

  @Test
  void aWrongAlipayPublicKeyFailsTheResponseCheck() throws Exception {
    String no = orderNo();
    assertTrue(precreate(no, "1.00").isSuccess());
    // The right key verifies the very same kind of response.
    assertEquals("ACQ.TRADE_NOT_EXIST", query(alipay, no).getSubCode());

    String stranger = Base64.getEncoder().encodeToString(strangerKeys().getPublic().getEncoded());
    AlipayClient distrustful = client(appPrivateKey, stranger);
    AlipayApiException e = assertThrows(AlipayApiException.class, () -> query(distrustful, no));
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    assertTrue(
        String.valueOf(cause.getMessage()).startsWith("sign check fail"),
        "the SDK's signature check fails: " + cause);
  }

  @Test
  void aWrongAppPrivateKeyGetsInvalidSignatureAndMovesNothing() throws Exception {
    String no = orderNo();
    assertTrue(precreate(no, "10.00").isSuccess());
    control("POST", "channels/alipay/orders/" + no + "/pay", "{}");
    control("POST", "clock", "{}");
    assertTrue(verified(notification(), alipayPublicKey));
    String before = control("GET", "ledger", null);
    assertEquals(List.of("payment", "fee"), postingKinds());

    // Responses are still verified with the right Alipay key: sandbank signs its refusals.
    String wrongKey = Base64.getEncoder().encodeToString(strangerKeys().getPrivate().getEncoded());
    AlipayClient impostor = client(wrongKey, alipayPublicKey);
    AlipayTradeRefundResponse refund = refund(impostor, no, "R" + no, "10.00");
    assertFalse(refund.isSuccess());
    assertEquals("40002", refund.getCode());
    assertEquals("isv.invalid-signature", refund.getSubCode());

    AlipayTradePayModel pm = new AlipayTradePayModel();
    pm.setOutTradeNo(orderNo());
    pm.setTotalAmount("5.00");
    pm.setSubject("barcode");
    pm.setScene("bar_code");
    pm.setAuthCode(AUTH_CODE);
    AlipayTradePayRequest preq = new AlipayTradePayRequest();
    preq.setBizModel(pm);
    AlipayTradePayResponse pay = impostor.execute(preq);
    assertFalse(pay.isSuccess());
    assertEquals("40002", pay.getCode());
    assertEquals("isv.invalid-signature", pay.getSubCode());

    assertEquals(before, control("GET", "ledger", null), "the ledger is untouched");
    assertEquals("TRADE_SUCCESS", query(alipay, no).getTradeStatus());
    AlipayTradeFastpayRefundQueryResponse rq = refundQuery(no, "R" + no);
    assertTrue(rq.isSuccess(), rq.getBody());
    assertNull(rq.getRefundStatus(), "no refund happened: " + rq.getBody());
  }
}
