package supabaseadmin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// callTransport serves exactly one library call. gotrue-go builds its requests
// with http.NewRequest (no context) and has no pagination parameters, so this
// is where the call's context, its query and its limits go in, and where the
// status comes out. The library only calls RoundTrip from the goroutine that
// made the call (redirects are refused), so the fields need no lock.
type callTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	query   url.Values // added to the request's query
	maxBody int64

	status      int    // of the response, 0 if none
	contentType string // of the response
	errBody     []byte // the first maxErrorBody bytes of a non-2xx body
	tooLarge    bool   // a 2xx body went past maxBody
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if len(t.query) > 0 {
		q := r.URL.Query()
		for k, v := range t.query {
			q[k] = v
		}
		r.URL.RawQuery = q.Encode()
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.status = resp.StatusCode
	t.contentType = resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a bounded prefix here: the library would io.ReadAll the body
		// into its error text.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		t.errBody = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.maxBody, t: t}
	return resp, nil
}

var errBodyTooLarge = errors.New("response body too large")

// limitedBody fails a read that goes past left bytes.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	t    *callTransport
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.t.tooLarge {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.t.tooLarge = true
		n = int(b.left)
		b.left = 0
		return n, errBodyTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
