Feature: Reconciliation finds every difference between the books and the channel's bill
  Each day the settlement system downloads the channel's bill (WeChat Pay `pay/downloadbill`)
  and compares it with its books. sandbank renders the bill from its own ledger, so every
  difference is one it injected on purpose; the report must list exactly those, with the
  right amounts, and its `statement` totals must be the bill's rows as served.
  `No Bill Exist` means the day had no trades (a statement with no rows); `Bill Creating`
  means the bill is not there yet (late). See docs/sut-adapter.md, "The reconciliation report".

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @reconciliation @recon-missing
  Scenario: A bill that omits a paid order is reconciled to exactly that discrepancy
    Given the "wxpay" statement for "2026-03-02" omits its entry number 2
    When the settlement system creates an order of 10.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 20.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 30.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-missing-only-line @no-bill-exist
  Scenario: A bill whose only line is omitted is No Bill Exist, a statement with no rows
    Given the "wxpay" statement for "2026-03-02" omits its entry number 1
    When the settlement system creates an order of 19.99 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-no-trades @no-bill-exist
  Scenario: A day without trades has no bill and nothing to reconcile
    When the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-phantom
  Scenario: A trade the books never saw is missing in the books
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "phantom", "amount": "12.34"}
      """
    When the settlement system creates an order of 40.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-amount @recon-duplicate
  Scenario: A bill with a changed amount and a duplicated line is reconciled exactly
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "amount", "nth": 0, "delta": "-0.50"}
      """
    And the "wxpay" statement for "2026-03-02" duplicates its entry number 2
    When the settlement system creates an order of 66.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 77.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-amount-fen
  Scenario: An amount one fen off is an amount mismatch, not rounding
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "amount", "nth": 0, "delta": "0.01"}
      """
    When the settlement system creates an order of 88.88 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-status
  Scenario: A trade the bill shows as still paying is a status mismatch
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "status", "nth": 0, "status": "pending"}
      """
    When the settlement system creates an order of 50.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-fee
  Scenario: A fee one fen above the contract rate is a fee mismatch, with the fees
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "fee", "nth": 0, "delta": "0.01"}
      """
    When the settlement system creates an order of 100.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-next-day
  Scenario: A trade the channel booked after the cut-off shows on both days
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "next_day", "nth": 0}
      """
    When the settlement system creates an order of 31.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 32.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-04 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    And the settlement system reconciles "wxpay" for "2026-03-03"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    And the reconciliation report for "wxpay" on "2026-03-03" lists exactly the real discrepancies

  @reconciliation @recon-previous-day
  Scenario: A trade the channel booked before the cut-off shows on both days
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "previous_day", "nth": 0}
      """
    When the settlement system creates an order of 41.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-01"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-01" lists exactly the real discrepancies
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-summary
  Scenario: A summary row that does not add up to the lines is a summary mismatch
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "summary", "delta": "0.01"}
      """
    When the settlement system creates an order of 12.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 13.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-late @bill-creating
  Scenario: A bill not generated yet is late, not empty
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "late", "delay": "1d"}
      """
    When the settlement system creates an order of 19.99 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then every payment at "wxpay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-late-then-out @bill-creating
  Scenario: A late bill reconciles once it is out
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "late", "delay": "1d"}
      """
    When the settlement system creates an order of 25.50 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    When the clock moves to "2026-03-04 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-truncated
  Scenario: A bill cut off mid-download is unreadable, not a bill with fewer trades
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "truncated"}
      """
    When the settlement system creates an order of 11.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 22.00 CNY at "wxpay" for merchant "M1"
    And the settlement system creates an order of 33.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-encoding
  Scenario: A bill in the wrong character encoding is unreadable
    Given the "wxpay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "encoding"}
      """
    When the settlement system creates an order of 14.00 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @recon-before-nine @bill-creating
  Scenario: A bill asked for before 09:00 the next day is not generated yet, so late
    When the settlement system creates an order of 9.90 CNY at "wxpay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 08:30"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
    When the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "wxpay" for "2026-03-02"
    Then the reconciliation report for "wxpay" on "2026-03-02" lists exactly the real discrepancies
