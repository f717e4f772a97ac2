Feature: The Alipay bill's unhappy days are reconciled from what the wire shows
  The settlement system fetches the Alipay bill through
  alipay.data.dataservice.bill.downloadurl.query (a ZIP of two GBK CSVs) and compares it with
  its books, as it does the WeChat bill. sandbank renders the bill from its own ledger, so
  every difference is one it injected; the report must list exactly those. Alipay answers
  `isp.bill_not_exist` until the bill is generated (after 09:00 the next day, later when its
  bill job runs late): the bill is late, not empty. A ZIP that does not open whole, CSVs that
  are not GBK, a rule line missing: the bill is unreadable, never reconciled from its
  readable part. See docs/sut-adapter.md, "The reconciliation report".

  Background:
    Given a sandbank world on the default channels with the clock at "2026-03-02 10:00"
    And the settlement system is running
    And merchant "M1" is onboarded at bank "bank" with settlement cycle T+1

  @reconciliation @alipay-recon-late
  Scenario: An Alipay bill not generated yet is late, not empty, and reconciles once it is out
    Given the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "late", "delay": "1d"}
      """
    When the settlement system creates an order of 25.50 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 4.50 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then every payment at "alipay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies
    When the clock moves to "2026-03-04 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @alipay-recon-truncated
  Scenario: An Alipay bill ZIP cut off mid-download is unreadable, not a bill with fewer trades
    Given the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "truncated"}
      """
    When the settlement system creates an order of 11.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 22.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 33.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @alipay-recon-encoding
  Scenario: An Alipay bill whose CSVs are not GBK is unreadable
    Given the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "encoding"}
      """
    When the settlement system creates an order of 14.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @alipay-recon-summary
  Scenario: An Alipay bill whose totals line does not add up to its rows is a summary mismatch
    Given the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "summary", "delta": "0.01"}
      """
    When the settlement system creates an order of 12.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 13.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies

  @reconciliation @alipay-recon-differences
  Scenario: An Alipay bill missing a trade, with a stranger's, one fen off and a fee above the rate is reconciled exactly
    Given the "alipay" statement for "2026-03-02" omits its entry number 3
    And the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "phantom", "amount": "12.34"}
      """
    And the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "amount", "nth": 0, "delta": "0.01"}
      """
    And the "alipay" statement for "2026-03-02" has the mismatch:
      """
      {"kind": "fee", "nth": 1, "delta": "0.01"}
      """
    When the settlement system creates an order of 100.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 200.00 CNY at "alipay" for merchant "M1"
    And the settlement system creates an order of 30.00 CNY at "alipay" for merchant "M1"
    And the customer pays every order
    And the clock moves to "2026-03-03 10:00"
    And the settlement system reconciles "alipay" for "2026-03-02"
    Then every payment at "alipay" on "2026-03-02" was booked exactly once
    And the reconciliation report for "alipay" on "2026-03-02" lists exactly the real discrepancies
