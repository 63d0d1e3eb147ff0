package runtime

import "syscall"

// procAttr puts each instance in its own process group, so a kill reaches
// anything it started, and has the kernel SIGKILL it if the local stack dies
// without a chance to clean up. (Pdeathsig follows the OS thread that forked;
// Go retires a thread only when a goroutine locked to it exits, which nothing
// here does.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
