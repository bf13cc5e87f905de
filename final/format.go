//go:build linux

// --format: Go templates over what a verb lists, as Docker's (text/template,
// with Docker's json function).

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// templateFuncs are the functions Docker's templates offer that we use most.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		data, _ := json.Marshal(v)
		return string(data)
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"join":  strings.Join,
}

// printTemplate prints each item through the template to w, one per line.
func printTemplate[T any](w io.Writer, format string, items []T) error {
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return usagef("invalid --format template: %v", err)
	}
	for _, item := range items {
		var b strings.Builder
		if err := tmpl.Execute(&b, item); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(w, b.String())
	}
	return nil
}
