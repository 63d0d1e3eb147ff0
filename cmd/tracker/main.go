// Command tracker is the operator CLI of the portfolio tracker. calc and benchdata
// run offline; migrate and replay reach the read models' database and the events
// table.
//
//	tracker calc --activities FILE --prices FILE [--as-of DATE] [--lot-method fifo|average]
//	tracker migrate --database-url DSN
//	tracker replay --events-table NAME --database-url DSN
//
// Run "tracker help" for the list of subcommands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
