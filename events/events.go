// Package eventschema (in events/) holds the event contracts of the Portfolio aggregate: one JSON
// Schema (draft 2020-12) per event type and schema version in schemas/, and
// realistic sample events in samples/. Both are embedded, so tests and tools
// validate against exactly the files in this directory; see README.md for the
// versioning rule.
//
// File names carry the contract: schemas/<EventType>.v<N>.json describes a whole
// event (envelope and data) of that type written with schemaVersion N;
// samples/<EventType>[.<variant>].v<N>.json is an example of it. Schema files
// whose name starts with a lower-case letter (common.v1.json) hold shared
// definitions and describe no event on their own.
package eventschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/*.json
var schemaFiles embed.FS

//go:embed samples/*.json
var sampleFiles embed.FS

// BaseURI prefixes every schema's $id (BaseURI + file name). It identifies the
// schemas; nothing is ever fetched from it.
const BaseURI = "https://github.com/portfoliotracker/tracker/events/schemas/"

// Derived lists the event types that share the portfolio events' envelope but
// are computed from facts outside the event store and kept in read models only,
// never appended to the event table (docs/architecture.md §1): they are not in
// portfolio.EventTypes, and shared/app/pricing writes and reads them.
var Derived = []string{"PortfolioValueCalculated"}

// ErrNoSchema is returned by Validate for an event whose eventType and
// schemaVersion name no schema.
var ErrNoSchema = errors.New("no schema for event")

// Schemas returns the schema files (common.v<N>.json, <EventType>.v<N>.json).
func Schemas() fs.FS { return sub(schemaFiles, "schemas") }

// Samples returns the sample events (<EventType>[.<variant>].v<N>.json).
func Samples() fs.FS { return sub(sampleFiles, "samples") }

func sub(f embed.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above
	}
	return s
}

// SchemaFile names the schema of one event type at one schema version.
func SchemaFile(eventType string, version int) string {
	return fmt.Sprintf("%s.v%d.json", eventType, version)
}

// File is what a schema or sample file name says.
type File struct {
	EventType string // "" for a shared-definitions file such as common.v1.json
	Variant   string // samples only: "split" in TransactionRecorded.split.v1.json
	Version   int
}

var (
	eventFileName  = regexp.MustCompile(`^([A-Z][A-Za-z0-9]*)(?:\.([a-z][a-z0-9-]*))?\.v([1-9][0-9]{0,5})\.json$`)
	commonFileName = regexp.MustCompile(`^([a-z][a-z0-9-]*)\.v([1-9][0-9]{0,5})\.json$`)
)

// ParseFileName reads a schema or sample file name. ok is false for a name that
// follows neither pattern.
func ParseFileName(name string) (f File, ok bool) {
	if m := eventFileName.FindStringSubmatch(name); m != nil {
		v, _ := strconv.Atoi(m[3])
		return File{EventType: m[1], Variant: m[2], Version: v}, true
	}
	if m := commonFileName.FindStringSubmatch(name); m != nil {
		v, _ := strconv.Atoi(m[2])
		return File{Version: v}, true
	}
	return File{}, false
}

type schemaKey struct {
	eventType string
	version   int
}

// Validator checks events against the embedded schemas.
type Validator struct {
	schemas map[schemaKey]*jsonschema.Schema
}

// NewValidator compiles every embedded schema. Formats (date, date-time) are
// asserted, and no $ref is resolved outside the embedded files.
func NewValidator() (*Validator, error) {
	c, err := NewCompiler()
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(Schemas(), ".")
	if err != nil {
		return nil, err
	}
	v := &Validator{schemas: make(map[schemaKey]*jsonschema.Schema)}
	for _, e := range entries {
		f, ok := ParseFileName(e.Name())
		if !ok {
			return nil, fmt.Errorf("events: schema file %s is not named <EventType>.v<N>.json", e.Name())
		}
		if f.EventType == "" {
			continue
		}
		if f.Variant != "" {
			return nil, fmt.Errorf("events: schema file %s: variants are for samples only", e.Name())
		}
		sch, err := c.Compile(BaseURI + e.Name())
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		v.schemas[schemaKey{f.EventType, f.Version}] = sch
	}
	return v, nil
}

// NewCompiler returns a draft 2020-12 compiler that asserts formats and knows
// every embedded schema under its $id (BaseURI + file name), for callers that
// compose the schemas into their own.
func NewCompiler() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(embeddedOnly{})
	entries, err := fs.ReadDir(Schemas(), ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(Schemas(), e.Name())
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("events: schema %s: %w", e.Name(), err)
		}
		if err := c.AddResource(BaseURI+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("events: schema %s: %w", e.Name(), err)
		}
	}
	return c, nil
}

// embeddedOnly refuses every URL not added to the compiler: a $ref to a missing
// file fails compilation instead of reaching for the file system or network.
type embeddedOnly struct{}

func (embeddedOnly) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not an embedded schema", url)
}

// Schema returns the compiled schema of one event type and schema version.
func (v *Validator) Schema(eventType string, version int) (*jsonschema.Schema, bool) {
	s, ok := v.schemas[schemaKey{eventType, version}]
	return s, ok
}

// Validate checks one JSON event against the schema its eventType and
// schemaVersion name. A schema violation is a *jsonschema.ValidationError
// (wrapped); an event naming no schema wraps ErrNoSchema.
func (v *Validator) Validate(event []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	obj, _ := doc.(map[string]any)
	eventType, _ := obj["eventType"].(string)
	version := 0
	if n, ok := obj["schemaVersion"].(json.Number); ok {
		if i, err := strconv.Atoi(n.String()); err == nil {
			version = i
		}
	}
	sch, ok := v.Schema(eventType, version)
	if !ok {
		return fmt.Errorf("%w: eventType %q, schemaVersion %v", ErrNoSchema, eventType, obj["schemaVersion"])
	}
	if err := sch.Validate(doc); err != nil {
		return fmt.Errorf("%s v%d: %w", eventType, version, err)
	}
	return nil
}
