// Command notifier delivers notifications (docs/architecture.md §11): every
// minute it plans what the producers put in the notification outbox (alert
// firings through a trigger on alert_history, weekly summaries, phone codes)
// into deliveries per channel as each user's preferences say, and sends the
// due ones by e-mail (SESv2) and SMS (SNS), with retries and a record of every
// attempt (shared/app/notifier). SES's bounces and complaints reach it through
// SNS and stop further mail to their addresses. handler.go decodes both.
//
// Settings: declared once with the topology (shared/platform/topology, function
// "notifier") and read through shared/platform/config.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/portfoliotracker/tracker/functions/edge/lambdatrace"
	"github.com/portfoliotracker/tracker/shared/adapters/readmodel"
	"github.com/portfoliotracker/tracker/shared/adapters/secrets"
	"github.com/portfoliotracker/tracker/shared/adapters/sesmail"
	"github.com/portfoliotracker/tracker/shared/adapters/smssns"
	"github.com/portfoliotracker/tracker/shared/app/notifier"
	settings "github.com/portfoliotracker/tracker/shared/platform/config"
	"github.com/portfoliotracker/tracker/shared/platform/emf"
	"github.com/portfoliotracker/tracker/shared/platform/lazy"
	"github.com/portfoliotracker/tracker/shared/platform/logging"
)

func main() {
	env, err := settings.LoadFunction("notifier")
	var level slog.Level
	if err == nil && level.UnmarshalText([]byte(env.String("LOG_LEVEL"))) != nil {
		level = slog.LevelInfo
	}
	log := logging.New("notifier", level)
	fail := func(msg string) {
		log.Error("notifier: " + msg)
		os.Exit(1)
	}
	if err != nil {
		fail(err.Error())
	}
	database := readmodel.DatabaseConfig{URL: env.String("DATABASE_URL"), SecretARN: env.String("DATABASE_SECRET_ARN")}
	keyValue, keyARN := env.String("NOTIFICATION_KEY"), env.String("NOTIFICATION_KEY_SECRET_ARN")
	if keyValue == "" && keyARN == "" {
		fail("set NOTIFICATION_KEY or NOTIFICATION_KEY_SECRET_ARN")
	}
	mail := mailSettings{From: env.String("MAIL_FROM"), ConfigurationSet: env.String("SES_CONFIGURATION_SET")}
	publicURL := env.String("PUBLIC_API_URL")
	maxAttempts, err1 := env.Int("NOTIFY_MAX_ATTEMPTS")
	maxAge, err2 := env.Duration("NOTIFY_MAX_AGE")
	if err1 != nil || err2 != nil || maxAttempts < 0 || maxAge <= 0 {
		fail("NOTIFY_MAX_ATTEMPTS must be a non-negative integer (0: no limit) and NOTIFY_MAX_AGE a positive duration")
	}
	deps := lazy.New(func(ctx context.Context) (*notifier.Service, error) {
		key := keyValue
		if key == "" {
			if key, err = secrets.String(ctx, keyARN); err != nil {
				return nil, err
			}
		}
		renderer, err := notifier.NewRenderer(publicURL, []byte(key))
		if err != nil {
			return nil, err
		}
		pool, err := readmodel.OpenConfigured(ctx, "notifier", database)
		if err != nil {
			return nil, err
		}
		// A provider that stalls must not hold a run until the Lambda's
		// deadline: each request gives up after providerTimeout (the
		// service bounds each send too, and retries it later).
		awsCfg, err := config.LoadDefaultConfig(ctx, lambdatrace.AWS, config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(providerTimeout)))
		if err != nil {
			return nil, err
		}
		mailer, err := sesmail.NewFromConfig(awsCfg, sesmail.Config{From: mail.From, ConfigurationSet: mail.ConfigurationSet})
		if err != nil {
			return nil, err
		}
		sms := smssns.NewFromConfig(awsCfg)
		return notifier.New(readmodel.NewNotifications(pool), mailer, sms, renderer,
			notifier.Options{MaxAttempts: maxAttempts, MaxAge: maxAge, Logger: log,
				Metrics: emf.New(os.Stdout, map[string]string{"Function": "notifier"})}), nil
	})
	lambdatrace.Start("notifier", env, func(ctx context.Context, raw json.RawMessage) (any, error) {
		svc, err := deps.Get(ctx)
		if err != nil {
			log.ErrorContext(ctx, "notifier: dependencies unavailable", "error", err.Error())
			return nil, err
		}
		out, err := handle(ctx, svc, raw)
		if err != nil {
			log.ErrorContext(ctx, "notifier: run failed", "error", err.Error())
		} else {
			log.InfoContext(ctx, "notifier: run", "result", out)
		}
		return out, err
	})
}

// providerTimeout bounds one request to SES or SNS.
const providerTimeout = 8 * time.Second

// mailSettings are the e-mail sender's.
type mailSettings struct {
	From             string // MAIL_FROM
	ConfigurationSet string // SES_CONFIGURATION_SET, "" locally
}
