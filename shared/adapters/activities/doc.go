// Package activities reads activity files — Ghostfolio's export/import JSON, our own
// JSON, and Ghostfolio-style CSV — into portfolio transactions.
//
// # JSON
//
// One parser reads both JSON dialects (it accepts their union). The top level is an
// object with an "activities" array; every other top-level key ("meta", "accounts",
// "user", ...) is skipped, and so is every activity key not listed here
// ("dataSource", "comment", "accountId", "tags", ...):
//
//	{"activities": [
//	  {"id": "a1", "date": "2024-01-02", "type": "BUY", "symbol": "AAPL",
//	   "quantity": 10, "unitPrice": "185.64", "fee": 1, "currency": "USD"},
//	  {"id": "a2", "date": "2024-03-01T00:00:00.000Z", "type": "DIVIDEND", "symbol": "AAPL",
//	   "quantity": 10, "unitPrice": 0.24, "tax": 0.36, "currency": "USD"},
//	  {"date": "2024-06-10", "type": "SPLIT", "symbol": "NVDA", "ratio": "10:1", "currency": "USD"},
//	  {"type": "VOID", "voids": "a2", "reason": "booked twice"}
//	]}
//
// Keys:
//
//	date       "YYYY-MM-DD" or an RFC 3339 date-time; the calendar day as written
//	           (calendar.ParseDateOrDateTime)
//	type       BUY, SELL, DIVIDEND, INTEREST, FEE (Ghostfolio's), DEPOSIT, WITHDRAWAL,
//	           SPLIT, CONVERSION, VOID (ours), any letter case. Ghostfolio's ITEM and LIABILITY
//	           are rejected as not supported.
//	symbol     required for BUY, SELL, DIVIDEND, SPLIT; optional for INTEREST, FEE;
//	           absent or "" for DEPOSIT, WITHDRAWAL
//	quantity, unitPrice, fee, amount, tax
//	           JSON numbers or numeric strings, read exactly (never through float64);
//	           never negative. Exponents are accepted (JavaScript writes 1e-7), but
//	           the value must have at most MaxDecimalPlaces decimals and fewer than
//	           MaxIntegerDigits integer digits.
//	currency   the activity's own currency: an ISO 4217 code, or a quote unit such
//	           as GBp (London prices in pence: price, amount, fee and tax are then
//	           pence). Activities may be in any currencies; the file does not say
//	           which is the base (the caller does). A symbol's trades share one.
//	fxRate     optional: base-currency units per unit of the activity's
//	           settlement currency (GBP for GBp) on its date, as recorded
//	toAmount, toCurrency
//	           CONVERSION only: "amount" of "currency" goes out, "toAmount" of
//	           "toCurrency" (an ISO code) comes in
//	id         optional, unique in the file
//	note       optional text
//	ratio      SPLIT only: "N:D", N new shares for D old ("2:1"; "1:10" reverse)
//	voids, reason
//	           VOID only, see below
//
// A null value counts as absent; a key given twice in one activity is an error.
//
// Encoding rules (Ghostfolio's):
//
//	BUY, SELL        gross = quantity × unitPrice; fee separate; "amount" not allowed
//	DIVIDEND, INTEREST, DEPOSIT, WITHDRAWAL
//	                 amount = quantity × unitPrice, or an explicit "amount" (if both
//	                 are given they must agree)
//	FEE              the charge is in "fee" (or "amount"); quantity × unitPrice must
//	                 be 0. It becomes a FEE transaction with Amount = the charge, Fee = 0.
//	SPLIT            "ratio"; no quantity, price or amount
//	CONVERSION       "amount", "toAmount", "toCurrency"; fee and tax in "currency"
//	any              optional "tax" (withholding, transaction tax)
//
// Every transaction passes portfolio.Transaction.Validate. Seq is the activity's
// 0-based index in the file, and the result is sorted by portfolio's replay order
// (date; splits first within a date; then file order), so the file may list
// activities in any order.
//
// # Voids
//
// Our JSON corrects a record without rewriting history by appending a VOID activity:
//
//	{"type": "VOID", "voids": "<id of an earlier activity>", "reason": "why"}
//
// It may also carry its own "id", a "date" (when the correction was made; not used)
// and a "note", and nothing else. The voided activity is removed from the result as
// if it had never been recorded. The target must appear earlier in the file (a VOID
// follows what it cancels, as an appended event does); voiding an unknown or later
// id, a VOID, or an activity already voided is an error. VOIDs apply whatever date
// a caller later filters on: they correct the record, they are not events in time.
//
// # CSV
//
// ParseCSV reads Ghostfolio's CSV import layout: a header row, then one activity per
// row. Headers are matched in any letter case, with Ghostfolio's aliases: date
// (tradedate), symbol (code, ticker), currency (ccy, currencyprimary), unitPrice
// (price, tradeprice, value), quantity (qty, shares, units), type (action,
// buy/sell), fee (commission, ibcommission), plus our amount, tax, id, note, ratio,
// fxRate, toAmount, toCurrency.
// Other columns (dataSource, account, comment, ...) are ignored. The same rules as
// for JSON apply; VOID rows are not supported in CSV.
//
// # Errors
//
// Every error is an *Error whose message is one line (see Error), matches
// ErrInvalidFile, and — where the domain decided — also the domain sentinel
// (portfolio.ErrInvalidTransaction, ErrCurrencyMismatch, ErrNotFound,
// ErrAlreadyVoided).
package activities
