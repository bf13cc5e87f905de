// The report: one markdown table per group, and one SVG with a panel per
// group (a bar per command at its median, a whisker from p25 to p75), so
// a reader sees at a glance which bar is shortest.
package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// runReport reads the TSV file and writes the markdown table and the SVG.
func runReport(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: report RESULTS.tsv TABLE.md PLOT.svg")
	}
	rows, err := readResults(args[0])
	if err != nil {
		return err
	}
	if err := os.WriteFile(args[1], []byte(markdown(rows)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(args[2], []byte(svg(rows)), 0o644)
}

// groups splits the rows by group, in order.
func groups(rows []row) (names []string, by map[string][]row) {
	by = map[string][]row{}
	for _, r := range rows {
		if _, seen := by[r.group]; !seen {
			names = append(names, r.group)
		}
		by[r.group] = append(by[r.group], r)
	}
	return names, by
}

// markdown is one table per group; the last columns are minidocker's
// median divided by this row's (below 1: minidocker is faster), and the
// median of the same ratio taken round by round: each round times every
// command once, close together, so a ratio within a round is spared the
// drift between rounds that a busy machine brings.
func markdown(rows []row) string {
	var b strings.Builder
	names, by := groups(rows)
	for _, g := range names {
		rs := by[g]
		ours := rs[0] // the first command of a group is minidocker's
		fmt.Fprintf(&b, "**%s**\n\n", g)
		fmt.Fprintf(&b, "| command | median | p25–p75 | min–max | n | %s ÷ this | the same, round by round |\n|---|---:|---:|---:|---:|---:|---:|\n", ours.name)
		for _, r := range rs {
			fmt.Fprintf(&b, "| %s | %s | %s–%s | %s–%s | %d | %.2f | %.2f |\n", r.name, ms(r.median),
				ms(r.p25), ms(r.p75), ms(r.min), ms(r.max), r.n, ours.median/r.median, pairedRatio(ours, r))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// runDiff prints, for each group, the median over rounds of its first
// command's time minus each other command's: what the first one adds.
// With -pairs it takes the commands two by two instead (1st − 2nd,
// 3rd − 4th, …), e.g. a bridged run and an unbridged one of two builds.
func runDiff(args []string) error {
	pairs := len(args) == 2 && args[0] == "-pairs"
	if pairs {
		args = args[1:]
	}
	if len(args) != 1 {
		return fmt.Errorf("usage: diff [-pairs] RESULTS.tsv")
	}
	rows, err := readResults(args[0])
	if err != nil {
		return err
	}
	names, by := groups(rows)
	for _, g := range names {
		rs := by[g]
		if pairs {
			for i := 0; i+1 < len(rs); i += 2 {
				printDiff(g, rs[i], rs[i+1])
			}
			continue
		}
		for _, r := range rs[1:] {
			printDiff(g, rs[0], r)
		}
	}
	return nil
}

// printDiff prints the median over rounds of a's time minus b's.
func printDiff(group string, a, b row) {
	var d []float64
	for i := 0; i < len(a.samples) && i < len(b.samples); i++ {
		d = append(d, a.samples[i]-b.samples[i])
	}
	s := summarize(d)
	fmt.Printf("%s: %s − %s, round by round: median %+.1f ms (p25 %+.1f, p75 %+.1f, n=%d)\n", group, a.name, b.name, s.median, s.p25, s.p75, s.n)
}

// pairedRatio is the median over rounds of a's sample ÷ b's sample.
func pairedRatio(a, b row) float64 {
	var ratios []float64
	for i := 0; i < len(a.samples) && i < len(b.samples); i++ {
		ratios = append(ratios, a.samples[i]/b.samples[i])
	}
	return summarize(ratios).median
}

// ms formats milliseconds with a precision that suits their size.
func ms(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// Plot geometry, in pixels.
const (
	plotWidth  = 760
	labelWidth = 250
	barHeight  = 18
	barGap     = 6
	panelGap   = 34
)

// svg draws a panel per group, each with its own linear scale.
func svg(rows []row) string {
	names, by := groups(rows)
	height := 20
	for _, g := range names {
		height += panelGap + len(by[g])*(barHeight+barGap)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	y := 10
	for _, g := range names {
		y = panel(&b, g, by[g], y)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws one group's bars from y down and returns the next free y.
func panel(b *strings.Builder, title string, rs []row, y int) int {
	fmt.Fprintf(b, `<text x="4" y="%d" font-weight="bold">%s (median; whisker p25–p75)</text>`+"\n", y+16, html.EscapeString(title))
	y += panelGap
	top := 0.0
	for _, r := range rs {
		top = math.Max(top, r.p75)
	}
	scale := float64(plotWidth-labelWidth-80) / top
	for i, r := range rs {
		colour := "#9aa5b1" // peers grey, minidocker blue
		if i == 0 {
			colour = "#1f6feb"
		}
		w := r.median * scale
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelWidth-6, y+13, html.EscapeString(r.name))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelWidth, y, w, barHeight, colour)
		x1, x2 := float64(labelWidth)+r.p25*scale, float64(labelWidth)+r.p75*scale
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="black"/>`+"\n", x1, x2, y+barHeight/2, y+barHeight/2)
		fmt.Fprintf(b, `<text x="%.1f" y="%d">%s</text>`+"\n", math.Max(float64(labelWidth)+w, x2)+6, y+13, ms(r.median))
		y += barHeight + barGap
	}
	return y
}
