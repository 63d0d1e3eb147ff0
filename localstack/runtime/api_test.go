package runtime_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiCall sends one request to an instance's Runtime API and decodes the
// {errorMessage, errorType} answer.
func apiCall(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc struct{ ErrorType string }
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &doc); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d answer not a JSON error document: %s", method, url, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, doc.ErrorType
}

func TestRuntimeAPIMisuse(t *testing.T) {
	rt := start(t, nil)
	// The instance reports its own Runtime API address; it is now idle, blocked
	// in /next, and its previous invocation is complete.
	var env map[string]string
	if err := json.Unmarshal(mustCall(t, rt, `{"action":"env","keys":["AWS_LAMBDA_RUNTIME_API"]}`), &env); err != nil {
		t.Fatal(err)
	}
	base := "http://" + env["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
	var info contextInfo
	if err := json.Unmarshal(mustCall(t, rt, `{"action":"context"}`), &info); err != nil {
		t.Fatal(err)
	}
	done := info.RequestID
	for end := time.Now().Add(5 * time.Second); rt.Stats("fn").Idle != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never idle: %+v", rt.Stats("fn"))
		}
	}

	for _, c := range []struct {
		method, path string
		status       int
		errType      string
	}{
		{"POST", "/invocation/" + done + "/response", 403, "InvalidStateTransition"}, // already answered
		{"POST", "/invocation/" + done + "/error", 403, "InvalidStateTransition"},
		{"POST", "/invocation/not-a-request/response", 403, "InvalidStateTransition"},
		{"GET", "/invocation/next", 403, "InvalidStateTransition"}, // one /next is already waiting
		{"POST", "/init/error", 403, "InvalidStateTransition"},     // init is over
		{"GET", "/invocation/" + done + "/response", 405, "MethodNotAllowed"},
		{"POST", "/invocation/" + done + "/bogus", 404, "InvalidPath"},
		{"GET", "/../../2020-01-01/extension/register", 404, "InvalidPath"},
		{"POST", "/invocation//response", 404, "InvalidPath"},
	} {
		status, typ := apiCall(t, c.method, base+c.path, `{}`)
		if status != c.status || typ != c.errType {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, status, typ, c.status, c.errType)
		}
	}

	// While an invocation runs, a result for another request ID is refused.
	errc := make(chan error, 1)
	go func() {
		_, err := call(t, rt, `{"action":"sleep","ms":300}`)
		errc <- err
	}()
	waitBusy(t, rt)
	if status, typ := apiCall(t, "POST", base+"/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response", `"forged"`); status != 400 || typ != "InvalidRequestID" {
		t.Errorf("result for a foreign request ID: %d %s", status, typ)
	}
	if err := <-errc; err != nil {
		t.Fatalf("the running invocation was disturbed: %v", err)
	}
	// The instance survived all of it.
	mustCall(t, rt, `{"action":"echo"}`)
	if st := rt.Stats("fn"); st.ColdStarts != 1 {
		t.Fatalf("stats %+v", st)
	}
}
