Feature: Payment notifications are booked once, from the truth, and acknowledged
  The channel tells the settlement system about each payment with a signed notification to
  the order's notify_url, and retries until it gets the channel's own acknowledgement. A
  notification can be lost for good, arrive in copies at once, or be forged by someone who
  can reach the notify_url. sandbank checks from its ledger what was really paid, and from
  its journal what the settlement system answered.

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @notify-lost
  Scenario: Payments whose notifications are lost for good are found by querying the channel
    Given the channel "wxpay" loses every payment notification
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 35.50 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And merchant "M1" was paid for "2026-03-02" exactly what the days up to it owe, and nothing of later days
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @notify-forged-signature
  Scenario: A notification with a bad signature is refused and books nothing
    When the settlement system creates an order of 60.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 40.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 2
    And the channel sends a forged notification with a bad signature about order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the settlement system refused every forged notification from "wxpay"
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @notify-forged-amount
  Scenario: A correctly signed notification for another amount is refused, and the real one booked
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the channel sends a forged notification with a wrong amount about order number 1
    And the customer pays order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the settlement system refused every forged notification from "wxpay"
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @notify-forged-unknown
  Scenario: A correctly signed notification for an order nobody created is refused
    When the settlement system creates an order of 25.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 1
    And the channel sends a forged notification for an unknown order about order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the settlement system refused every forged notification from "wxpay"
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @notify-concurrent
  Scenario: Copies of several notifications arriving together are each booked once
    Given the channel "wxpay" sends every payment notification 2 extra times
    When the settlement system creates an order of 12.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 34.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 56.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    And every payment notification "wxpay" sent was acknowledged in the channel's format

  @notify-ack
  Scenario: Every notification is acknowledged in the channel's own format
    When the settlement system creates an order of 15.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 27.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every payment notification "wxpay" sent was acknowledged in the channel's format
    And every beneficiary was paid exactly what it is owed
