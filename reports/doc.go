// Package reports computes the statistics office's report tables from the projections'
// state: for a year or a run of months, each breakdown with a 合计 row, shares of the
// total and growth on the same period of the previous year (Build), the action-plan
// indicators (plan_* tables), and the tax-eligibility flags of a tax year (BuildTax). It
// also writes them as a JSON document (byte-stable: the same position gives the same
// bytes) and as an Excel workbook.
//
// The package does no I/O and folds nothing: every figure comes from a projections.State
// (read it inside Runner.Read), so the report agrees with the statistics by construction.
// docs/reports.md describes every table, the units and rounding, and the rules with their
// sources and dates.
package reports
