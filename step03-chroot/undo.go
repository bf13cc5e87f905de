//go:build linux

// Undoing what the host side set up. Every setup step returns the function
// that takes it back (removeRootfs, and later the writable layer, the
// cgroup, the network); run pushes each on one stack as soon as its setup
// succeeds, and a single deferred call runs them all, the last first,
// however run returns: an error halfway through undoes exactly what was
// done so far.

package main

import "errors"

// undos are the undo functions of what run has set up, in setup order.
type undos []func() error

// push records the undo of what was just set up.
func (u *undos) push(undo func() error) {
	*u = append(*u, undo)
}

// run calls every undo, the last pushed first, and joins their errors: one
// that fails does not keep the others from running.
func (u undos) run() error {
	var errs []error
	for i := len(u) - 1; i >= 0; i-- {
		errs = append(errs, u[i]())
	}
	return errors.Join(errs...)
}

// after runs every undo and returns what run should: its own error if it
// failed (the cause comes first), else the undos' error.
func (u undos) after(err error) error {
	if undoErr := u.run(); err == nil {
		return undoErr
	}
	return err
}
