//go:build unix && !linux

package runtime

import "syscall"

// procAttr puts each instance in its own process group, so a kill reaches
// anything it started. Only Linux can tie a child's life to its parent's.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
