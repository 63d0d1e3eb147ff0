// Command loadgen drives a local stack (make run's, or one it starts itself)
// with a bounded load and reports what it measured: per route counts, errors
// by status, throughput and p50/p99/max; the tick → WebSocket latency of the
// valuations the ticks cause; and, with --abusive, what a hostile user was
// refused and how. It talks only to loopback addresses.
//
//	loadgen [--users N] [--commands M] [--ticks K] [--duration D] ...           one run
//	loadgen --compare ...                                                       the run without, then with, the abusive user
//	loadgen --sweep users|ticks|both ...                                        double the load until it degrades
//
// `make load` runs the standard scenario; RELIABILITY.md ("Load") has its figures.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
