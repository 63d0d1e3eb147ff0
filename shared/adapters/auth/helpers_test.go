package auth_test

import "encoding/base64"

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
