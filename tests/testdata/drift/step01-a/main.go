//go:build linux

// Step 01 — a fixture. Goal: the step before a planted drift.
package main

// run does the work.
func run() int { return 1 }

// helper stays the same.
func helper() int { return 2 }

// gone is removed in the next step, which is allowed.
func gone() {}

func main() { _ = run() + helper() }
