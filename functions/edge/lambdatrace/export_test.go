package lambdatrace

import "log/slog"

// SetLog makes p tell its failed exports to log.
func SetLog(p *Provider, log *slog.Logger) { p.log = log }
