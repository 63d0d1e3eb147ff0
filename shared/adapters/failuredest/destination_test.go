package failuredest_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portfoliotracker/tracker/shared/adapters/failuredest"
	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

func TestOpen(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if s, err := failuredest.Open(cfg, "file://"+path); err != nil || s == nil {
		t.Fatalf("file: %v %v", s, err)
	}
	if s, err := failuredest.Open(cfg, "https://sqs.us-east-1.amazonaws.com/000000000000/pt-dev-projector-events-failures"); err != nil {
		t.Fatalf("queue: %v %v", s, err)
	} else if _, ok := s.(*failuredest.SQS); !ok {
		t.Fatalf("queue URL opened as %T", s)
	}
	if s, err := failuredest.Open(cfg, ""); s != nil || err != nil {
		t.Fatalf("empty: %v %v", s, err)
	}
	for _, bad := range []string{"file://host/x", "s3://bucket/x", "file:"} {
		if _, err := failuredest.Open(cfg, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The SQS sink speaks SQS's JSON protocol: one SendMessage per record, the
// record's JSON as the body. There is no SQS emulator among the test engines, so
// this stands in for the queue at the HTTP level and checks the requests.
func TestSQSSendsOneMessagePerRecord(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ QueueUrl, MessageBody string }
		if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" || json.NewDecoder(r.Body).Decode(&in) != nil || in.QueueUrl != "https://queue.example/q" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies = append(bodies, in.MessageBody)
		mu.Unlock()
		sum := md5.Sum([]byte(in.MessageBody))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": "m", "MD5OfMessageBody": hex.EncodeToString(sum[:])})
	}))
	defer srv.Close()
	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	sink := failuredest.NewSQS(client, "https://queue.example/q")
	recs := []quarantine.Record{{Consumer: "projector", AggregateID: "p1", Version: 2, Reason: "r"}, {Consumer: "projector", AggregateID: "p2", Version: 7, Reason: "r"}}
	if err := sink.Send(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d messages", len(bodies))
	}
	var back quarantine.Record
	if err := json.Unmarshal([]byte(bodies[1]), &back); err != nil || back.Kind != quarantine.Kind || back.AggregateID != "p2" || back.Version != 7 {
		t.Fatalf("%s: %+v %v", bodies[1], back, err)
	}
	srv.Close() // the queue unreachable: the send fails, so the caller does not move on
	if err := sink.Send(context.Background(), recs[:1]); err == nil {
		t.Fatal("send to an unreachable queue succeeded")
	}
}
