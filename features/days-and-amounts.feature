Feature: Business days, amounts and settlement cycles
  The business day of a payment is the Beijing date of its time_end (UTC+8, no daylight
  saving), whatever the time zone of the servers. Amounts are exact in fen. Settlement is
  gross and T+1: the run for day D pays exactly what day D's payments brought in, and
  nothing of a later day's payments.

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @business-day
  Scenario: Payments at 23:59 and at 07:00 Beijing fall on their Beijing dates
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 50.00 CNY at "wxpay" for merchant "M1"
    And the clock moves to "2026-03-02 23:59"
    And the customer pays order number 1
    And the clock moves to "2026-03-03 07:00"
    And the customer pays order number 2
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then merchant "M1" was paid for "2026-03-02" exactly what the days up to it owe, and nothing of later days
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    When the clock moves to "2026-03-04 10:00"
    And the settlement system runs settlement for "2026-03-03"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-03"
    And the settlement system reconciles "wxpay" for "2026-03-03"
    Then merchant "M1" was paid for "2026-03-03" exactly what the days up to it owe, and nothing of later days
    And every payment at "wxpay" on "2026-03-03" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-03" lists exactly the real discrepancies
    And every beneficiary was paid exactly what it is owed

  @amounts
  Scenario: Amounts that binary floating point cannot hold are settled to the fen
    When the settlement system creates an order of 19.99 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 9.99 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 0.10 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 0.20 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then merchant "M1" was paid for "2026-03-02" exactly what the days up to it owe, and nothing of later days
    And every beneficiary was paid exactly what it is owed
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @unpaid-orders
  Scenario: Orders created but never paid are not settled
    When the settlement system creates an order of 70.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 30.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 45.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 1
    And the customer pays order number 3
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @settlement-cycle
  Scenario: Each day's run pays that day's payments, not a later day's, over three days
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 1
    And the clock moves to "2026-03-03 09:30"
    And the settlement system creates an order of 40.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 2
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then merchant "M1" was paid for "2026-03-02" exactly what the days up to it owe, and nothing of later days
    When the settlement system creates an order of 7.50 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 3
    And the clock moves to "2026-03-04 10:00"
    And the settlement system runs settlement for "2026-03-03"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-03"
    And the settlement system reconciles "wxpay" for "2026-03-03"
    Then merchant "M1" was paid for "2026-03-03" exactly what the days up to it owe, and nothing of later days
    And every payment at "wxpay" on "2026-03-03" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-03" lists exactly the real discrepancies
    When the clock moves to "2026-03-05 10:00"
    And the settlement system runs settlement for "2026-03-04"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-04"
    Then merchant "M1" was paid for "2026-03-04" exactly what the days up to it owe, and nothing of later days
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @settlement-cycle-partial
  Scenario: A day not yet settled is not owed yet: the checks follow the cycle
    When the settlement system creates an order of 60.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 1
    And the clock moves to "2026-03-03 09:30"
    And the settlement system creates an order of 25.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 2
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
