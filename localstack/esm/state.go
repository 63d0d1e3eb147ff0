package esm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Checkpoints keeps the sequence number of the last record processed in each
// shard of one mapping.
type Checkpoints interface {
	// Get returns the shard's checkpoint, "" if it has none.
	Get(shardID string) (string, error)
	Put(shardID, seq string) error
}

// MemoryCheckpoints keeps checkpoints for the life of the process.
type MemoryCheckpoints struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemoryCheckpoints returns an empty set.
func NewMemoryCheckpoints() *MemoryCheckpoints { return &MemoryCheckpoints{m: map[string]string{}} }

// Get implements Checkpoints.
func (c *MemoryCheckpoints) Get(shardID string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[shardID], nil
}

// Put implements Checkpoints.
func (c *MemoryCheckpoints) Put(shardID, seq string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[shardID] = seq
	return nil
}

// FileCheckpoints keeps checkpoints in a JSON file ({"shardId": "seq", ...}), so
// the local stack resumes after a restart without delivering again what it had
// processed. Every Put rewrites the file through a rename, so a crash leaves
// either the old or the new file, never half of one.
type FileCheckpoints struct {
	mu   sync.Mutex
	path string
	m    map[string]string
}

// NewFileCheckpoints loads the file if it exists; it is created on the first Put.
func NewFileCheckpoints(path string) (*FileCheckpoints, error) {
	c := &FileCheckpoints{path: path, m: map[string]string{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &c.m); err != nil {
			return nil, fmt.Errorf("read checkpoints %s: %w", path, err)
		}
	}
	return c, nil
}

// Get implements Checkpoints.
func (c *FileCheckpoints) Get(shardID string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[shardID], nil
}

// Put implements Checkpoints.
func (c *FileCheckpoints) Put(shardID, seq string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, had := c.m[shardID]
	c.m[shardID] = seq
	if err := c.save(); err != nil {
		if had {
			c.m[shardID] = prev
		} else {
			delete(c.m, shardID)
		}
		return err
	}
	return nil
}

func (c *FileCheckpoints) save() error {
	b, err := json.MarshalIndent(c.m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), filepath.Base(c.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoints %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write checkpoints: %w", err)
	}
	return nil
}

// Destination receives the record of a batch the mapping gave up on (Lambda's
// on-failure destination: an SQS queue or SNS topic on AWS).
type Destination interface {
	Send(ctx context.Context, f Failure) error
}

// Failure is Lambda's invocation record for a discarded stream batch. It holds
// where the records are, not the records themselves: read them from the stream
// before they expire.
type Failure struct {
	RequestContext  RequestContext  `json:"requestContext"`
	ResponseContext ResponseContext `json:"responseContext"`
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	// One of the two is set, after the stream's kind.
	DDBStreamBatchInfo *BatchInfo `json:"DDBStreamBatchInfo,omitempty"`
	KinesisBatchInfo   *BatchInfo `json:"KinesisBatchInfo,omitempty"`
}

// RequestContext says which function failed and why the batch was discarded.
type RequestContext struct {
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	// Condition is "RetryAttemptsExhausted" or "RecordAgeExceeded".
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext describes the last invocation (zero if there was none).
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

// BatchInfo locates the discarded records.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// FileDestination appends each failure to a file as one JSON line; it is the
// local stack's stand-in for the on-failure SQS queue. Safe for concurrent use.
type FileDestination struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// NewFileDestination opens (or creates) the file for appending.
func NewFileDestination(path string) (*FileDestination, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open on-failure destination: %w", err)
	}
	return &FileDestination{path: path, f: f}, nil
}

// Send implements Destination.
func (d *FileDestination) Send(_ context.Context, f Failure) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode failure: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append to %s: %w", d.path, err)
	}
	return nil
}

// Failures reads back every Lambda record in the file, oldest first (for tests
// and the console). The functions append their own quarantine records to the same
// file, as they send them to the same queue on AWS: those are skipped here, and
// Messages returns them too.
func (d *FileDestination) Failures() ([]Failure, error) {
	msgs, err := d.Messages()
	var out []Failure
	for i, m := range msgs {
		var probe struct {
			RequestContext *json.RawMessage `json:"requestContext"`
		}
		if json.Unmarshal(m, &probe) != nil || probe.RequestContext == nil {
			continue
		}
		var x Failure
		if err := json.Unmarshal(m, &x); err != nil {
			return out, fmt.Errorf("%s message %d: %w", d.path, i+1, err)
		}
		out = append(out, x)
	}
	return out, err
}

// Messages reads back every line of the file, oldest first: Lambda's records and
// the functions' own.
func (d *FileDestination) Messages() ([]json.RawMessage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("read on-failure destination: %w", err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !json.Valid(b) {
			return out, fmt.Errorf("%s line %d: not JSON", d.path, line)
		}
		out = append(out, json.RawMessage(bytes.Clone(b)))
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s: %w", d.path, err)
	}
	return out, nil
}

// Close closes the file.
func (d *FileDestination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.f.Close()
}
