package marketkeys

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A local Secrets Manager: each secret ARN's answer to GetSecretValue.
func secretsManager(t *testing.T, answers map[string]func(w http.ResponseWriter)) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			http.Error(w, "unexpected call", http.StatusBadRequest)
			return
		}
		var in struct{ SecretId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		answers[in.SecretId](w)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// A key comes from its plain value first, then its secret; a secret the
// operator has not filled yet is no key (the simulated fallback), while a
// secret that cannot be read is an error.
func TestKeys(t *testing.T) {
	value := func(v string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			_ = json.NewEncoder(w).Encode(map[string]string{"ARN": "arn", "Name": "n", "SecretString": v})
		}
	}
	secretsManager(t, map[string]func(w http.ResponseWriter){
		"arn:filled": value("fh-key"),
		"arn:empty":  value(""),
		"arn:unset": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"}`))
		},
		"arn:denied": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"not allowed"}`))
		},
	})
	keys := Func(map[string]Key{
		"plain": {Value: "p-key", SecretARN: "arn:denied"}, "filled": {SecretARN: "arn:filled"},
		"empty": {SecretARN: "arn:empty"}, "unset": {SecretARN: "arn:unset"}, "denied": {SecretARN: "arn:denied"},
	})
	ctx := context.Background()
	for provider, want := range map[string]string{"plain": "p-key", "filled": "fh-key", "empty": "", "unset": "", "none": ""} {
		if got, err := keys(ctx, provider); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", provider, got, err, want)
		}
	}
	if got, err := keys(ctx, "denied"); err == nil || got != "" || !strings.Contains(err.Error(), "denied key") {
		t.Errorf("denied: %q, %v; want an error naming the provider", got, err)
	}
}
