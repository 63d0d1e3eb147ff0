package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/portfoliotracker/tracker/shared/adapters/auth"
)

// Settings (declared, with their defaults, in shared/platform/topology). Either
// SUPABASE_URL, or JWT_ISSUER (plus JWKS_URL and/or an HMAC secret), is required.
const (
	// EnvSupabaseURL is the project URL, "https://<ref>.supabase.co": it gives the
	// issuer (<url>/auth/v1) and the JWKS URL (<url>/auth/v1/.well-known/jwks.json).
	EnvSupabaseURL = "SUPABASE_URL"
	// EnvIssuer and EnvJWKSURL override (or, without SUPABASE_URL, give) those two.
	EnvIssuer  = "JWT_ISSUER"
	EnvJWKSURL = "JWKS_URL"
	// EnvJWTSecret is Supabase's legacy JWT secret in clear (local runs only).
	EnvJWTSecret = "SUPABASE_JWT_SECRET"
	// EnvJWTSecretARN names a Secrets Manager secret holding the legacy JWT secret
	// as a plain string (AWS). It is read at the first HS256 token, not at start.
	EnvJWTSecretARN = "SUPABASE_JWT_SECRET_ARN"
	// EnvAudience is the required aud (default "authenticated").
	EnvAudience = "JWT_AUDIENCE"
	// EnvAllowedRoles is a comma-separated list of accepted role claims (default
	// "authenticated"; "*" accepts any role).
	EnvAllowedRoles = "JWT_ALLOWED_ROLES"
	// EnvClockSkew, EnvJWKSCacheTTL, EnvJWKSMinRefresh are Go durations ("30s").
	EnvClockSkew      = "JWT_CLOCK_SKEW"
	EnvJWKSCacheTTL   = "JWKS_CACHE_TTL"
	EnvJWKSMinRefresh = "JWKS_MIN_REFRESH_INTERVAL"
	// EnvLogLevel is debug, info (default), warn or error.
	EnvLogLevel = "LOG_LEVEL"
)

// loadConfig builds the verifier configuration from the settings getenv reads.
func loadConfig(getenv func(string) string) (auth.Config, error) {
	var cfg auth.Config
	if u := getenv(EnvSupabaseURL); u != "" {
		var err error
		if cfg, err = auth.SupabaseConfig(u); err != nil {
			return auth.Config{}, err
		}
	}
	if s := getenv(EnvIssuer); s != "" {
		cfg.Issuer = s
	}
	if s := getenv(EnvJWKSURL); s != "" {
		cfg.JWKSURL = s
	}
	if cfg.Issuer == "" {
		return auth.Config{}, fmt.Errorf("set %s, or %s", EnvSupabaseURL, EnvIssuer)
	}
	secret, arn := getenv(EnvJWTSecret), getenv(EnvJWTSecretARN)
	switch {
	case secret != "" && arn != "":
		return auth.Config{}, fmt.Errorf("set %s or %s, not both", EnvJWTSecret, EnvJWTSecretARN)
	case secret != "":
		cfg.HMACSecret = []byte(secret)
	case arn != "":
		cfg.LoadHMACSecret = secretsManagerLoader(arn)
	}
	cfg.Audience = getenv(EnvAudience)
	switch roles := strings.TrimSpace(getenv(EnvAllowedRoles)); roles {
	case "":
		cfg.AllowedRoles = []string{"authenticated"}
	case "*":
	default:
		for r := range strings.SplitSeq(roles, ",") {
			if r = strings.TrimSpace(r); r != "" {
				cfg.AllowedRoles = append(cfg.AllowedRoles, r)
			}
		}
	}
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{EnvClockSkew, &cfg.ClockSkew},
		{EnvJWKSCacheTTL, &cfg.CacheTTL},
		{EnvJWKSMinRefresh, &cfg.MinRefreshInterval},
	} {
		s := getenv(d.env)
		if s == "" {
			continue
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return auth.Config{}, fmt.Errorf("%s=%q is not a duration such as 30s", d.env, s)
		}
		if v == 0 {
			v = -1 // explicit zero: none (auth.Config reads 0 as "default")
		}
		*d.dst = v
	}
	if cfg.JWKSURL == "" && len(cfg.HMACSecret) == 0 && cfg.LoadHMACSecret == nil {
		return auth.Config{}, errors.New("no key source: set " + EnvSupabaseURL + " or " + EnvJWKSURL + ", and/or a JWT secret")
	}
	return cfg, nil
}

func logLevel(getenv func(string) string) slog.Level {
	var l slog.Level
	if l.UnmarshalText([]byte(getenv(EnvLogLevel))) != nil {
		return slog.LevelInfo
	}
	return l
}
