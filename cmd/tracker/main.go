// Command tracker is the operator CLI of the portfolio tracker. It runs offline: no
// AWS, no network.
//
//	tracker calc --activities FILE --prices FILE [--as-of DATE] [--lot-method fifo|average]
//
// Run "tracker help" for the list of subcommands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
