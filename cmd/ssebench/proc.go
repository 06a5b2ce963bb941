package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux this runs on).
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	At      time.Time
	CPU     time.Duration // utime + stime
	RSS     int64         // VmRSS, bytes
	Threads int
}

// readProc samples /proc/<pid>/stat and /proc/<pid>/status (pid 0: self).
func readProc(pid int) (procSample, error) {
	p := "self"
	if pid > 0 {
		p = strconv.Itoa(pid)
	}
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile("/proc/" + p + "/stat")
	if err != nil {
		return s, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return s, err
	}
	s.CPU = cpu
	status, err := os.ReadFile("/proc/" + p + "/status")
	if err != nil {
		return s, err
	}
	s.RSS, s.Threads = parseStatus(status)
	return s, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no ')'")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields", len(f))
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: bad utime/stime")
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// parseStatus returns VmRSS (bytes) and Threads from /proc/<pid>/status.
func parseStatus(status []byte) (rss int64, threads int) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				rss = kb * 1024
			}
		} else if v, ok := bytes.CutPrefix(line, []byte("Threads:")); ok {
			threads, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	return rss, threads
}

// systemBusy returns the busy and total jiffies of all CPUs (/proc/stat).
func systemBusy() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(string(v), 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
