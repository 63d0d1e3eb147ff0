package emulator

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// stateFile is the name of a set's state file inside its folder.
const stateFile = "state.json"

// keepFor is how long the logs of a failed run are kept before a later sweep removes them.
const keepFor = 24 * time.Hour

// State is what a set records about itself, for the sweep of a later run.
type State struct {
	Owner       ProcID    `json:"owner"` // the process that started the set; the set is live while it is
	Created     time.Time `json:"created"`
	Keep        bool      `json:"keep,omitempty"`        // stopped, logs kept for diagnosis
	PostgresDir string    `json:"postgresDir,omitempty"` // PostgreSQL's folder, possibly outside the set's
	Procs       []ProcID  `json:"procs,omitempty"`
}

// writeStateLocked replaces the state file atomically (write, then rename), so that a concurrent sweep never reads
// half a file. s.mu must be held.
func (s *Set) writeStateLocked() error {
	data, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return fmt.Errorf("encode emulator state: %w", err)
	}
	tmp := filepath.Join(s.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write emulator state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, stateFile)); err != nil {
		return fmt.Errorf("write emulator state: %w", err)
	}
	return nil
}

// ReadState reads the state file of the set in dir.
func ReadState(dir string) (State, error) {
	var st State
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("decode %s: %w", filepath.Join(dir, stateFile), err)
	}
	return st, nil
}

// Sweep cleans up after sets whose owning process is gone (a crashed or killed run): it SIGKILLs their recorded
// processes that are still running (only if PID, start time and command line all still match, so an unrelated
// process that reused a PID is never touched), removes the SysV shared memory segment a killed PostgreSQL leaves,
// and removes their folders, except the logs of a failed run for a day. Sets whose owner is alive, including
// those of other runs going on at the same time in the same working tree, are left alone.
func Sweep(root string) error {
	base := filepath.Join(root, ".local", "testenv")
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", base, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		st, err := ReadState(dir)
		if err != nil {
			// A folder without a readable state is either being created right now or debris: remove it once it is
			// clearly old.
			if info, statErr := e.Info(); statErr == nil && time.Since(info.ModTime()) > time.Hour {
				errs = append(errs, os.RemoveAll(dir))
			}
			continue
		}
		if alive(st.Owner) {
			continue
		}
		for _, id := range st.Procs {
			if matches(id) {
				_ = syscall.Kill(id.PID, syscall.SIGKILL) // its children: PostgreSQL's exit when it is gone
			}
		}
		if st.PostgresDir != "" {
			removePostgresShm(filepath.Join(st.PostgresDir, "data"))
			errs = append(errs, os.RemoveAll(st.PostgresDir))
		}
		if st.Keep && time.Since(st.Created) < keepFor {
			continue
		}
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

// removePostgresShm removes the small SysV shared memory segment of a PostgreSQL that was killed (a clean shutdown
// removes it itself). postmaster.pid's seventh line holds its key and id; the segment is removed only if the id
// still carries that key.
func removePostgresShm(data string) {
	raw, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 7 {
		return
	}
	fields := strings.Fields(lines[6])
	if len(fields) != 2 {
		return
	}
	key, err1 := strconv.ParseUint(fields[0], 10, 32)
	id, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return
	}
	// struct shmid64_ds begins with struct ipc64_perm, which begins with the 32-bit key on every Linux
	// architecture; the buffer is larger than the struct on any of them.
	var buf [512]byte
	const ipcStat, ipcRmid = 2, 0
	if _, _, e := syscall.Syscall(syscall.SYS_SHMCTL, uintptr(id), ipcStat, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
		return
	}
	if binary.NativeEndian.Uint32(buf[:4]) != uint32(key) {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_SHMCTL, uintptr(id), ipcRmid, 0)
}
