// Package currency knows currencies and exchange rates: the ISO 4217 codes and
// their minor units, the quote units exchanges price in (GBp: pence, a hundredth
// of a pound), and Rates, a table of dated exchange rates that answers the rate
// in force on a day directly, inverted, or crossed through USD. It is pure domain
// code (decimal arithmetic, no I/O); docs/architecture.md §7 states how the
// portfolio figures use it.
package currency
