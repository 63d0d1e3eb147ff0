// Package quarantine is what a stream consumer does with a record it gives up on
// for good (docs/architecture.md, "Self-healing consumers"): a Record naming the
// aggregate and version, sent through a Sink to the consumer's failure
// destination, where `tracker replay --failures` reads it back.
//
// Lambda's own on-failure record of a stream batch names only a shard and
// sequence numbers, which mean nothing once the stream's 24 hours have passed; a
// Record names the event itself, so it can be replayed from the event store at
// any time. A Kinesis record (the prices consumer's market data, which no store
// keeps) travels whole instead: its shard, sequence number, partition key and
// data, enough to put it back on the stream. Both kinds share the destination
// (the mapping's SQS queue on AWS, a file of JSON lines locally); Kind tells them
// apart.
package quarantine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Kind is every Record's "kind".
const Kind = "QuarantinedEvent"

// Record is one quarantined stream record.
type Record struct {
	Kind string `json:"kind"`
	// Consumer is the function that gave up on it (projector, analytics, prices).
	Consumer string `json:"consumer"`
	// AggregateID and Version name the event; both are empty for a stream record
	// whose keys could not be read (then only Image says what it was).
	AggregateID string `json:"aggregateId,omitempty"`
	Version     int64  `json:"version,omitempty"`
	EventType   string `json:"eventType,omitempty"`
	EventID     string `json:"eventId,omitempty"`
	Reason      string `json:"reason"`
	// Image is the stream record's NewImage (DynamoDB JSON), when the record was
	// unreadable; left out of a message that would exceed MaxMessageBytes.
	Image json.RawMessage `json:"image,omitempty"`
	// SequenceNumber is the stream record's, for the logs of the same batch.
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	// A Kinesis record's stream (the event source ARN), shard, partition key and
	// data (base64 in JSON): what to put back on the stream to replay it. Data is
	// left out of a message that would exceed MaxMessageBytes.
	Stream       string `json:"stream,omitempty"`
	ShardID      string `json:"shardId,omitempty"`
	PartitionKey string `json:"partitionKey,omitempty"`
	Data         []byte `json:"data,omitempty"`

	QuarantinedAt time.Time `json:"quarantinedAt"`
}

// MaxMessageBytes is the most a record's JSON may take: SQS's message limit of
// 256 KiB. A larger image (a DynamoDB item reaches 400 KB) is left out of the
// message; the projector keeps it in projection_failures. So is larger Kinesis
// data (a record reaches 1 MiB); the stream keeps it for its retention, and the
// shard and sequence number find it there.
const MaxMessageBytes = 256 << 10

// Encode is the record's message body, Image and Data left out when the whole
// would exceed MaxMessageBytes.
func (r Record) Encode() ([]byte, error) {
	r.Kind = Kind
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("quarantine: encode record of %s version %d: %w", r.AggregateID, r.Version, err)
	}
	if len(b) <= MaxMessageBytes {
		return b, nil
	}
	r.Reason = truncate(r.Reason, 4000)
	if len(r.Image) > 0 {
		r.Reason += fmt.Sprintf(" (stream image of %d bytes left out of this message)", len(r.Image))
	}
	if len(r.Data) > 0 {
		r.Reason += fmt.Sprintf(" (record data of %d bytes left out of this message)", len(r.Data))
	}
	r.Image, r.Data = nil, nil
	if b, err = json.Marshal(r); err != nil {
		return nil, fmt.Errorf("quarantine: encode record of %s version %d: %w", r.AggregateID, r.Version, err)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return string(bytes.ToValidUTF8([]byte(s[:n]), nil))
}

// Sink is a failure destination. Send delivers every record or fails: a caller
// that quarantined something does not move past it until it is recorded.
type Sink interface {
	Send(ctx context.Context, recs []Record) error
}

// FileSink appends records to a file as JSON lines: the local stack's failure
// destination, the same file its event source mapping writes Lambda's records to
// (.data/local/failures/<function>.jsonl). Each record is one write to a file
// opened for appending, so lines from several processes never interleave.
type FileSink struct {
	mu   sync.Mutex
	path string
}

// NewFileSink returns the sink for path; the file is created on the first Send.
func NewFileSink(path string) *FileSink { return &FileSink{path: path} }

// Send implements Sink.
func (s *FileSink) Send(_ context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("quarantine: open %s: %w", s.path, err)
	}
	for _, r := range recs {
		b, err := r.Encode()
		if err == nil {
			_, err = f.Write(append(b, '\n'))
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("quarantine: append to %s: %w", s.path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("quarantine: append to %s: %w", s.path, err)
	}
	return nil
}

// Read reads what a failure destination holds: JSON lines as a FileSink and the
// local event source mapping write them, or messages as read off the SQS queue
// (objects whose "Body" holds the record, or the output of `aws sqs
// receive-message`, {"Messages": [...]}, or its list alone), in any mix. It returns the quarantine
// records, and apart every other message (Lambda's invocation records, which name
// only stream positions) for the caller to report.
func Read(r io.Reader) (recs []Record, others []json.RawMessage, err error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return recs, others, nil
			}
			return recs, others, fmt.Errorf("quarantine: message %d: %w", n, err)
		}
		if err := classify(raw, &recs, &others, 0); err != nil {
			return recs, others, fmt.Errorf("quarantine: message %d: %w", n, err)
		}
	}
}

func classify(raw json.RawMessage, recs *[]Record, others *[]json.RawMessage, depth int) error {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' && depth <= 2 { // receive-message --query Messages
		var list []json.RawMessage
		if err := json.Unmarshal(t, &list); err == nil {
			for _, m := range list {
				if err := classify(m, recs, others, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
	}
	var probe struct {
		Kind     string            `json:"kind"`
		Messages []json.RawMessage `json:"Messages"`
		Body     *string           `json:"Body"`
		LowBody  *string           `json:"body"` // an SQS event's records, as a Lambda would receive them
	}
	if err := json.Unmarshal(raw, &probe); err != nil || depth > 2 {
		*others = append(*others, raw)
		return nil
	}
	switch {
	case probe.Kind == Kind:
		var r Record
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("quarantine record: %w", err)
		}
		*recs = append(*recs, r)
	case probe.Messages != nil:
		for _, m := range probe.Messages {
			if err := classify(m, recs, others, depth+1); err != nil {
				return err
			}
		}
	case probe.Body != nil || probe.LowBody != nil:
		body := probe.Body
		if body == nil {
			body = probe.LowBody
		}
		return classify(json.RawMessage(*body), recs, others, depth+1)
	default:
		*others = append(*others, raw)
	}
	return nil
}
