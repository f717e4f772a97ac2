Feature: Settlement never double-pays and always reconciles
  A settlement system takes payments through an acquiring channel, settles each merchant
  T+1 through a payout bank, and reconciles the channel's bill. sandbank checks it from its
  own ledger: what each merchant is owed is what its paid orders brought in; what it was
  paid is what its beneficiary account received.

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @happy-path
  Scenario: The happy path settles exactly
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 23.45 CNY at "wxpay" for merchant "M1"
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

  @notifications
  Scenario: A duplicated payment notification is booked once
    Given the channel "wxpay" sends every payment notification 3 extra times
    When the settlement system creates an order of 88.00 CNY at "wxpay" for merchant "M1"
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

  @payout-timeout
  Scenario: A payout that times out after the bank executed it is paid exactly once
    Given the bank "bank" executes the next payout but the reply is lost as a timeout
    When the settlement system creates an order of 250.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
