package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/portfoliotracker/tracker/shared/devtools/emulator"
)

// SESv2 returns an SESv2 client for aws-ses-v2-local (or the external endpoint).
func SESv2(t testing.TB) *sesv2.Client {
	t.Helper()
	return sesv2.NewFromConfig(AWSConfig(t, SESService))
}

// SESURL is the base URL of aws-ses-v2-local, starting it if needed: its inbox viewer is there, the sent mail at
// /store. With PT_EXTERNAL_AWS=1 there is no inbox to read, and the test is skipped.
func SESURL(t testing.TB) string {
	t.Helper()
	if external, _ := emulator.ExternalAWS(); external {
		t.Skip("testenv: PT_EXTERNAL_AWS=1: no local SES inbox to read")
	}
	AWSConfig(t, SESService) // starts it and makes the environment hermetic, as for the other AWS emulators
	return ensure(t, emulator.SES)
}

// SentEmail is one message in aws-ses-v2-local's store, as GET /store reports it.
type SentEmail struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	At int64 `json:"at"` // Unix seconds
}

// Header returns the value of the message's custom header name (case-insensitive), or "".
func (e SentEmail) Header(name string) string {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// SESInbox returns every message in the emulator's store addressed (To, Cc or Bcc) to one of addresses, in the
// order they were sent. The store is shared by every package of a run: give each test its own addresses
// (UniqueEmail).
func SESInbox(t testing.TB, addresses ...string) []SentEmail {
	t.Helper()
	all, err := ReadSESStore(t.Context(), SESURL(t))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var out []SentEmail
	for _, e := range all {
		if e.addressedTo(addresses) {
			out = append(out, e)
		}
	}
	return out
}

// ReadSESStore reads every message aws-ses-v2-local at baseURL holds.
func ReadSESStore(ctx context.Context, baseURL string) ([]SentEmail, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/store", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the SES store: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the SES store: %s", resp.Status)
	}
	var store struct {
		Emails []SentEmail `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		return nil, fmt.Errorf("decode the SES store: %w", err)
	}
	return store.Emails, nil
}

func (e SentEmail) addressedTo(addresses []string) bool {
	for _, list := range [][]string{e.Destination.To, e.Destination.Cc, e.Destination.Bcc} {
		for _, got := range list {
			for _, want := range addresses {
				if strings.EqualFold(got, want) || strings.HasSuffix(strings.ToLower(got), "<"+strings.ToLower(want)+">") {
					return true
				}
			}
		}
	}
	return false
}

// UniqueEmail is an address at example.test that no other test of any run uses: <prefix>-<random>@example.test.
func UniqueEmail(t testing.TB, prefix string) string {
	t.Helper()
	return strings.ToLower(invalidNameChars.ReplaceAllString(prefix, "-")) + "-" + randomHex(t, 6) + "@example.test"
}
