package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// secretsManagerLoader reads the legacy JWT secret from Secrets Manager when the
// first HS256 token arrives, so a cold start that sees only ES256 tokens never
// builds an AWS client. The secret is a plain string (SecretString), used as raw
// bytes the way Supabase uses it. The endpoint follows AWS_ENDPOINT_URL(_SECRETS_MANAGER).
func secretsManagerLoader(arn string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading AWS config: %w", err)
		}
		out, err := secretsmanager.NewFromConfig(awsCfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(arn),
		})
		if err != nil {
			return nil, fmt.Errorf("GetSecretValue: %w", err)
		}
		if out.SecretString == nil {
			return nil, errors.New("GetSecretValue: the secret has no SecretString")
		}
		return []byte(strings.TrimSpace(*out.SecretString)), nil
	}
}
