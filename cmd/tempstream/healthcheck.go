package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks a running server's /healthz and fails unless it
// answers 200: the Docker HEALTHCHECK, which needs no shell tools. The URL
// is args[0], or built from TEMPSTREAM_ADDR (default port 5000 on loopback).
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	url := ""
	if len(args) > 0 {
		url = args[0]
	} else {
		var err error
		if url, err = localURL(getenv, "/healthz"); err != nil {
			return usageError{fmt.Errorf("healthcheck: %v", err)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError{fmt.Errorf("healthcheck: %v", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// localURL is path on this machine's server: loopback, at the port of
// TEMPSTREAM_ADDR (5000 by default).
func localURL(getenv func(string) string, path string) (string, error) {
	addr := getenv("TEMPSTREAM_ADDR")
	if addr == "" {
		addr = ":5000"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("TEMPSTREAM_ADDR %q: %v", addr, err)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + path, nil
}
