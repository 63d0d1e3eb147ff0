package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portfoliotracker/tracker/shared/devtools/testenv"
	"github.com/portfoliotracker/tracker/shared/domain/portfolio/benchdata"
)

// benchFiles writes the benchmark data set (benchdata.Default: 50,000 activities,
// 300 symbols, 20 years of weekday closes) once per test binary.
var benchFiles = sync.OnceValues(func() ([2]string, error) {
	dir, err := os.MkdirTemp("", "tracker-bench-")
	if err != nil {
		return [2]string{}, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	a, p, err := benchdata.Generate(benchdata.Default()).WriteFiles(dir)
	return [2]string{a, p}, err
})

// benchFilesFX writes the multi-currency benchmark data set
// (benchdata.MultiCurrency: the same, with a third of the activities in EUR and
// GBp) and its rates file, once per test binary.
var benchFilesFX = sync.OnceValues(func() ([3]string, error) {
	dir, err := os.MkdirTemp("", "tracker-bench-fx-")
	if err != nil {
		return [3]string{}, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	a, p, err := benchdata.Generate(benchdata.MultiCurrency()).WriteFiles(dir)
	return [3]string{a, p, filepath.Join(dir, benchdata.RatesFile)}, err
})

var cleanups []func()

func TestMain(m *testing.M) {
	if spec := os.Getenv(measureEnv); spec != "" {
		os.Exit(measureChild(spec))
	}
	code := testenv.Run(m)
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// cpuTime is the process's user+system CPU time: on a shared machine it says more
// than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCalc is the full calc on the benchmark data set, in process: parse both
// files, replay the lots, value the holdings, build the daily series, TWR and MWR,
// and encode the JSON.
//
//	go test -run '^$' -bench Calc -benchmem -cpu 1 ./cmd/tracker/
func BenchmarkCalc(b *testing.B) {
	files, err := benchFiles()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"calc", "--activities", files[0], "--prices", files[1]}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		if code := run(args, io.Discard, os.Stderr); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkCalcFX is BenchmarkCalc on the multi-currency data set, in USD with
// the rates file: every foreign activity booked at its date's rate, holdings and
// cash valued at the as-of rates, the daily series through BuildFX.
//
//	go test -run '^$' -bench CalcFX -benchmem -cpu 1 ./cmd/tracker/
func BenchmarkCalcFX(b *testing.B) {
	files, err := benchFilesFX()
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"calc", "--activities", files[0], "--prices", files[1], "--fx", files[2]}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		if code := run(args, io.Discard, os.Stderr); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkCalcBinary builds the tracker binary and runs calc on the benchmark data
// set under GOMAXPROCS=1, as an operator would, reporting the process's peak RSS
// and CPU time next to the wall time.
func BenchmarkCalcBinary(b *testing.B) {
	files, err := benchFiles()
	if err != nil {
		b.Fatal(err)
	}
	bin := buildTracker(b)
	b.ResetTimer()
	var peak, cpu float64
	for b.Loop() {
		st, err := runBinary(bin, "calc", "--activities", files[0], "--prices", files[1])
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, st.peakRSSMB)
		cpu += st.cpuMS
	}
	b.ReportMetric(peak, "peak-RSS-MB")
	b.ReportMetric(cpu/float64(b.N), "cpu-ms/op")
}

// buildTracker builds the CLI into a temporary directory.
func buildTracker(tb testing.TB) string {
	tb.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		tb.Skip("no go command to build the binary with")
	}
	bin := filepath.Join(tb.TempDir(), "tracker")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type runStats struct {
	peakRSSMB float64
	cpuMS     float64
}

// measureEnv carries, JSON-encoded, the command line that the test binary — re-run
// as a small launcher — runs and measures (see runBinary).
const measureEnv = "TRACKER_MEASURE"

// runBinary runs bin with args under GOMAXPROCS=1, output discarded, and returns its
// peak RSS (ru_maxrss from ProcessState.SysUsage) and CPU time.
//
// It does not start bin itself. On Linux a child's ru_maxrss includes the high-water
// RSS of the process it was forked from (os/exec forks with CLONE_VM, and exec
// records the old address space's peak into the child's maxrss), so a child of this
// test process — which has just generated 40 MB of benchmark files — would report
// this process's peak, not its own. Instead the test binary re-runs itself as a
// launcher (TestMain, measureChild): a fresh process of a few MB, whose child's
// ru_maxrss is the child's own.
func runBinary(bin string, args ...string) (runStats, error) {
	spec, err := json.Marshal(append([]string{bin}, args...))
	if err != nil {
		return runStats{}, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), measureEnv+"="+string(spec))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return runStats{}, fmt.Errorf("%s: %w: %s", bin, err, stderr.String())
	}
	var st runStats
	if _, err := fmt.Sscan(stdout.String(), &st.peakRSSMB, &st.cpuMS); err != nil {
		return runStats{}, fmt.Errorf("launcher said %q: %w", stdout.String(), err)
	}
	return st, nil
}

// measureChild is the launcher: it runs the command line in spec with GOMAXPROCS=1
// and prints the child's peak RSS in MB and CPU time in ms.
func measureChild(spec string) int {
	var argv []string
	if err := json.Unmarshal([]byte(spec), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintf(os.Stderr, "bad %s: %q\n", measureEnv, spec)
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", measureEnv+"=")
	cmd.Stdout = io.Discard
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		fmt.Fprintln(os.Stderr, "no rusage on this platform")
		return 1
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	fmt.Printf("%g %g\n", float64(ru.Maxrss)/1024, float64(cpu.Microseconds())/1000)
	return 0
}
