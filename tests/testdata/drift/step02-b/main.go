//go:build linux

// Step 02 — a fixture. Goal: a step whose run changed without saying so.
// Changed from step01-a: helper.
package main

// run does the work.
func run() int { return 3 }

// helper stays the same.
func helper() int { return 2 }

// added is new in this step, which needs no declaration.
func added() {}

func main() { _ = run() + helper() }
