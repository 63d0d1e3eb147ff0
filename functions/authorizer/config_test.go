package main

import (
	"slices"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
	"github.com/portfoliotracker/tracker/shared/platform/topology"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{EnvSupabaseURL: "https://abcd.supabase.co"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://abcd.supabase.co/auth/v1" || cfg.JWKSURL != "https://abcd.supabase.co/auth/v1/.well-known/jwks.json" {
		t.Fatalf("%+v", cfg)
	}
	if cfg.HMACSecret != nil || cfg.LoadHMACSecret != nil || !slices.Equal(cfg.AllowedRoles, []string{"authenticated"}) {
		t.Fatalf("%+v", cfg)
	}

	cfg, err = loadConfig(env(map[string]string{
		EnvIssuer:         "http://127.0.0.1:54321/auth/v1",
		EnvJWKSURL:        "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json",
		EnvJWTSecret:      "super-secret-jwt-token-with-at-least-32-characters-long",
		EnvAllowedRoles:   "authenticated, service_role",
		EnvClockSkew:      "0s",
		EnvJWKSCacheTTL:   "5m",
		EnvJWKSMinRefresh: "10s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "http://127.0.0.1:54321/auth/v1" || string(cfg.HMACSecret) == "" ||
		!slices.Equal(cfg.AllowedRoles, []string{"authenticated", "service_role"}) ||
		cfg.ClockSkew >= 0 || cfg.CacheTTL != 5*time.Minute || cfg.MinRefreshInterval != 10*time.Second {
		t.Fatalf("%+v", cfg)
	}

	cfg, err = loadConfig(env(map[string]string{EnvSupabaseURL: "https://abcd.supabase.co", EnvJWTSecretARN: "arn:aws:secretsmanager:us-east-1:1:secret:x", EnvAllowedRoles: "*"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LoadHMACSecret == nil || cfg.AllowedRoles != nil {
		t.Fatalf("%+v", cfg)
	}

	for name, m := range map[string]map[string]string{
		"nothing":            {},
		"bad URL":            {EnvSupabaseURL: "abcd.supabase.co"},
		"issuer, no keys":    {EnvIssuer: "https://abcd.supabase.co/auth/v1"},
		"secret and ARN":     {EnvSupabaseURL: "https://abcd.supabase.co", EnvJWTSecret: "s", EnvJWTSecretARN: "arn"},
		"bad duration":       {EnvSupabaseURL: "https://abcd.supabase.co", EnvClockSkew: "30"},
		"negative duration":  {EnvSupabaseURL: "https://abcd.supabase.co", EnvJWKSCacheTTL: "-1m"},
		"JWKS URL, no issue": {EnvJWKSURL: "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"},
	} {
		if _, err := loadConfig(env(m)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLogLevel(t *testing.T) {
	if l := logLevel(env(map[string]string{EnvLogLevel: "debug"})); l.String() != "DEBUG" {
		t.Fatal(l)
	}
	if l := logLevel(env(map[string]string{EnvLogLevel: "nonsense"})); l.String() != "INFO" {
		t.Fatal(l)
	}
}

// The defaults the topology declares are the verifier's own: a setting left
// unset configures what an empty auth.Config field would.
func TestDeclaredDefaultsAreTheVerifiers(t *testing.T) {
	f, _ := topology.FunctionByName("authorizer")
	want := map[string]string{
		EnvAudience: auth.DefaultAudience, EnvAllowedRoles: "authenticated", EnvClockSkew: auth.DefaultClockSkew.String(),
		EnvJWKSCacheTTL: auth.DefaultCacheTTL.String(), EnvJWKSMinRefresh: auth.DefaultMinRefreshInterval.String(),
		EnvLogLevel: "info",
	}
	for name, w := range want {
		s, ok := f.SettingByName(name)
		if !ok {
			t.Errorf("%s is not declared", name)
			continue
		}
		if d, err := time.ParseDuration(s.Default); err == nil {
			if wd, _ := time.ParseDuration(w); d != wd {
				t.Errorf("%s: declared default %s, the verifier's %s", name, s.Default, w)
			}
		} else if s.Default != w {
			t.Errorf("%s: declared default %q, the verifier's %q", name, s.Default, w)
		}
	}
}
