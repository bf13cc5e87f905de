// benchtool: the Go half of the benchmark (bench/run.sh is the other). It
// has three verbs, so that the shell script stays a list of what is
// measured and this file holds how:
//
//	benchtool spec BUNDLE ROOTFS CGROUP    turn `runc spec` output into a /bin/true bundle
//	benchtool time [flags] NAME=CMD ...    time commands round-robin, append to a TSV file
//	benchtool report TSV MD SVG            medians, spread and ratios: a markdown table and a plot
//	benchtool diff [-pairs] TSV            per group, the median of the rounds' differences to its first command (or two by two)
//
// Commands are timed alternately (A B C A B C …), not one after the
// other (A A A … B B B …), so that whatever drifts during the run (the
// page cache, a cron job, the other core) hits every command alike.
// Standard library only: this is not a dependency of minidocker.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool spec|time|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "spec":
		err = runSpec(os.Args[2:])
	case "time":
		err = runTime(os.Args[2:])
	case "report":
		err = runReport(os.Args[2:])
	case "diff":
		err = runDiff(os.Args[2:])
	default:
		err = fmt.Errorf("unknown verb %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// runSpec edits BUNDLE/config.json as `runc spec` wrote it: no terminal,
// /bin/true as the command, ROOTFS as the root, and an absolute cgroupsPath, so that runc and
// crun never make a cgroup under the caller's own.
func runSpec(args []string) error {
	if len(args) != 3 || !strings.HasPrefix(args[2], "/") {
		return fmt.Errorf("usage: spec BUNDLE ROOTFS /ABSOLUTE/CGROUP")
	}
	path := args[0] + "/config.json"
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	process := spec["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []string{"/bin/true"}
	spec["root"] = map[string]any{"path": args[1], "readonly": true}
	spec["linux"].(map[string]any)["cgroupsPath"] = args[2]
	out, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// runTime times each NAME=CMD -runs times, round-robin, after -warmup
// untimed rounds, and appends "group<TAB>name<TAB>milliseconds" lines to
// -out. -before and -after (NAME=SHELL) run untimed around each timing,
// e.g. to make the container that a commit then commits.
func runTime(args []string) error {
	fs := flag.NewFlagSet("time", flag.ContinueOnError)
	runs := fs.Int("runs", 20, "timed rounds")
	warmup := fs.Int("warmup", 2, "untimed rounds first")
	group := fs.String("group", "", "the table this belongs to")
	out := fs.String("out", "", "TSV file to append to")
	cpu := fs.Bool("cpu", false, "record the command's CPU time (user + system, its reaped children included), not wall time")
	var before, after multiFlag
	fs.Var(&before, "before", "NAME=SHELL to run before each timing of NAME")
	fs.Var(&after, "after", "NAME=SHELL to run after each timing of NAME")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names, cmds := splitCases(fs.Args())
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	samples := map[string][]float64{}
	for round := 0; round < *warmup+*runs; round++ {
		for i, name := range names {
			if err := shell(before.get(name)); err != nil {
				return fmt.Errorf("%s: before: %w", name, err)
			}
			ms, err := timeOnce(cmds[i], *cpu)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", name, cmds[i], err)
			}
			if err := shell(after.get(name)); err != nil {
				return fmt.Errorf("%s: after: %w", name, err)
			}
			if round >= *warmup {
				samples[name] = append(samples[name], ms)
				fmt.Fprintf(f, "%s\t%s\t%.3f\n", *group, name, ms)
			}
		}
	}
	for _, name := range names {
		s := summarize(samples[name])
		fmt.Printf("  %-40s median %8.1f ms  (p25 %.1f, p75 %.1f, n=%d)\n", name, s.median, s.p25, s.p75, s.n)
	}
	return nil
}

// timeOnce runs one command (split on spaces, no shell in between) and
// returns its wall time, or with cpu its CPU time, in milliseconds;
// output goes to /dev/null. CPU time is what to read on a machine shared
// with other jobs: a longer command is more often preempted for a whole
// time slice, which inflates wall-time ratios.
func timeOnce(cmdline string, cpu bool) (float64, error) {
	argv := strings.Fields(cmdline)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	ms := float64(time.Since(start).Microseconds()) / 1000
	if cpu && cmd.ProcessState != nil {
		ms = float64((cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Microseconds()) / 1000
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return ms, nil
}

// shell runs a setup line with sh -c; "" does nothing.
func shell(line string) error {
	if line == "" {
		return nil
	}
	out, err := exec.Command("/bin/sh", "-c", line).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// splitCases splits NAME=CMD arguments, keeping their order.
func splitCases(args []string) (names, cmds []string) {
	for _, a := range args {
		name, cmd, _ := strings.Cut(a, "=")
		names, cmds = append(names, name), append(cmds, cmd)
	}
	return names, cmds
}

// multiFlag is a repeatable NAME=VALUE flag.
type multiFlag map[string]string

func (m *multiFlag) String() string { return "" }

func (m *multiFlag) Set(v string) error {
	if *m == nil {
		*m = multiFlag{}
	}
	name, value, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	(*m)[name] = value
	return nil
}

func (m multiFlag) get(name string) string { return m[name] }

// stats are one command's samples summarized.
type stats struct {
	n                          int
	min, p25, median, p75, max float64
}

// summarize sorts the samples and reads the quartiles off them.
func summarize(v []float64) stats {
	if len(v) == 0 {
		return stats{}
	}
	s := append([]float64{}, v...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		lo := int(pos)
		if lo+1 >= len(s) {
			return s[lo]
		}
		return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
	}
	return stats{n: len(s), min: s[0], p25: q(0.25), median: q(0.5), p75: q(0.75), max: s[len(s)-1]}
}

// row is one line of the results: a command of a group and its stats.
type row struct {
	group, name string
	samples     []float64 // in the order they were timed: one per round
	stats
}

// readResults reads the TSV file, keeping the order of first appearance.
func readResults(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var order []string
	samples := map[string][]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			continue
		}
		ms, err := strconv.ParseFloat(parts[2], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key := parts[0] + "\t" + parts[1]
		if _, seen := samples[key]; !seen {
			order = append(order, key)
		}
		samples[key] = append(samples[key], ms)
	}
	var rows []row
	for _, key := range order {
		group, name, _ := strings.Cut(key, "\t")
		rows = append(rows, row{group: group, name: name, samples: samples[key], stats: summarize(samples[key])})
	}
	return rows, sc.Err()
}
