package emulator

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
)

// startSES runs aws-ses-v2-local, which answers the SESv2 SendEmail API (and SES v1's) and keeps what it was sent in
// memory: its inbox viewer is at /, the messages as JSON at GET /store. It has no persistence, so a restart empties
// the inbox; the mail it held was delivered as far as the senders know, which is what an outage test needs.
func (s *Set) startSES(ctx context.Context) (string, error) {
	cli, err := sesLocalCLI(s.root)
	if err != nil {
		return "", err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("aws-ses-v2-local needs Node 20 or later on PATH: %w", err)
	}
	// SIGKILL, as for kinesis-mock: Express waits for idle keep-alive connections on SIGTERM, and there is nothing
	// to save.
	return s.startWithPort(ctx, SES, "aws-ses-v2-local", syscall.SIGKILL, func(port int) (*exec.Cmd, error) {
		// The absolute path to cli.js names this package on the command line, for Sweep. Loopback only: the
		// default host (::) would offer the inbox to the network.
		cmd := exec.Command(node, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		// SMTP_TRANSPORT would forward every message to an SMTP server; AWS_SES_ACCOUNT feeds GetAccount.
		cmd.Env = withoutPrefixes(cmd.Environ(), "AWS_", "SMTP_TRANSPORT")
		return cmd, nil
	}, func(ctx context.Context, endpoint string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health-check", nil)
		if err != nil {
			return err
		}
		resp, err := probeHTTPClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health check: %s", resp.Status)
		}
		return nil
	})
}
