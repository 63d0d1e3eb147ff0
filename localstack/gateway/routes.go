package gateway

import (
	"fmt"
	"net/url"
	"strings"
)

// Route is one HTTP API route in API Gateway's syntax: Method is an HTTP method
// or "ANY"; Path is "/portfolios/{id}" or ends in a greedy "{proxy+}". A Route
// with Method and Path both empty, or Path "$default", is the $default route.
// A Public route has no authorizer (API Gateway's authorization type NONE):
// the request reaches its function without an identity.
type Route struct {
	Method, Path, Function string
	Public                 bool
}

type segKind uint8

const (
	segStatic segKind = iota
	segParam
	segGreedy
)

type segment struct {
	kind segKind
	text string // the literal, or the parameter's name
}

type compiledRoute struct {
	key      string // "GET /portfolios/{id}", or "$default"
	method   string // upper case; "ANY" matches every method
	segs     []segment
	function string
	isDef    bool
	public   bool
}

// router selects routes as HTTP APIs do: the most specific match wins, a
// literal segment beats a {param}, a {param} beats a greedy {proxy+}, a
// method beats ANY, and $default catches what nothing else matches. Matching
// is case-sensitive, as on AWS.
type router struct {
	routes []compiledRoute
	def    *compiledRoute
}

func newRouter(routes []Route) (*router, error) {
	r := &router{}
	seen := map[string]bool{}
	for _, rt := range routes {
		if rt.Function == "" {
			return nil, fmt.Errorf("gateway: route %s %s has no function", rt.Method, rt.Path)
		}
		if rt.Path == "$default" || (rt.Method == "" && rt.Path == "") {
			if r.def != nil {
				return nil, fmt.Errorf("gateway: two $default routes")
			}
			r.def = &compiledRoute{key: "$default", function: rt.Function, isDef: true, public: rt.Public}
			continue
		}
		method := strings.ToUpper(rt.Method)
		if method == "" {
			return nil, fmt.Errorf("gateway: route %q has no method", rt.Path)
		}
		if !strings.HasPrefix(rt.Path, "/") {
			return nil, fmt.Errorf("gateway: route path %q must start with /", rt.Path)
		}
		cr := compiledRoute{key: method + " " + rt.Path, method: method, function: rt.Function, public: rt.Public}
		if seen[cr.key] {
			return nil, fmt.Errorf("gateway: duplicate route %s", cr.key)
		}
		seen[cr.key] = true
		if rt.Path != "/" {
			parts := strings.Split(rt.Path[1:], "/")
			for i, p := range parts {
				switch {
				case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
					if i != len(parts)-1 {
						return nil, fmt.Errorf("gateway: greedy parameter must be last in %q", rt.Path)
					}
					cr.segs = append(cr.segs, segment{segGreedy, p[1 : len(p)-2]})
				case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
					cr.segs = append(cr.segs, segment{segParam, p[1 : len(p)-1]})
				case p == "":
					return nil, fmt.Errorf("gateway: empty segment in route path %q", rt.Path)
				default:
					cr.segs = append(cr.segs, segment{segStatic, p})
				}
			}
		}
		r.routes = append(r.routes, cr)
	}
	return r, nil
}

// match returns the route for a method and a raw (escaped) path below the
// stage, with its decoded path parameters, or nil.
func (r *router) match(method, rawPath string) (*compiledRoute, map[string]string) {
	var parts []string
	if rawPath != "/" && rawPath != "" {
		parts = strings.Split(strings.TrimPrefix(rawPath, "/"), "/")
	}
	var best *compiledRoute
	var bestScore []int
	for i := range r.routes {
		cr := &r.routes[i]
		if cr.method != "ANY" && cr.method != method {
			continue
		}
		score, ok := cr.score(parts)
		if !ok {
			continue
		}
		if best == nil || better(score, bestScore) {
			best, bestScore = cr, score
		}
	}
	if best == nil {
		if r.def != nil {
			return r.def, nil
		}
		return nil, nil
	}
	return best, best.params(parts)
}

// score ranks a match segment by segment (2 literal, 1 parameter, 0 greedy),
// with the method's specificity last.
func (cr *compiledRoute) score(parts []string) ([]int, bool) {
	score := make([]int, 0, len(cr.segs)+1)
	for i, s := range cr.segs {
		if s.kind == segGreedy {
			// {proxy+} needs at least one non-empty segment.
			if i >= len(parts) || strings.Join(parts[i:], "") == "" {
				return nil, false
			}
			score = append(score, 0)
			return append(score, cr.methodScore()), true
		}
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case segStatic:
			if parts[i] != s.text {
				return nil, false
			}
			score = append(score, 2)
		case segParam:
			if parts[i] == "" {
				return nil, false
			}
			score = append(score, 1)
		}
	}
	if len(parts) != len(cr.segs) {
		return nil, false
	}
	return append(score, cr.methodScore()), true
}

func (cr *compiledRoute) methodScore() int {
	if cr.method == "ANY" {
		return 0
	}
	return 1
}

func better(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

func (cr *compiledRoute) params(parts []string) map[string]string {
	var out map[string]string
	for i, s := range cr.segs {
		var v string
		switch s.kind {
		case segParam:
			v = unescape(parts[i])
		case segGreedy:
			v = unescape(strings.Join(parts[i:], "/"))
		default:
			continue
		}
		if out == nil {
			out = make(map[string]string, 2)
		}
		out[s.text] = v
	}
	return out
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
