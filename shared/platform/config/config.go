// Package config reads a program's settings from the environment; besides the
// functions' mains it is the only package that does (a test holds the module to
// it). A program declares its settings once (topology.Setting: name, meaning,
// default, whether required): a function's beside the topology
// (topology.Function.Environment), a dev tool's in its own package. Env's
// getters refuse a name the program did not declare, apply the default when the
// variable is unset or empty, and LoadFunction reports every missing required
// setting in one error, so a misconfigured function says all that is wrong at
// its first start. Library packages take the values as parameters.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

// Setting is one declared environment variable.
type Setting = topology.Setting

// Env reads one program's declared settings. Each getter reads the variable
// when called (a dev tool may set one in between), and panics on a name the
// program did not declare: that is a programming error, which the program's
// first start (and the tests) show at once.
type Env struct {
	owner    string
	settings map[string]Setting
	getenv   func(string) string
}

// New declares owner's settings (owner names the program in messages); the
// getters read the process environment.
func New(owner string, settings []Setting) *Env {
	return NewFrom(owner, settings, os.Getenv)
}

// NewFrom is New reading through getenv (tests).
func NewFrom(owner string, settings []Setting, getenv func(string) string) *Env {
	e := &Env{owner: owner, settings: make(map[string]Setting, len(settings)), getenv: getenv}
	for _, s := range settings {
		e.settings[s.Name] = s
	}
	return e
}

// LoadFunction is the environment of the topology's function name, checked
// (Check).
func LoadFunction(name string) (*Env, error) {
	f, ok := topology.FunctionByName(name)
	if !ok {
		return nil, fmt.Errorf("config: %s is not a function of the topology", name)
	}
	e := New(f.Name, f.Environment())
	return e, e.Check()
}

// Check reports, in one error, every required setting that is unset or empty.
func (e *Env) Check() error {
	var missing []string
	for name, s := range e.settings {
		if s.Required && e.getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%s: required settings not set: %s", e.owner, strings.Join(missing, ", "))
}

// String is the variable's value, or its default when unset or empty.
func (e *Env) String(name string) string {
	s, ok := e.settings[name]
	if !ok {
		panic(fmt.Sprintf("config: %s reads %s, which it does not declare", e.owner, name))
	}
	if v := e.getenv(name); v != "" {
		return v
	}
	return s.Default
}

// First is the value of the first of names that is set (String), or "".
func (e *Env) First(names ...string) string {
	for _, n := range names {
		if v := e.String(n); v != "" {
			return v
		}
	}
	return ""
}

// Int is String as a decimal integer.
func (e *Env) Int(name string) (int, error) {
	return parse(e, name, "an integer", strconv.Atoi)
}

// Uint is String as an unsigned decimal integer.
func (e *Env) Uint(name string) (uint64, error) {
	return parse(e, name, "an unsigned integer", func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) })
}

// Float is String as a number.
func (e *Env) Float(name string) (float64, error) {
	return parse(e, name, "a number", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

// Duration is String as a Go duration ("30s").
func (e *Env) Duration(name string) (time.Duration, error) {
	return parse(e, name, "a duration such as 30s", time.ParseDuration)
}

// Bool is String as a boolean (strconv.ParseBool: true, false, 1, 0...).
func (e *Env) Bool(name string) (bool, error) {
	return parse(e, name, "true or false", strconv.ParseBool)
}

// errUnset is parse's error for an unset variable without a default.
var errUnset = errors.New("not set")

func parse[T any](e *Env, name, want string, p func(string) (T, error)) (T, error) {
	s := e.String(name)
	if s == "" {
		var zero T
		return zero, fmt.Errorf("%s: %w", name, errUnset)
	}
	v, err := p(s)
	if err != nil {
		return v, fmt.Errorf("%s=%q: want %s", name, s, want)
	}
	return v, nil
}
