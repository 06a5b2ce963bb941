//go:build !unix

package testharness

import (
	"errors"
	"syscall"
)

// procAttr: no process groups here.
func procAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// signalGroup: there are no process groups to signal here.
func signalGroup(int, syscall.Signal) error {
	return errors.New("testharness: process groups need Unix")
}

// Pause needs Unix's SIGSTOP.
func (p *Process) Pause() error { return errors.New("testharness: Pause needs Unix") }

// Resume needs Unix's SIGCONT.
func (p *Process) Resume() error { return errors.New("testharness: Resume needs Unix") }
