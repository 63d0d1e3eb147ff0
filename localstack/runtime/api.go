package runtime

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// The Runtime API as a Go runtime uses it (aws-lambda-go's runtime_api_client.go)
// and as Lambda answers misuse (error types from Amazon's runtime interface
// emulator): 400 InvalidRequestID for an ID that is not the current
// invocation's, 403 InvalidStateTransition for a call the instance's state does
// not allow (a second result, init/error after init), 413 RequestEntityTooLarge.
const (
	apiPrefix = "/2018-06-01/runtime/"

	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionArn = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	// trailerErrorBody carries the base64 error document when a runtime fails
	// while streaming a response body; the type comes in headerErrorType.
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

func (inst *instance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		apiError(w, http.StatusNotFound, "InvalidPath", "unknown path "+r.URL.Path)
		return
	}
	method := http.MethodPost
	var handle func()
	switch {
	case rest == "invocation/next":
		method = http.MethodGet
		handle = func() { inst.next(w, r) }
	case rest == "init/error":
		handle = func() { inst.postInitError(w, r) }
	case strings.HasPrefix(rest, "invocation/"):
		id, action, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		switch {
		case id == "" || strings.Contains(action, "/"):
		case action == "response":
			handle = func() { inst.postResult(w, r, id, false) }
		case action == "error":
			handle = func() { inst.postResult(w, r, id, true) }
		}
	}
	switch {
	case handle == nil:
		apiError(w, http.StatusNotFound, "InvalidPath", "unknown path "+r.URL.Path)
	case r.Method != method:
		apiError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" not allowed on "+r.URL.Path)
	default:
		handle()
	}
}

// next is the long poll: it marks the previous invocation complete, makes the
// instance available, and blocks until an invocation is handed over.
func (inst *instance) next(w http.ResponseWriter, r *http.Request) {
	f := inst.f
	inst.mu.Lock()
	if inst.nextWaiting || (inst.initClosed && inst.initErr != nil) {
		inst.mu.Unlock()
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "State transition to next is not allowed in the current state")
		return
	}
	release := false
	// A handled error's result waits until the instance is back in the pool,
	// so the caller's next invocation finds it idle.
	var settled *invocation
	var res result
	if prev := inst.inv; prev != nil && prev.delivered {
		if !prev.finished {
			settled = prev
			prev.finished = true
			if prev.state == invErrorPosted {
				res.err = prev.posted
			} else {
				msg := fmt.Sprintf("RequestId: %s Error: runtime asked for the next event without posting a result", prev.id)
				res.err = &invoke.FunctionError{
					Function: f.cfg.Name, Type: "Runtime.NoResponse", Message: msg, Unhandled: true,
					Payload: errorDoc("Runtime.NoResponse", msg),
				}
			}
		}
		prev.timer.Stop()
		inst.inv = nil
		release = true
	}
	// An undelivered invocation stays: its /next connection broke before the
	// hand-over, and this request picks it up from work.
	if !inst.initClosed {
		inst.initClosed = true
		inst.ready.Store(true)
		close(inst.initDone)
		release = inst.abandoned
	}
	inst.nextWaiting = true
	inst.mu.Unlock()
	if release {
		f.release(inst)
	}
	if settled != nil {
		f.deliver(settled, res)
	}

	var inv *invocation
	select {
	case inv = <-inst.work:
	case <-r.Context().Done():
	}
	inst.mu.Lock()
	inst.nextWaiting = false
	deliver := inv != nil && !inv.finished
	if deliver {
		inv.delivered = true
	}
	inst.mu.Unlock()
	if !deliver {
		if inv != nil {
			// It timed out before the runtime took it; the process is being killed.
			apiError(w, http.StatusInternalServerError, "InternalServerError", "invocation expired before delivery")
		}
		return
	}
	f.stats.invocations.Add(1)
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(inv.payload))}
	h[headerRequestID] = []string{inv.id}
	h[headerDeadline] = []string{strconv.FormatInt(inv.deadline.UnixMilli(), 10)}
	h[headerFunctionArn] = []string{f.arn}
	h[headerTraceID] = []string{inv.trace}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// postResult handles POST invocation/{id}/response and invocation/{id}/error.
func (inst *instance) postResult(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	f := inst.f
	inv, status, errType, msg := inst.current(id)
	if inv == nil {
		apiError(w, status, errType, msg)
		return
	}
	body, tooLarge, err := readBody(r, MaxResponseSize)
	if err != nil {
		apiError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}

	var res result
	var posted *invoke.FunctionError
	switch {
	case tooLarge:
		m := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxResponseSize)
		res.err = &invoke.FunctionError{
			Function: f.cfg.Name, Type: "Function.ResponseSizeTooLarge", Message: m, Unhandled: true,
			Payload: errorDoc("Function.ResponseSizeTooLarge", m),
		}
	case isError:
		posted = parseErrorDoc(f.cfg.Name, body, r.Header.Get(headerErrorType))
		if posted.Type == "" {
			posted.Type = "Unknown"
		}
	case r.Trailer.Get(headerErrorType) != "":
		// The runtime failed mid-response and said so in the trailers.
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody))
		posted = parseErrorDoc(f.cfg.Name, doc, r.Trailer.Get(headerErrorType))
	default:
		res.payload = body
	}

	inst.mu.Lock()
	if inst.inv != inv || inv.finished || inv.state != invDispatched {
		// Settled meanwhile (timed out, or a concurrent post won).
		inst.mu.Unlock()
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "invocation "+id+" is already complete")
		return
	}
	// Marked before the caller hears of the result, so its next call waits
	// for this instance instead of starting another.
	f.markFinishing(inst)
	if posted != nil {
		inv.state = invErrorPosted
		inv.posted = posted
	} else {
		inv.state = invResponded
		inst.finish(inv, res)
	}
	inst.mu.Unlock()

	if tooLarge {
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			fmt.Sprintf("Exceeded maximum allowed payload size (%d bytes).", MaxResponseSize))
		return
	}
	accepted(w)
}

// current returns the invocation a result for id may settle, or the Runtime
// API's answer for why none can.
func (inst *instance) current(id string) (inv *invocation, status int, errType, msg string) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	cur := inst.inv
	if cur == nil || !cur.delivered || cur.finished || cur.state != invDispatched {
		return nil, http.StatusForbidden, "InvalidStateTransition", "no invocation is waiting for a result"
	}
	if cur.id != id {
		return nil, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID"
	}
	return cur, 0, "", ""
}

// postInitError records the error a runtime reports for its init. The process
// is killed by whoever waits for the init, as Lambda resets the environment.
func (inst *instance) postInitError(w http.ResponseWriter, r *http.Request) {
	f := inst.f
	body, _, err := readBody(r, MaxResponseSize)
	if err != nil {
		apiError(w, http.StatusBadRequest, "TruncatedHTTPRequest", "HTTP request detected as truncated")
		return
	}
	fe := parseErrorDoc(f.cfg.Name, body, r.Header.Get(headerErrorType))
	if fe.Type == "" {
		fe.Type = "Runtime.InitError"
	}
	fe.Unhandled = true
	inst.mu.Lock()
	if inst.initClosed {
		inst.mu.Unlock()
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "State transition to init error is not allowed after init")
		return
	}
	inst.initClosed = true
	inst.initErr = fe
	close(inst.initDone)
	abandoned := inst.abandoned
	inst.mu.Unlock()
	accepted(w)
	if abandoned {
		inst.kill()
	}
}

// readBody reads at most limit bytes; tooLarge reports a longer body.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > int64(limit) {
		return nil, true, nil
	}
	size := 512
	if r.ContentLength > 0 {
		size = int(r.ContentLength) + 1 // +1 so ReadAll sees EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			return nil, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read runtime API request body: %w", err)
		}
	}
}

// parseErrorDoc turns a posted error document into a FunctionError. The
// document's errorType wins over the header, as the document is what a Lambda
// caller receives.
func parseErrorDoc(function string, body []byte, headerType string) *invoke.FunctionError {
	var doc struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	fe := &invoke.FunctionError{Function: function, Payload: body}
	if err := json.Unmarshal(body, &doc); err == nil {
		fe.Type, fe.Message = doc.Type, doc.Message
	} else {
		fe.Message = string(body)
		if len(fe.Message) > 1024 {
			fe.Message = fe.Message[:1024] + "..."
		}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	return fe
}

// errorDoc renders an error document in the shape runtimes post.
func errorDoc(errType, msg string) []byte {
	b, _ := json.Marshal(struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}{msg, errType})
	return b
}

func apiError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorDoc(errType, msg))
}

var acceptedBody = []byte(`{"status":"OK"}`)

func accepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}
