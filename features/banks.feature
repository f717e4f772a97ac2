Feature: Banks differ in what they do with a repeated order number, how long they take, and whether they can pay
  Banks mostly do not deduplicate: as long as the account has funds, a second payout under
  the same order number is paid again. Some replay the first answer, some refuse the repeat.
  Some keep a payout PROCESSING for hours. A platform account that runs dry fails a payout.
  Each scenario picks its bank's world from scenarios/; the settlement system is the same.

  @bank-pay-again @blind-resubmit
  Scenario: A lost payout reply at a bank that pays a repeated number again is queried, not resubmitted
    Given a sandbank world from the scenario "payout-pay-again" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a timeout
    When the settlement system creates an order of 250.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a SUCCESS payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @bank-replay
  Scenario: A payout reply lost as a reset at a bank that replays a repeated number is paid once
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a reset
    When the settlement system creates an order of 19.99 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a SUCCESS payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @bank-reject
  Scenario: A lost payout reply at a bank that rejects a repeated number is paid once
    Given a sandbank world from the scenario "payout-reject" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    And the bank "bank" executes the next payout but the reply is lost as a timeout
    When the settlement system creates an order of 300.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a SUCCESS payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @bank-slow @processing-for-hours
  Scenario: A payout that stays PROCESSING for hours is queried until it succeeds, never paid again
    Given a sandbank world from the scenario "payout-slow" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    When the settlement system creates an order of 480.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1h
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 2h
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a PROCESSING payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    When the clock advances 4h
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a SUCCESS payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And every beneficiary was paid exactly what it is owed

  @bank-insufficient-funds @payout-failed
  Scenario: A payout FAILED for insufficient funds is left to a human, not paid again
    Given a sandbank world from the scenario "payout-poor" with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1
    When the settlement system creates an order of 250.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system runs settlement for "2026-03-02"
    And the clock advances 1m
    And the settlement system runs settlement for "2026-03-02"
    Then the bank holds a FAILED payout to merchant "M1"
    And no beneficiary was paid more than it is owed
    And no beneficiary was paid again after its payout failed or was returned
