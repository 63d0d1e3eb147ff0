package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/portfoliotracker/tracker/localstack/invoke"
)

// NewDynamoDBStreamPoller returns the mapping of a DynamoDB stream (its ARN, as
// DescribeTable's LatestStreamArn gives it) to a function.
func NewDynamoDBStreamPoller(inv invoke.Invoker, streams *dynamodbstreams.Client, streamARN string, m Mapping, log *slog.Logger) *Poller {
	return newPoller(inv, &dynamoSource{client: streams, arn: streamARN}, m, log)
}

type dynamoSource struct {
	client *dynamodbstreams.Client
	arn    string
	region string
}

func (s *dynamoSource) init(ctx context.Context) error {
	s.region = s.client.Options().Region
	_, err := s.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.arn), Limit: aws.Int32(1)})
	if err != nil {
		return fmt.Errorf("describe stream %s: %w", s.arn, err)
	}
	return nil
}

func (s *dynamoSource) kinesis() bool     { return false }
func (s *dynamoSource) streamARN() string { return s.arn }
func (s *dynamoSource) awsRegion() string { return s.region }

func (s *dynamoSource) shards(ctx context.Context) ([]shard, error) {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.arn)}
	var out []shard
	for {
		d, err := s.client.DescribeStream(ctx, in)
		if err != nil {
			return out, fmt.Errorf("describe stream %s: %w", s.arn, err)
		}
		for _, sh := range d.StreamDescription.Shards {
			x := shard{id: aws.ToString(sh.ShardId)}
			if p := aws.ToString(sh.ParentShardId); p != "" {
				x.parents = []string{p}
			}
			out = append(out, x)
		}
		if d.StreamDescription.LastEvaluatedShardId == nil {
			return out, nil
		}
		in.ExclusiveStartShardId = d.StreamDescription.LastEvaluatedShardId
	}
}

func (s *dynamoSource) iterator(ctx context.Context, shardID, seq, pos string) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(s.arn), ShardId: aws.String(shardID)}
	if seq != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(seq)
	} else {
		in.ShardIteratorType = types.ShardIteratorType(pos)
	}
	out, err := s.client.GetShardIterator(ctx, in)
	var trimmed *types.TrimmedDataAccessException
	if errors.As(err, &trimmed) && seq != "" {
		// The checkpoint is older than the stream's 24 hours: what followed it is
		// partly gone; read what is left.
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
		out, err = s.client.GetShardIterator(ctx, in)
	}
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return "", fmt.Errorf("%w: %s: %v", errShardGone, shardID, err)
	}
	if err != nil {
		return "", fmt.Errorf("get shard iterator %s: %w", shardID, err)
	}
	return aws.ToString(out.ShardIterator), nil
}

func (s *dynamoSource) read(ctx context.Context, shardID, iterator string, limit int) ([]record, string, error) {
	// The records are taken from the response body rather than from the SDK's
	// types: the stream's attribute JSON is already the Lambda event's, so it
	// passes through exactly, and DynamoDB Local writes an empty map as {}, which
	// the SDK decodes as a copy of the list element before it.
	var body []byte
	out, err := s.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{
		ShardIterator: aws.String(iterator), Limit: aws.Int32(int32(min(limit, 1000))),
	}, func(o *dynamodbstreams.Options) { o.HTTPClient = bodyCapture{o.HTTPClient, &body} })
	var (
		expired  *types.ExpiredIteratorException
		trimmed  *types.TrimmedDataAccessException
		notFound *types.ResourceNotFoundException
	)
	switch {
	case errors.As(err, &expired), errors.As(err, &trimmed):
		return nil, "", fmt.Errorf("%w: %v", errExpired, err)
	case errors.As(err, &notFound):
		return nil, "", fmt.Errorf("%w: %s: %v", errShardGone, shardID, err)
	case err != nil:
		return nil, "", fmt.Errorf("get records %s: %w", shardID, err)
	}
	var raw struct {
		Records []rawStreamRecord `json:"Records"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "", fmt.Errorf("get records %s: decode response: %w", shardID, err)
	}
	recs := make([]record, 0, len(raw.Records))
	for _, r := range raw.Records {
		rec, err := s.record(r)
		if err != nil {
			return nil, "", err
		}
		recs = append(recs, rec)
	}
	return recs, aws.ToString(out.NextShardIterator), nil
}

// bodyCapture keeps a copy of a successful response's body.
type bodyCapture struct {
	next dynamodbstreams.HTTPClient
	body *[]byte
}

func (c bodyCapture) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	*c.body = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// rawStreamRecord is a record of GetRecords' response, attribute values left as
// JSON.
type rawStreamRecord struct {
	EventID      string `json:"eventID"`
	EventName    string `json:"eventName"`
	EventVersion string `json:"eventVersion"`
	AWSRegion    string `json:"awsRegion"`
	DynamoDB     struct {
		ApproximateCreationDateTime json.Number                `json:"ApproximateCreationDateTime"`
		Keys                        map[string]json.RawMessage `json:"Keys"`
		NewImage                    map[string]json.RawMessage `json:"NewImage"`
		OldImage                    map[string]json.RawMessage `json:"OldImage"`
		SequenceNumber              string                     `json:"SequenceNumber"`
		SizeBytes                   int64                      `json:"SizeBytes"`
		StreamViewType              string                     `json:"StreamViewType"`
	} `json:"dynamodb"`
	UserIdentity *ddbIdentity `json:"userIdentity"`
}

// ddbRecord is a stream record as Lambda puts it in a DynamoDB event.
type ddbRecord struct {
	EventID        string       `json:"eventID"`
	EventName      string       `json:"eventName"`
	EventVersion   string       `json:"eventVersion"`
	EventSource    string       `json:"eventSource"`
	AWSRegion      string       `json:"awsRegion"`
	DynamoDB       ddbChange    `json:"dynamodb"`
	EventSourceARN string       `json:"eventSourceARN"`
	UserIdentity   *ddbIdentity `json:"userIdentity,omitempty"`
}

type ddbChange struct {
	ApproximateCreationDateTime json.Number                `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        map[string]json.RawMessage `json:"Keys,omitempty"`
	NewImage                    map[string]json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    map[string]json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string                     `json:"SequenceNumber"`
	SizeBytes                   int64                      `json:"SizeBytes"`
	StreamViewType              string                     `json:"StreamViewType"`
}

type ddbIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

func (s *dynamoSource) record(r rawStreamRecord) (record, error) {
	c := r.DynamoDB
	secs, err := strconv.ParseFloat(c.ApproximateCreationDateTime.String(), 64)
	if err != nil {
		return record{}, fmt.Errorf("stream record %s: ApproximateCreationDateTime %q: %w", r.EventID, c.ApproximateCreationDateTime, err)
	}
	// DynamoDB Local truncates this to the minute: records look up to a minute
	// older than they are, which matters only for a MaxRecordAge of minutes.
	arrival := time.UnixMilli(int64(secs * 1000))
	version := r.EventVersion
	if version == "" {
		version = "1.1"
	}
	region := r.AWSRegion
	if region == "" || region == "ddblocal" {
		// DynamoDB Local's stand-in region; Lambda names the stream's real one.
		region = s.region
	}
	ev := ddbRecord{
		EventID:      r.EventID,
		EventName:    r.EventName,
		EventVersion: version,
		EventSource:  "aws:dynamodb",
		AWSRegion:    region,
		DynamoDB: ddbChange{
			// Lambda gives whole seconds.
			ApproximateCreationDateTime: json.Number(strconv.FormatInt(arrival.Unix(), 10)),
			SequenceNumber:              c.SequenceNumber,
			SizeBytes:                   c.SizeBytes,
			StreamViewType:              c.StreamViewType,
		},
		EventSourceARN: s.arn,
		UserIdentity:   r.UserIdentity,
	}
	for _, x := range []struct {
		dst *map[string]json.RawMessage
		src map[string]json.RawMessage
	}{{&ev.DynamoDB.Keys, c.Keys}, {&ev.DynamoDB.NewImage, c.NewImage}, {&ev.DynamoDB.OldImage, c.OldImage}} {
		if *x.dst, err = fixAttributes(x.src); err != nil {
			return record{}, fmt.Errorf("stream record %s: %w", r.EventID, err)
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return record{}, fmt.Errorf("encode stream record %s: %w", ev.EventID, err)
	}
	return record{seq: c.SequenceNumber, arrival: arrival, event: b}, nil
}

// fixAttributes returns the attribute values as Lambda writes them: the stream
// API's own JSON ({"S":"x"}, {"N":"1.5"}, {"B":"<base64>"}, {"BOOL":true},
// {"NULL":true}, {"M":{...}}, {"L":[...]}, {"SS":[...]}, {"NS":[...]},
// {"BS":[...]}), except that DynamoDB Local's untagged empty map {} becomes
// {"M":{}}, at any depth.
func fixAttributes(m map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, raw := range m {
		if !bytes.Contains(raw, []byte("{}")) {
			out[k] = raw
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		b, err := json.Marshal(fixAttribute(v))
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// fixAttribute works on decoded JSON, which keeps every value of an attribute
// exactly: numbers are strings in this format, binaries base64 strings.
func fixAttribute(v any) any {
	av, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if len(av) == 0 {
		return map[string]any{"M": map[string]any{}}
	}
	if m, ok := av["M"].(map[string]any); ok {
		for k, x := range m {
			m[k] = fixAttribute(x)
		}
	}
	if l, ok := av["L"].([]any); ok {
		for i, x := range l {
			l[i] = fixAttribute(x)
		}
	}
	return av
}
