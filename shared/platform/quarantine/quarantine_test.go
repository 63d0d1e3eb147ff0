package quarantine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/quarantine"
)

func record(id string, v int64) quarantine.Record {
	return quarantine.Record{Consumer: "projector", AggregateID: id, Version: v, EventType: "TransactionRecorded", EventID: "e-" + id,
		Reason: "corrupt event", Image: json.RawMessage(`{"aggregateId":{"S":"` + id + `"}}`), SequenceNumber: "100",
		QuarantinedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Several processes append to the local destination at once (the event source
// mapping and the functions): every line stays whole, and Read gives back the
// records and, apart, Lambda's own.
func TestFileSinkAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures", "projector.jsonl")
	lambdaRecord := `{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"s-1","startSequenceNumber":"1","endSequenceNumber":"9"}}`
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(lambdaRecord+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			sink := quarantine.NewFileSink(path) // one per writer, as separate processes would have
			for i := range 25 {
				if err := sink.Send(context.Background(), []quarantine.Record{record(string(rune('a'+w)), int64(i+1))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, others, err := quarantine.Read(f)
	if err != nil || len(recs) != 100 || len(others) != 1 || string(others[0]) != lambdaRecord {
		t.Fatalf("%d records, others %s, err %v", len(recs), others, err)
	}
	if r := recs[0]; r.Kind != quarantine.Kind || r.Consumer != "projector" || r.Version < 1 || r.SequenceNumber != "100" || !strings.Contains(string(r.Image), r.AggregateID) {
		t.Errorf("record %+v", r)
	}
}

// Messages as read off the SQS queue: `aws sqs receive-message` output, its list
// alone, or single messages with a Body.
func TestReadSQSMessages(t *testing.T) {
	body := func(r quarantine.Record) string {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s, _ := json.Marshal(string(b))
		return string(s)
	}
	in := `{"Messages": [{"MessageId": "m1", "ReceiptHandle": "h", "Body": ` + body(record("p1", 3)) + `},
	                     {"MessageId": "m2", "Body": "{\"requestContext\":{},\"DDBStreamBatchInfo\":{}}"}]}
[{"MessageId": "m3", "Body": ` + body(record("p2", 4)) + `}]
{"messageId": "m4", "body": ` + body(record("p3", 5)) + `}
`
	recs, others, err := quarantine.Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.AggregateID)
	}
	if strings.Join(got, ",") != "p1,p2,p3" || len(others) != 1 {
		t.Fatalf("records %v, others %s", got, others)
	}
	if _, _, err := quarantine.Read(strings.NewReader(`{"kind": "QuarantinedEvent", "version": "x"}`)); err == nil {
		t.Error("a malformed record read without an error")
	}
}

// A message stays within SQS's limit: an image that would exceed it is left out.
func TestEncodeLeavesOutAHugeImage(t *testing.T) {
	r := record("p1", 1)
	r.Image = json.RawMessage(`{"data":{"S":"` + strings.Repeat("x", 300<<10) + `"}}`)
	b, err := r.Encode()
	if err != nil || len(b) > quarantine.MaxMessageBytes {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	var back quarantine.Record
	if err := json.Unmarshal(b, &back); err != nil || back.Image != nil || !strings.Contains(back.Reason, "left out of this message") || back.AggregateID != "p1" {
		t.Fatalf("%+v %v", back, err)
	}
}

// A Kinesis record travels whole (base64 data) when it fits, and is left out of a
// message that would exceed SQS's limit, its position still named.
func TestKinesisRecordData(t *testing.T) {
	r := quarantine.Record{Consumer: "prices", Reason: "not a MarketDataUpdated event", SequenceNumber: "4955", ShardID: "shardId-000000000001",
		PartitionKey: "AAPL", Stream: "arn:aws:kinesis:us-east-1:000000000000:stream/md", Data: []byte("\x00not json")}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := quarantine.Read(strings.NewReader(string(b)))
	if err != nil || len(recs) != 1 || string(recs[0].Data) != string(r.Data) || recs[0].ShardID != r.ShardID || recs[0].PartitionKey != "AAPL" {
		t.Fatalf("%s read back as %+v (%v)", b, recs, err)
	}
	r.Data = []byte(strings.Repeat("x", 300<<10))
	if b, err = r.Encode(); err != nil || len(b) > quarantine.MaxMessageBytes {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	var back quarantine.Record
	if err := json.Unmarshal(b, &back); err != nil || back.Data != nil || !strings.Contains(back.Reason, "record data of 307200 bytes left out") || back.SequenceNumber != "4955" {
		t.Fatalf("%+v %v", back, err)
	}
}
