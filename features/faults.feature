Feature: Any fault rule, written as the control API takes it
  The shorthand steps cover the classic situations; a fault rule written out in JSON (the
  same fields as `POST /_sandbank/faults` and a scenario file's `[[faults]]`) reaches every
  other one.

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @payout-reset
  Scenario: A payout whose connection is reset after the bank executed it is paid exactly once
    Given the fault rule:
      """
      {"target": "bank", "op": "payout.submit", "action": "commit_then_fail", "then": "reset", "times": 1}
      """
    When the settlement system creates an order of 180.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
