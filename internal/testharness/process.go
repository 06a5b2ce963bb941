package testharness

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testlog"
)

// ProcOptions are how Start runs a child process.
type ProcOptions struct {
	// Dir is its working directory; "" means a new t.TempDir(), so that
	// whatever it writes stays out of the source tree.
	Dir string
	// Output, when not empty, is a file (in Dir) for its stdout and stderr,
	// shown when the test fails. Otherwise Stdout and Stderr are used.
	Output         string
	Stdout, Stderr io.Writer
	// Group runs it in a process group of its own (nginx forks workers):
	// signals go to the whole group.
	Group bool
	// Term is how Start's cleanup stops it: SIGTERM, then SIGKILL (and a
	// test error) if it still runs after Term. 0 means SIGKILL at once.
	Term time.Duration
	// Show lists more files to show when the test fails (logs,
	// configuration).
	Show []string
}

// Process is a child process of the test. It gets ChildEnv and, should
// the test process die without cleaning up (killed, or a timeout's
// panic), SIGTERM from the kernel (on Linux).
type Process struct {
	Name string
	Cmd  *exec.Cmd
	opts ProcOptions
	out  string        // Output's path
	done chan struct{} // closed when it has exited
	err  error         // Wait's result, set before done is closed
}

// Start starts path with args; it is stopped when the test ends (see
// ProcOptions.Term), and what it wrote is shown if the test failed.
func Start(tb testing.TB, name, path string, args []string, o ProcOptions) *Process {
	tb.Helper()
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Env = o.Dir, ChildEnv()
	cmd.SysProcAttr = procAttr(o.Group)
	p := &Process{Name: name, Cmd: cmd, opts: o, done: make(chan struct{})}
	if o.Output != "" {
		p.out = filepath.Join(o.Dir, o.Output)
		f, err := os.Create(p.out)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close() // the child has its own copy
		cmd.Stdout, cmd.Stderr = f, f
	} else {
		if o.Stdout != nil {
			cmd.Stdout = o.Stdout
		}
		if o.Stderr != nil {
			cmd.Stderr = o.Stderr
		}
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.stop(tb)
		if tb.Failed() {
			p.Dump(tb)
		}
	})
	return p
}

// Done is closed when the process has exited; Err is then Wait's result.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit (Wait's result), once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process (to its group, with ProcOptions.Group).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.opts.Group {
		return signalGroup(p.Cmd.Process.Pid, sig)
	}
	return p.Cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill(tb testing.TB) {
	tb.Helper()
	if err := p.Signal(syscall.SIGKILL); err != nil && !p.Exited() {
		tb.Fatalf("kill %s: %v", p.Name, err)
	}
	<-p.done
}

// Terminate sends SIGTERM and expects a clean exit (status 0) within
// timeout.
func (p *Process) Terminate(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("SIGTERM %s: %v", p.Name, err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			tb.Errorf("%s exited with %v after SIGTERM, want 0", p.Name, p.err)
		}
	case <-time.After(timeout):
		tb.Errorf("%s still running %v after SIGTERM", p.Name, timeout)
	}
}

// WaitListening waits until addr accepts TCP connections, failing the test
// (with what the process wrote) if it exits first or timeout passes.
func (p *Process) WaitListening(tb testing.TB, addr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if p.Exited() {
			p.Dump(tb)
			tb.Fatalf("%s exited before listening on %s: %v", p.Name, addr, p.err)
		}
		if time.Now().After(deadline) {
			p.Dump(tb)
			tb.Fatalf("%s not listening on %s within %v: %v", p.Name, addr, timeout, err)
		}
		select { // nothing announces it: poll, or notice the exit
		case <-p.done:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop ends the process as ProcOptions.Term says, and with Group whatever
// is left of its group.
func (p *Process) stop(tb testing.TB) {
	if p.opts.Term > 0 {
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.opts.Term):
			tb.Errorf("%s still running %v after SIGTERM; killing it", p.Name, p.opts.Term)
		}
	}
	_ = p.Signal(syscall.SIGKILL) // a no-op once exited, but for a group's workers
	<-p.done
}

// Dump shows the end of the process's output file and of ProcOptions.Show.
func (p *Process) Dump(tb testing.TB) {
	files := p.opts.Show
	if p.out != "" {
		files = append([]string{p.out}, files...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		tb.Logf("%s: %s:\n%s", p.Name, filepath.Base(f), b)
	}
}

// ---------------------------------------------------------------------------
// tempstream as a child process

// Child is the tempstream binary running as a child process, its stderr
// (JSON logs, with --log-format json) kept in Logs.
type Child struct {
	*Process
	Addr string // host:port from its "listening" line
	Logs *testlog.Sink
}

// StartChild starts the binary at bin with args and waits up to listen for
// its "listening" line. Its log is printed if the test fails; o.Stderr is
// the log, and o.Term as for Start.
func StartChild(tb testing.TB, name, bin string, args []string, listen time.Duration, o ProcOptions) *Child {
	tb.Helper()
	c := &Child{Logs: testlog.New()}
	o.Stderr, o.Output = c.Logs, ""
	tb.Cleanup(func() { // after the process has stopped
		if tb.Failed() {
			for _, l := range c.Logs.Raw() {
				tb.Logf("%s log: %s", name, l)
			}
		}
	})
	c.Process = Start(tb, name, bin, args, o)
	select {
	case c.Addr = <-c.Logs.Addr():
	case <-c.done:
		tb.Fatalf("%s exited before listening: %v\n%s", name, c.err, strings.Join(c.Logs.Raw(), "\n"))
	case <-time.After(listen):
		tb.Fatalf("%s: no \"listening\" log line within %v", name, listen)
	}
	return c
}
