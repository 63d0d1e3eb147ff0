// Command localstack runs the whole system on one machine without Docker (see
// localstack/README.md): `make run` is `localstack run`.
//
//	localstack run                 start everything, seed the demo, print the URLs; Ctrl-C stops it all
//	localstack token USER          print an access token for USER (from the running stack)
//	localstack fire SCHEDULE       run a schedule now (see GET /schedules on the admin port)
//	localstack reset               delete the local data (the stack must not be running)
//
// Configuration: PT_LOCAL_* variables (localstack/stack.FromEnv).
package main

import (
	"os"

	"github.com/portfoliotracker/tracker/localstack/stack"
)

func main() { os.Exit(stack.Main(os.Args[1:], os.Stdout, os.Stderr)) }
