Feature: Alipay payments are booked once, from verified notifications
  The same settlement system takes payments through Alipay too: orders are created with
  alipay.trade.precreate (RSA2-signed), the customer pays, and Alipay notifies the order's
  notify_url with a form POST signed with the Alipay key, retrying until it reads exactly
  `success`. sandbank checks from its ledger what each merchant is owed and was paid. The
  day's bill is fetched through alipay.data.dataservice.bill.downloadurl.query (a ZIP of GBK
  CSVs) and reconciled like WeChat's.

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @alipay-ack-xml
  Scenario: An Alipay payment is booked once and the merchant is paid exactly
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 23.45 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every payment notification "alipay" sent was acknowledged in the channel's format
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @alipay-book-every-notification
  Scenario: A duplicated Alipay payment notification is booked once
    Given the channel "alipay" sends every payment notification 3 extra times
    When the settlement system creates an order of 88.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @alipay-trusts-unsigned-notify
  Scenario: An Alipay notification with a bad signature is refused and books nothing
    When the settlement system creates an order of 60.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 40.00 CNY at "alipay" for merchant "M1"
    And the customer pays order number 2
    And the channel sends a forged notification with a bad signature about order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the settlement system refused every forged notification from "alipay"
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @alipay-notify-lost
  Scenario: Alipay payments whose notifications are lost for good are found by alipay.trade.query
    Given the channel "alipay" loses every payment notification
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 35.50 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then merchant "M1" was paid for "2026-03-02" exactly what the days up to it owe, and nothing of later days
    And every beneficiary was paid exactly what it is owed

  @alipay-refund-lost-reply
  Scenario: An Alipay refund whose reply is lost is sent again under the same out_request_no
    Given the channel "alipay" executes the next refund but the reply is lost as a reset
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 40.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every refund reached the customer exactly once
    And the customer got back exactly 40.00 CNY of order number 1
    And every beneficiary was paid exactly what it is owed

  @alipay-refund-notify
  Scenario: Every copy of an Alipay refund notification is acknowledged with exactly `success`
    Given the channel "alipay" sends every refund notification 2 extra times
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 30.00 CNY of order number 1
    And the clock advances 10m
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the customer got back exactly 30.00 CNY of order number 1
    And every refund reached the customer exactly once
    And every refund notification "alipay" sent was acknowledged in the channel's format
    And every payment notification "alipay" sent was acknowledged in the channel's format
    And every beneficiary was paid exactly what it is owed

  @alipay-reconcile
  Scenario: The Alipay bill is reconciled: payments booked once, a duplicated line found, the refund accounted for
    Given the "alipay" statement for "2026-03-02" duplicates its entry number 2
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 23.45 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 30.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then every payment at "alipay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies
    And the reconciliation report for "alipay" on "2026-03-02" accounts for the day's refunds
