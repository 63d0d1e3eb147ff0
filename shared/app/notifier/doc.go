// Package notifier is the notifier function's use case: it turns what the
// producers put in the notification outbox (alert firings, weekly summaries,
// phone codes) into deliveries per channel as each user's preferences say, and
// sends them with retries, recording every attempt.
package notifier
