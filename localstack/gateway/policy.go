package gateway

import (
	"encoding/json"
	"errors"
	"strings"
)

// stringList is an IAM policy field that may be a string or a list of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("policy field is neither a string nor a list of strings")
	}
	*s = many
	return nil
}

// iamResponse is a REQUEST authorizer's IAM policy answer.
type iamResponse struct {
	PrincipalID    *string `json:"principalId"`
	PolicyDocument *struct {
		Version   string `json:"Version"`
		Statement []struct {
			Effect   string     `json:"Effect"`
			Action   stringList `json:"Action"`
			Resource stringList `json:"Resource"`
		} `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

// allows evaluates the policy for execute-api:Invoke on arn as IAM does: an
// explicit Deny wins, then an Allow, and anything else is an implicit deny.
func (p *iamResponse) allows(arn string) bool {
	allowed := false
	for _, st := range p.PolicyDocument.Statement {
		if !matchAction(st.Action, "execute-api:invoke") || !matchAny(st.Resource, arn) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			return false
		case strings.EqualFold(st.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed
}

// matchAction matches action patterns, which IAM compares case-insensitively.
func matchAction(patterns []string, action string) bool {
	for _, p := range patterns {
		if wildcard(strings.ToLower(p), action) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * (any run) and ? (any one character).
func wildcard(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
