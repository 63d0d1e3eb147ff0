package main

import (
	"slices"
	"testing"
	"time"
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
