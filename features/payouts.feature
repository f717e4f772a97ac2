Feature: Payouts under faults: failed queries, runs at once, returns, restarts
  Whatever happens between the settlement system and the bank, a merchant is paid at most
  once; once the faults heal, exactly once. A payout the bank FAILED or returned (退票) is
  not paid again automatically: that is a human decision.

  @query-error
  Scenario: A payout query that fails with a system error is not read as "no such order"
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a timeout
    And the fault rule:
      """
      {"target": "bank", "op": "payout.query", "action": "protocol_error", "code": "SYSTEM_ERROR", "times": 1}
      """
    When the settlement system creates an order of 150.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    When the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @query-timeout
  Scenario: A payout query that times out is not read as "no such order"
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a timeout
    And the fault rule:
      """
      {"target": "bank", "op": "payout.query", "action": "hang", "times": 1}
      """
    When the settlement system creates an order of 175.50 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    When the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @concurrent-runs
  Scenario: Two settlement runs at once pay a merchant once
    Given a sandbank world from the scenario "payout-pay-again" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    # The first payout request never reaches the bank's books, and the query after it fails:
    # the payout's outcome is unknown when the two runs start.
    And the fault rule:
      """
      {"target": "bank", "op": "payout.submit", "action": "hang", "times": 1}
      """
    And the fault rule:
      """
      {"target": "bank", "op": "payout.query", "action": "protocol_error", "code": "SYSTEM_ERROR", "times": 1}
      """
    When the settlement system creates an order of 420.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    # The bank answers queries slowly, so the two runs' queries are in flight together.
    Given the fault rule:
      """
      {"target": "bank", "op": "payout.query", "action": "delay", "delay": "300ms", "times": 2}
      """
    When the settlement system runs settlement for "2026-03-02" twice at once
    Then no beneficiary was paid more than it is owed
    When the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @payout-returned
  Scenario: A payout returned days after it succeeded is left to a human, not paid again
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    When the settlement system creates an order of 99.90 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then every beneficiary was paid exactly what it is owed
    When the clock moves to "2026-03-05 11:00"
    And the beneficiary's bank returns the payout to merchant "M1" with the reason "ACCOUNT_CLOSED"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a RETURNED payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And no beneficiary was paid again after its payout failed or was returned

  @restart
  Scenario: The settlement system's books survive a restart between booking and settlement
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    When the settlement system creates an order of 60.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 40.01 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the settlement system restarts
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @restart-mid-payout
  Scenario: A settlement system that crashes while its payout is at the bank pays it once after the restart
    Given a sandbank world from the scenario "payout-pay-again" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a timeout
    When the settlement system creates an order of 333.33 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system crashes while its payout for "2026-03-02" is at the bank "bank"
    And the settlement system restarts
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed
