package emulator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL's binaries: Debian's postgresql-15 package puts them here; PT_TESTENV_PG_BIN overrides.
const (
	defaultPGBin = "/usr/lib/postgresql/15/bin"
	envPGBin     = "PT_TESTENV_PG_BIN"
)

// maxSocketPath is the longest path a unix socket can have on Linux (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

// startPostgres creates a private cluster (initdb) in a folder of the set and starts it on a free port of
// 127.0.0.1, tuned for throwaway data: fsync, full-page writes and synchronous commit are off.
func (s *Set) startPostgres(ctx context.Context) (string, error) {
	bin := env.String(envPGBin)
	for _, tool := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
			return "", fmt.Errorf("PostgreSQL: %w (install the PostgreSQL 15 server, e.g. Debian's postgresql-15, or set %s)",
				err, envPGBin)
		}
	}
	cred, err := postgresCredential()
	if err != nil {
		return "", err
	}
	dir, err := s.postgresDir(cred)
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	// A clean, minimal environment: no PGDATA or PGPORT from the caller, a fixed locale and time zone.
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"}

	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil && s.opts.Persist {
		return s.runPostgres(ctx, bin, dir, data, env, cred)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.Dir, initdb.Env = dir, env
	p, err := spawn("initdb", initdb, filepath.Join(s.dir, "initdb.log"), cred, syscall.SIGTERM)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL: %w", err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.stop(0)
		return "", fmt.Errorf("PostgreSQL: initdb in %s: %w", data, ctx.Err())
	}
	if p.waitErr != nil {
		return "", fmt.Errorf("PostgreSQL: initdb in %s: %w; log: %s%s", data, p.waitErr, p.logPath, tailSuffix(p.logPath))
	}
	return s.runPostgres(ctx, bin, dir, data, env, cred)
}

// runPostgres starts the cluster in data and waits until it answers.
func (s *Set) runPostgres(ctx context.Context, bin, dir, data string, env []string, cred *syscall.Credential) (string, error) {

	// The unix socket lives in the cluster's own folder (never /var/run/postgresql, which may not exist or
	// belong to another cluster). Tests connect over TCP, so when the path would be too long for a socket the
	// socket is simply switched off.
	sockDir := dir
	if len(dir)+len("/.s.PGSQL.65535") > maxSocketPath {
		sockDir = ""
	}
	var lastErr error
	durability := []string{"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"}
	if s.opts.Persist {
		// Kept data must survive a crash of the machine, not only of the stack.
		durability = []string{"-c", "synchronous_commit=off"}
	}
	for range portAttempts {
		port, err := s.port(Postgres)
		if err != nil {
			return "", fmt.Errorf("PostgreSQL: %w", err)
		}
		args := []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=" + sockDir}
		args = append(args, durability...)
		cmd := exec.Command(filepath.Join(bin, "postgres"), append(args,
			// Packages' tests run in parallel, each with a pool per test.
			"-c", "max_connections=300",
			// Dynamic shared memory as files in the data folder rather than /dev/shm: a killed cluster then leaves
			// nothing outside the folder we remove.
			"-c", "dynamic_shared_memory_type=mmap")...)
		cmd.Dir, cmd.Env = dir, env
		// SIGINT is PostgreSQL's "fast shutdown": end sessions, checkpoint, exit; no waiting for clients.
		p, err := spawn("PostgreSQL", cmd, filepath.Join(s.dir, "postgres.log"), cred, syscall.SIGINT)
		if err != nil {
			return "", err
		}
		if err := s.addProc(Postgres, p); err != nil {
			_ = p.stop(0)
			return "", err
		}
		dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		err = waitReady(ctx, p, func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			var one int
			return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
		})
		if err == nil {
			s.answered(Postgres, port)
			return dsn, nil
		}
		lastErr = startFailure(p, port, err)
		_ = p.stop(0)
		s.dropProc(p)
		if !errors.Is(lastErr, errPortTaken) || s.pinnedPort(Postgres) > 0 {
			break
		}
	}
	return "", lastErr
}

// postgresCredential returns whom to run PostgreSQL as. initdb and postgres refuse to run as root, and CI and
// these machines run as root: then they run as the postgres system user (created by Debian's PostgreSQL package).
// Anyone else runs them as themselves.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as "+
			"(install Debian's postgresql-15, which creates it, or run the tests as a normal user): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	// Groups empty: drop root's supplementary groups rather than inherit them.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// postgresDir creates the folder for the cluster (data folder and socket), owned by the user PostgreSQL runs as.
// It is normally the set's postgres/ subfolder; if that user cannot reach it (a clone under /root, say), it is a
// fresh folder in the system temp directory instead, recorded in the state file so a sweep removes it too.
func (s *Set) postgresDir(cred *syscall.Credential) (string, error) {
	dir := filepath.Join(s.dir, "postgres")
	if s.opts.Persist {
		if cred != nil && !searchable(s.dir, cred.Uid, cred.Gid) {
			// A stable folder, so the data is found again after a restart.
			dir = filepath.Join(os.TempDir(), fmt.Sprintf("pt-local-postgres-%x", fnv32(s.dir)))
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("PostgreSQL: %w", err)
		}
	} else if cred != nil && !searchable(s.dir, cred.Uid, cred.Gid) {
		tmp, err := os.MkdirTemp("", "pt-testenv-postgres-")
		if err != nil {
			return "", fmt.Errorf("PostgreSQL: %s is not reachable by uid %d and the fallback failed: %w", s.dir, cred.Uid, err)
		}
		dir = tmp
	} else if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("PostgreSQL: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("PostgreSQL: give %s to the postgres user: %w", dir, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pgDir = dir
	s.state.PostgresDir = dir
	return dir, s.writeStateLocked()
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// searchable reports whether uid (with primary group gid and no other groups) may traverse every folder from / down
// to dir, going by permission bits (no ACLs on these folders).
func searchable(dir string, uid, gid uint32) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		switch {
		case st.Uid == uid:
			if perm&0o100 == 0 {
				return false
			}
		case st.Gid == gid:
			if perm&0o010 == 0 {
				return false
			}
		case perm&0o001 == 0:
			return false
		}
		if filepath.Dir(d) == d {
			return true
		}
	}
}
