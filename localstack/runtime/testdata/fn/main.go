// Command fn is the test function for package runtime: a real aws-lambda-go
// program whose behaviour is chosen by the event, so the tests exercise the
// same client code every function's bootstrap runs.
//
// FN_INIT selects an init failure: "exit" ends the process before lambda.Start
// (as a failed config load does), "post" reports through /runtime/init/error and
// then hangs (the runtime must kill it), "hang" never finishes init.
// FN_INIT_DELAY_MS makes a successful init take that long.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string   `json:"action"`
	Text   string   `json:"text,omitempty"`
	MS     int      `json:"ms,omitempty"`
	Code   int      `json:"code,omitempty"`
	Size   int      `json:"size,omitempty"`
	Keys   []string `json:"keys,omitempty"`
}

// contextInfo is what the "context" action reports about its invocation.
type contextInfo struct {
	RequestID    string `json:"requestId"`
	FunctionArn  string `json:"functionArn"`
	DeadlineMS   int64  `json:"deadlineMs"`
	TraceID      string `json:"traceId"`
	FunctionName string `json:"functionName"`
	MemoryMB     int    `json:"memoryMB"`
	Version      string `json:"version"`
	PID          int    `json:"pid"`
}

// streamError breaks a streamed response after its first bytes.
type streamError struct{}

func (streamError) Read([]byte) (int, error) { return 0, streamError{} }
func (streamError) Error() string            { return "disk on fire" }

type customError struct{ msg string }

func (e *customError) Error() string { return e.msg }

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch ev.Action {
	case "echo":
		return raw, nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return contextInfo{
			RequestID: lc.AwsRequestID, FunctionArn: lc.InvokedFunctionArn, DeadlineMS: dl.UnixMilli(),
			TraceID: trace, FunctionName: lambdacontext.FunctionName, MemoryMB: lambdacontext.MemoryLimitInMB,
			Version: lambdacontext.FunctionVersion, PID: os.Getpid(),
		}, nil
	case "pid":
		return os.Getpid(), nil
	case "env":
		out := map[string]string{}
		for _, k := range ev.Keys {
			out[k] = os.Getenv(k)
		}
		return out, nil
	case "error":
		return nil, errors.New(ev.Text)
	case "custom-error":
		return nil, &customError{ev.Text}
	case "panic":
		panic(ev.Text)
	case "exit":
		os.Exit(ev.Code)
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return map[string]int{"slept": ev.MS, "pid": os.Getpid()}, nil
	case "print":
		fmt.Println(ev.Text)
		fmt.Fprintln(os.Stderr, "stderr: "+ev.Text)
		return "printed", nil
	case "broken-stream":
		// aws-lambda-go reports a reader's error in the response's trailers.
		return io.MultiReader(strings.NewReader(`{"partial":`), streamError{}), nil
	case "big":
		return strings.Repeat("x", ev.Size), nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func main() {
	switch os.Getenv("FN_INIT") {
	case "exit":
		log.Fatal("init failed: missing configuration")
	case "post":
		body, _ := json.Marshal(map[string]string{"errorMessage": "cannot connect", "errorType": "Custom.InitFailure"})
		req, _ := http.NewRequest(http.MethodPost, "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Custom.InitFailure")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		select {}
	case "hang":
		select {}
	}
	if ms, err := strconv.Atoi(os.Getenv("FN_INIT_DELAY_MS")); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	lambda.Start(handle)
}
