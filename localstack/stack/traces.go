package stack

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// The local stack's trace collector (docs/observability.md, "Tracing"): the
// functions export their spans with OTLP/HTTP to the admin endpoint's
// POST /v1/traces (protobuf, as the Go exporter sends, or OTLP JSON), and
// GET /traces/{traceId} answers one trace as a tree (make trace ID=...);
// GET /traces lists the latest traces. It keeps the last maxTraces traces in
// memory.

// maxTraces bounds the collector's memory; the oldest trace goes first.
const maxTraces = 2000

// maxExportBytes bounds one export request.
const maxExportBytes = 16 << 20

// Span is one span as the collector keeps it.
type Span struct {
	TraceID      string         `json:"traceId"`
	SpanID       string         `json:"spanId"`
	ParentSpanID string         `json:"parentSpanId,omitempty"`
	Name         string         `json:"name"`
	Service      string         `json:"service"`
	Kind         string         `json:"kind"`
	Start        time.Time      `json:"start"`
	DurationMs   float64        `json:"durationMs"`
	Status       string         `json:"status,omitempty"` // "ERROR: <message>", "OK", "" (unset)
	Attributes   map[string]any `json:"attributes,omitempty"`
	Links        []SpanRef      `json:"links,omitempty"`
}

// SpanRef names a span of any trace.
type SpanRef struct {
	TraceID string `json:"traceId"`
	SpanID  string `json:"spanId"`
}

// SpanNode is a span with its children, earliest first.
type SpanNode struct {
	Span
	// ParentMissing: the span names a parent the trace does not hold (not
	// exported yet, dropped, or a broken link).
	ParentMissing bool       `json:"parentMissing,omitempty"`
	Children      []SpanNode `json:"children,omitempty"`
}

// TraceTree is one trace: its spans as trees, roots earliest first.
type TraceTree struct {
	TraceID string     `json:"traceId"`
	Spans   int        `json:"spans"`
	Roots   []SpanNode `json:"roots"`
}

// traceStore is the collector's memory.
type traceStore struct {
	mu     sync.Mutex
	traces map[string][]Span
	order  []string // trace IDs, oldest first
}

func newTraceStore() *traceStore { return &traceStore{traces: map[string][]Span{}} }

func (t *traceStore) add(spans []Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range spans {
		if _, ok := t.traces[s.TraceID]; !ok {
			t.order = append(t.order, s.TraceID)
			if len(t.order) > maxTraces {
				delete(t.traces, t.order[0])
				t.order = t.order[1:]
			}
		}
		t.traces[s.TraceID] = append(t.traces[s.TraceID], s)
	}
}

// tree is the trace id as a tree; false when the collector holds none of it.
func (t *traceStore) tree(id string) (TraceTree, bool) {
	t.mu.Lock()
	spans := slices.Clone(t.traces[strings.ToLower(id)])
	t.mu.Unlock()
	if len(spans) == 0 {
		return TraceTree{}, false
	}
	return BuildTree(id, spans), true
}

// BuildTree arranges a trace's spans by their parents.
func BuildTree(id string, spans []Span) TraceTree {
	byID := make(map[string]bool, len(spans))
	for _, s := range spans {
		byID[s.SpanID] = true
	}
	children := map[string][]Span{}
	var roots []Span
	for _, s := range spans {
		if s.ParentSpanID != "" && byID[s.ParentSpanID] {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		} else {
			roots = append(roots, s)
		}
	}
	var build func(s Span) SpanNode
	build = func(s Span) SpanNode {
		n := SpanNode{Span: s, ParentMissing: s.ParentSpanID != "" && !byID[s.ParentSpanID]}
		kids := children[s.SpanID]
		sortByStart(kids)
		for _, k := range kids {
			n.Children = append(n.Children, build(k))
		}
		return n
	}
	sortByStart(roots)
	out := TraceTree{TraceID: strings.ToLower(id), Spans: len(spans)}
	for _, r := range roots {
		out.Roots = append(out.Roots, build(r))
	}
	return out
}

func sortByStart(s []Span) {
	slices.SortStableFunc(s, func(a, b Span) int { return a.Start.Compare(b.Start) })
}

// latest lists the last n traces, newest first: ID, first span's name and service, span count.
func (t *traceStore) latest(n int) []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []map[string]any
	for i := len(t.order) - 1; i >= 0 && len(out) < n; i-- {
		spans := t.traces[t.order[i]]
		first := spans[0]
		for _, s := range spans {
			if s.Start.Before(first.Start) {
				first = s
			}
		}
		out = append(out, map[string]any{"traceId": t.order[i], "root": first.Name, "service": first.Service, "spans": len(spans), "start": first.Start})
	}
	return out
}

// traceRoutes adds the collector's routes to the admin endpoint.
func (t *traceStore) traceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExportBytes))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var spans []Span
		if ct == "application/json" {
			spans, err = decodeOTLPJSON(body)
		} else {
			spans, err = decodeOTLPProto(body)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_export", err.Error())
			return
		}
		t.add(spans)
		if ct == "application/json" {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
		// An empty ExportTraceServiceResponse: no bytes.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /traces", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"traces": t.latest(50)})
	})
	mux.HandleFunc("GET /traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		tree, ok := t.tree(r.PathValue("id"))
		if !ok {
			writeError(w, http.StatusNotFound, "not_found", "no span of trace "+r.PathValue("id")+" has reached the collector")
			return
		}
		writeJSON(w, http.StatusOK, tree)
	})
}

var spanKinds = map[int32]string{1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

// decodeOTLPProto reads an ExportTraceServiceRequest as the TracesData it is
// field for field (the collector package would bring gRPC along).
func decodeOTLPProto(body []byte) ([]Span, error) {
	var req tracepb.TracesData
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("not an OTLP protobuf export: %w", err)
	}
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()), Name: s.GetName(),
					Service: service, Kind: spanKinds[int32(s.GetKind())], Start: time.Unix(0, int64(s.GetStartTimeUnixNano())).UTC(),
					DurationMs: float64(s.GetEndTimeUnixNano()-s.GetStartTimeUnixNano()) / 1e6, Attributes: protoAttrs(s.GetAttributes())}
				if p := s.GetParentSpanId(); len(p) > 0 {
					sp.ParentSpanID = hex.EncodeToString(p)
				}
				sp.Status = statusText(int32(s.GetStatus().GetCode()), s.GetStatus().GetMessage())
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, SpanRef{TraceID: hex.EncodeToString(l.GetTraceId()), SpanID: hex.EncodeToString(l.GetSpanId())})
				}
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

func protoAttrs(kvs []*commonpb.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[kv.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			out[kv.GetKey()] = x.IntValue
		case *commonpb.AnyValue_BoolValue:
			out[kv.GetKey()] = x.BoolValue
		case *commonpb.AnyValue_DoubleValue:
			out[kv.GetKey()] = x.DoubleValue
		default:
			out[kv.GetKey()] = v.String()
		}
	}
	return out
}

func statusText(code int32, msg string) string {
	switch code {
	case 1:
		return "OK"
	case 2:
		return strings.TrimSuffix("ERROR: "+msg, ": ")
	}
	return ""
}

// The OTLP JSON encoding (IDs in hex, 64-bit integers as strings, enums as
// numbers).
type (
	otlpJSON struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []jsonKV `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []struct {
					TraceID           string   `json:"traceId"`
					SpanID            string   `json:"spanId"`
					ParentSpanID      string   `json:"parentSpanId"`
					Name              string   `json:"name"`
					Kind              int32    `json:"kind"`
					StartTimeUnixNano jsonUint `json:"startTimeUnixNano"`
					EndTimeUnixNano   jsonUint `json:"endTimeUnixNano"`
					Attributes        []jsonKV `json:"attributes"`
					Status            struct {
						Code    int32  `json:"code"`
						Message string `json:"message"`
					} `json:"status"`
					Links []SpanRef `json:"links"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	jsonKV struct {
		Key   string `json:"key"`
		Value struct {
			StringValue *string  `json:"stringValue"`
			IntValue    jsonUint `json:"intValue"`
			BoolValue   *bool    `json:"boolValue"`
			DoubleValue *float64 `json:"doubleValue"`
		} `json:"value"`
	}
	// jsonUint reads a 64-bit integer written as a string or a number.
	jsonUint struct {
		set bool
		v   int64
	}
)

func (u *jsonUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	u.set, u.v = true, int64(v)
	return nil
}

func decodeOTLPJSON(body []byte) ([]Span, error) {
	var req otlpJSON
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("not an OTLP JSON export: %w", err)
	}
	attrs := func(kvs []jsonKV) map[string]any {
		if len(kvs) == 0 {
			return nil
		}
		out := map[string]any{}
		for _, kv := range kvs {
			switch v := kv.Value; {
			case v.StringValue != nil:
				out[kv.Key] = *v.StringValue
			case v.IntValue.set:
				out[kv.Key] = v.IntValue.v
			case v.BoolValue != nil:
				out[kv.Key] = *v.BoolValue
			case v.DoubleValue != nil:
				out[kv.Key] = *v.DoubleValue
			}
		}
		return out
	}
	var out []Span
	for _, rs := range req.ResourceSpans {
		service, _ := attrs(rs.Resource.Attributes)["service.name"].(string)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if len(s.TraceID) != 32 || len(s.SpanID) != 16 {
					return nil, fmt.Errorf("span %q: traceId must be 32 hex digits and spanId 16", s.Name)
				}
				out = append(out, Span{TraceID: strings.ToLower(s.TraceID), SpanID: strings.ToLower(s.SpanID), ParentSpanID: strings.ToLower(s.ParentSpanID),
					Name: s.Name, Service: service, Kind: spanKinds[s.Kind], Start: time.Unix(0, s.StartTimeUnixNano.v).UTC(),
					DurationMs: float64(s.EndTimeUnixNano.v-s.StartTimeUnixNano.v) / 1e6, Attributes: attrs(s.Attributes),
					Status: statusText(s.Status.Code, s.Status.Message), Links: s.Links})
			}
		}
	}
	return out, nil
}

// PrintTree writes a trace as an indented tree: one span a line, its
// service, duration and status, its links, and a mark where a parent is
// missing.
func PrintTree(w io.Writer, t TraceTree) {
	fmt.Fprintf(w, "trace %s (%d spans)\n", t.TraceID, t.Spans)
	var walk func(n SpanNode, depth int)
	walk = func(n SpanNode, depth int) {
		line := fmt.Sprintf("%s%s [%s] %.2fms", strings.Repeat("  ", depth+1), n.Name, n.Service, n.DurationMs)
		if n.Status != "" && n.Status != "OK" {
			line += " " + n.Status
		}
		if n.ParentMissing {
			line += " (parent " + n.ParentSpanID + " not collected)"
		}
		if len(n.Links) > 0 {
			line += fmt.Sprintf(" (%d links)", len(n.Links))
		}
		fmt.Fprintln(w, line)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	for _, r := range t.Roots {
		walk(r, 0)
	}
}
