//go:build linux

// OCI hooks: programs the runtime runs at points of a container's life,
// each given the container's state as JSON on its stdin (runtime-spec,
// config.md "POSIX-platform Hooks"). A hook that fails, or outlives its
// timeout, fails the operation it belongs to, except poststart and
// poststop, whose failures are only reported.

package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs hooks in order, each with state on its stdin; which names
// the kind of hook, for errors.
func RunHooks(hooks []specs.Hook, state specs.State, which string) error {
	return runHooks(hooks, state, which)
}

// runHooks is RunHooks; the child side calls it too.
func runHooks(hooks []specs.Hook, state specs.State, which string) error {
	input, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if err := runHook(h, input); err != nil {
			return fmt.Errorf("%s hook %s: %w", which, h.Path, err)
		}
	}
	return nil
}

// runHook runs one hook with its args, env and timeout.
func runHook(h specs.Hook, input []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout %d: must be positive", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("timed out after %ds", *h.Timeout)
		}
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
