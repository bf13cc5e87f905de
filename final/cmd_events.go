//go:build linux

// events: what happened to containers (state.Emit writes it, state.Events
// reads it), as docker events prints it: one line per event, or the
// events between --since and --until. Without --until it follows the log
// until interrupted.

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/minidocker/minidocker/final/internal/state"
)

// eventsCommand is the events verb.
var eventsCommand = &command{
	name: "events", usage: "events [OPTIONS]", short: "Get real time events from the server",
	interspersed: true,
	setup: func(fs *pflag.FlagSet) func(*session, []string) error {
		since := fs.String("since", "", "Show all events created since timestamp")
		until := fs.String("until", "", "Stream events until this timestamp")
		filters := fs.StringArrayP("filter", "f", nil, "Filter output based on conditions provided (container, event, image, type)")
		return func(s *session, args []string) error {
			if len(args) != 0 {
				return usagef("accepts no arguments")
			}
			match, err := eventFilter(splitFilters(*filters))
			if err != nil {
				return usagef("%v", err)
			}
			from, to, err := eventWindow(*since, *until)
			if err != nil {
				return usagef("%v", err)
			}
			if err := s.open(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			return s.rt.State.Events(ctx, from, to, to.IsZero() || to.After(time.Now()), func(e state.Event) error {
				if match(e) {
					fmt.Println(eventLine(e))
				}
				return nil
			})
		}
	},
}

// eventWindow reads --since and --until; without --since only events
// from now on are shown, as docker does.
func eventWindow(since, until string) (from, to time.Time, err error) {
	now := time.Now()
	if from, err = parseEventTime(since, now); err != nil {
		return from, to, err
	}
	if since == "" {
		from = now
	}
	to, err = parseEventTime(until, now)
	return from, to, err
}

// parseEventTime reads a time as docker does: a Unix timestamp (with a
// fraction), an RFC 3339 date, or a duration before now ("10m").
func parseEventTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use a Unix timestamp, an RFC 3339 date or a duration such as 10m", v)
}

// eventLine is an event as docker events prints it.
func eventLine(e state.Event) string {
	keys := sortedKeys(e.Actor.Attributes)
	sort.Strings(keys)
	attrs := make([]string, len(keys))
	for i, k := range keys {
		attrs[i] = k + "=" + e.Actor.Attributes[k]
	}
	return fmt.Sprintf("%s %s %s %s (%s)", time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00"),
		e.Type, e.Action, e.Actor.ID, strings.Join(attrs, ", "))
}

// splitFilters turns -f KEY=VALUE flags into the API's filter map.
func splitFilters(flags []string) map[string][]string {
	out := map[string][]string{}
	for _, f := range flags {
		k, v, _ := strings.Cut(f, "=")
		out[k] = append(out[k], v)
	}
	return out
}

// eventFilter is the test an event must pass: every filter given, any
// of its values (container: a name or an id prefix).
func eventFilter(filters map[string][]string) (func(state.Event) bool, error) {
	tests := map[string]func(state.Event, string) bool{
		"container": func(e state.Event, v string) bool {
			return e.Actor.Attributes["name"] == strings.TrimPrefix(v, "/") || strings.HasPrefix(e.Actor.ID, v)
		},
		"event": func(e state.Event, v string) bool { return e.Action == v },
		"image": func(e state.Event, v string) bool { return e.Actor.Attributes["image"] == v },
		"type":  func(e state.Event, v string) bool { return e.Type == v },
	}
	for key := range filters {
		if tests[key] == nil {
			return nil, fmt.Errorf("invalid filter '%s': minidocker filters events by container, event, image and type", key)
		}
	}
	return func(e state.Event) bool {
		for key, values := range filters {
			if !anyValue(values, func(v string) bool { return tests[key](e, v) }) {
				return false
			}
		}
		return true
	}, nil
}
