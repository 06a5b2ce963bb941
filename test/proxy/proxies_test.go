package proxy_test

// Starting the real proxies: each on a free loopback port, with a
// configuration written by the test into its own directory, never the
// system's configuration, logs or ports (80, 3128).

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tempstream/tempstream/internal/testharness"
)

// proxy is a running proxy process and the address it listens on.
type proxy struct {
	name string
	addr string
	dir  string
	proc *testharness.Process
}

// writeFile writes a configuration file, failing the test on error.
func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// worldReadableDir is a new temporary directory that a proxy's unprivileged
// worker (nginx's nobody, squid's proxy) can enter when the test runs as
// root; t.TempDir's parents are private to the test's user.
func worldReadableDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tempstream-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ---------------------------------------------------------------------------
// nginx

// startNginx runs nginx in the foreground with a main configuration whose
// http {} block holds httpBody, with every path (pid, logs, temp files) in
// its own directory. httpBody's "LISTEN" is replaced with the address.
func startNginx(t testing.TB, httpBody string) *proxy {
	t.Helper()
	bin := lookBinary(t, "nginx", "nginx")
	dir := worldReadableDir(t, "nginx")
	addr := testharness.FreeAddr(t)
	conf := fmt.Sprintf(`# Written by tempstream's test/proxy.
worker_processes 1;
error_log %[1]s/error.log info;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, strings.ReplaceAll(httpBody, "LISTEN", addr))
	path := filepath.Join(dir, "nginx.conf")
	writeFile(t, path, conf)
	// -e: the startup error log, before the configuration is read (else
	// nginx opens /var/log/nginx/error.log).
	p := startProcess(t, "nginx", dir, []string{path, filepath.Join(dir, "error.log")}, bin, "-e", "stderr", "-p", dir+"/", "-c", path, "-g", "daemon off;")
	p.WaitListening(t, addr, 10*time.Second)
	return &proxy{name: "nginx", addr: addr, dir: dir, proc: p}
}

// nginxStock proxies everything to upstream with nginx's default proxy
// settings (buffering on, HTTP/1.0 to the upstream, 60 s read timeout),
// plus the directives in extra.
func nginxStock(t testing.TB, upstream, extra string) *proxy {
	t.Helper()
	return startNginx(t, fmt.Sprintf(`    server {
        listen LISTEN;
        location / {
            proxy_pass http://%s;
            %s
        }
    }`, upstream, extra))
}

// nginxDeploy loads deploy/nginx.conf as shipped, with only its upstream
// address and listen port rewritten, and proxy_read_timeout when readTimeout
// is not empty.
func nginxDeploy(t testing.TB, upstream, readTimeout string) *proxy {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	replace := func(old, new string) {
		t.Helper()
		if n := strings.Count(conf, old); n != 1 {
			t.Fatalf("deploy/nginx.conf has %q %d times, want once (the test rewrites it)", old, n)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	replace("server 127.0.0.1:5000;", "server "+upstream+";")
	replace("listen 80;", "listen LISTEN;")
	if readTimeout != "" {
		replace("proxy_read_timeout 60s;", "proxy_read_timeout "+readTimeout+";")
	}
	return startNginx(t, conf)
}

// ---------------------------------------------------------------------------
// HAProxy

// startHAProxy runs haproxy in the foreground (-db) in HTTP mode in front of
// upstream, with timeout client/server set to timeout and, as in many
// deployments, no timeout tunnel; extra lines go into its defaults section.
func startHAProxy(t testing.TB, upstream, timeout, extra string) *proxy {
	t.Helper()
	bin := lookBinary(t, "haproxy", "haproxy")
	dir := t.TempDir()
	addr := testharness.FreeAddr(t)
	conf := fmt.Sprintf(`# Written by tempstream's test/proxy.
global
    maxconn 256

defaults
    mode http
    timeout connect 2s
    timeout client %[1]s
    timeout server %[1]s
    # no "timeout tunnel"
%[4]s

frontend fe
    bind %[2]s
    default_backend tempstream

backend tempstream
    server s1 %[3]s
`, timeout, addr, upstream, extra)
	path := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, path, conf)
	p := startProcess(t, "haproxy", dir, []string{path}, bin, "-f", path, "-db")
	p.WaitListening(t, addr, 10*time.Second)
	return &proxy{name: "haproxy", addr: addr, dir: dir, proc: p}
}

// ---------------------------------------------------------------------------
// Squid

// startSquid runs squid in the foreground (-N) as a forward proxy that lets
// loopback clients through and caches nothing (no cache_dir, so no -z).
func startSquid(t testing.TB) *proxy {
	t.Helper()
	bin := lookBinary(t, "squid", "squid")
	dir := worldReadableDir(t, "squid")
	addr := testharness.FreeAddr(t)
	effective := ""
	if os.Geteuid() == 0 {
		// Squid will not run as root: it switches to cache_effective_user,
		// which must be able to write its logs and pid file here.
		u, err := user.Lookup("proxy")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("squid runs as root only after dropping to a user; none of proxy, nobody: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		effective = "cache_effective_user " + u.Username
	}
	conf := fmt.Sprintf(`# Written by tempstream's test/proxy.
http_port %[2]s
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
access_log none
cache_log %[1]s/cache.log
cache_store_log none
pid_filename %[1]s/squid.pid
coredump_dir %[1]s
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
max_filedescriptors 1024
%[3]s
`, dir, addr, effective)
	path := filepath.Join(dir, "squid.conf")
	writeFile(t, path, conf)
	p := startProcess(t, "squid", dir, []string{path, filepath.Join(dir, "cache.log")}, bin, "-N", "-f", path)
	p.WaitListening(t, addr, 10*time.Second)
	return &proxy{name: "squid", addr: addr, dir: dir, proc: p}
}
