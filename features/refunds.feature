Feature: Refunds reach the customer exactly once, and settlement follows the refund policy
  A settlement system refunds part or all of a paid order through the channel, under a
  refund number it chooses. The channel refunds one number once; a retry after a lost reply
  or a SYSTEMERROR must go out under the same number. sandbank checks from its ledger what
  each customer got back, from the channel's records which refund numbers it holds, and
  what each merchant was paid under the refund policy the adapter declares (`pre_deposit`:
  payouts are not reduced; `netted`: the day's refunds come off the day's payout).

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @refund-partial
  Scenario: Partial refunds of one order, a minute apart, each reach the customer once
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 30.00 CNY of order number 1
    And the clock advances 1m
    And the settlement system refunds 30.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the customer got back exactly 60.00 CNY of order number 1
    And every refund reached the customer exactly once
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @refund-lost-reply
  Scenario: A refund whose reply is lost is sent again under the same refund number
    Given the channel "wxpay" executes the next refund but the reply is lost as a reset
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 40.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every refund reached the customer exactly once
    And the customer got back exactly 40.00 CNY of order number 1
    And every beneficiary was paid exactly what it is owed

  @refund-lost-reply-timeout
  Scenario: A refund whose reply times out is sent again under the same refund number
    Given the channel "wxpay" executes the next refund but the reply is lost as a timeout
    When the settlement system creates an order of 80.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 80.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every refund reached the customer exactly once
    And the customer got back exactly 80.00 CNY of order number 1

  @refund-systemerror
  Scenario: A refund answered SYSTEMERROR is retried under the same refund number
    Given the channel "wxpay" answers the next refund request with SYSTEMERROR and does nothing
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 25.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    Then every refund reached the customer exactly once
    And the customer got back exactly 25.00 CNY of order number 1
    And every beneficiary was paid exactly what it is owed

  @refund-processing
  Scenario: A refund PROCESSING for hours is waited for, not sent again
    Given every refund at "wxpay" stays PROCESSING for 26h, then succeeds
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 45.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock moves to "2026-03-04 13:00"
    And the settlement system runs settlement for "2026-03-02"
    Then every refund reached the customer exactly once
    And the customer got back exactly 45.00 CNY of order number 1
    And every beneficiary was paid exactly what it is owed

  @refund-before-payment-notify
  Scenario: A refund racing a late payment notification is made once, and the payment booked once
    Given the channel "wxpay" delays every payment notification by 1h
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 50.00 CNY of order number 1
    And the clock advances 1m
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And every refund reached the customer exactly once
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @refund-after-settlement
  Scenario: A refund after its order was settled follows the refund policy on the next payout
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock moves to "2026-03-03 11:00"
    And the settlement system refunds 30.00 CNY of order number 1
    And the settlement system creates an order of 60.00 CNY at "wxpay" for merchant "M1"
    And the customer pays order number 2
    And the clock moves to "2026-03-04 10:00"
    And the settlement system runs settlement for "2026-03-03"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-03"
    Then every refund reached the customer exactly once
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @refund-full
  Scenario: A whole order refunded the day it was paid: settled per the policy, the bill still reconciles
    When the settlement system creates an order of 50.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 20.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 50.00 CNY of order number 1
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the customer got back exactly 50.00 CNY of order number 1
    And every refund reached the customer exactly once
    And every payment at "wxpay" on "2026-03-02" was booked exactly once
    And every beneficiary was paid exactly what it is owed
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    And the reconciliation report for "wxpay" on "2026-03-02" accounts for the day's refunds

  @refund-notify-duplicated
  Scenario: A duplicated refund notification is acknowledged every time and changes nothing
    Given the channel "wxpay" sends every refund notification 2 extra times
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system refunds 40.00 CNY of order number 1
    And the clock advances 10m
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the customer got back exactly 40.00 CNY of order number 1
    And every refund reached the customer exactly once
    And every refund notification "wxpay" sent was acknowledged in the channel's format
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
