package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// measurement is one server in one scenario in one round.
type measurement struct {
	Scenario string
	Server   string
	Round    int
	Err      string // why there is no figure (start, sanity check, wrk), "" when measured
	Problem  string // what went wrong although there are figures (reload not applied)
	RPS      float64
	P50ms    float64
	P99ms    float64
	CPUus    float64 // proxy CPU µs per request
	RSSMiB   float64
	Errors   int64  // wrk's non-2xx/3xx + socket errors
	Detail   string // the error counts spelled out
	Note     string // e.g. reloads done
}

func (m measurement) ok() bool { return m.Err == "" }

// metric names a column: how to read it from a measurement and how to print it.
type metric struct {
	name   string
	get    func(measurement) float64
	format func(float64) string
}

var metrics = []metric{
	{"req/s", func(m measurement) float64 { return m.RPS }, formatRPS},
	{"p50 ms", func(m measurement) float64 { return m.P50ms }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
	{"p99 ms", func(m measurement) float64 { return m.P99ms }, func(v float64) string { return fmt.Sprintf("%.2f", v) }},
	{"CPU µs/req", func(m measurement) float64 { return m.CPUus }, func(v float64) string { return fmt.Sprintf("%.1f", v) }},
	{"RSS MiB", func(m measurement) float64 { return m.RSSMiB }, func(v float64) string { return fmt.Sprintf("%.1f", v) }},
}

func formatRPS(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fk", v/1000)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// median of the values; NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// row is the summary of one server in one scenario.
type row struct {
	Scenario string
	Server   string
	Rounds   int       // rounds with a figure
	Values   []float64 // per metric: median over rounds
	Ratios   []float64 // per metric: median of same-round ratios to the baseline (NaN if none)
	Errors   int64     // summed over rounds
	Detail   []string  // per round: wrk's error counts, when not zero
	Failures []string  // per round: why there is no figure, or what went wrong
}

// summarize folds measurements into rows, in the order of scenarios and
// servers given; baseline is the server every ratio is taken against.
func summarize(ms []measurement, scenarios, servers []string, baseline string) []row {
	type key struct{ sc, sv string }
	byKey := map[key][]measurement{}
	for _, m := range ms {
		k := key{m.Scenario, m.Server}
		byKey[k] = append(byKey[k], m)
	}
	var rows []row
	for _, sc := range scenarios {
		base := map[int]measurement{}
		for _, m := range byKey[key{sc, baseline}] {
			if m.ok() {
				base[m.Round] = m
			}
		}
		for _, sv := range servers {
			list := byKey[key{sc, sv}]
			if len(list) == 0 {
				continue
			}
			r := row{Scenario: sc, Server: sv}
			for _, mt := range metrics {
				var vals, ratios []float64
				for _, m := range list {
					if !m.ok() {
						continue
					}
					vals = append(vals, mt.get(m))
					if b, ok := base[m.Round]; ok && mt.get(b) > 0 {
						ratios = append(ratios, mt.get(m)/mt.get(b))
					}
				}
				r.Values = append(r.Values, median(vals))
				r.Ratios = append(r.Ratios, median(ratios))
			}
			for _, m := range list {
				if m.ok() {
					r.Rounds++
				}
				r.Errors += m.Errors
				switch {
				case !m.ok():
					r.Failures = append(r.Failures, fmt.Sprintf("round %d: %s", m.Round, m.Err))
				case m.Problem != "":
					r.Failures = append(r.Failures, fmt.Sprintf("round %d: %s", m.Round, m.Problem))
				}
				switch {
				case m.ok() && m.Detail != "":
					r.Detail = append(r.Detail, fmt.Sprintf("round %d: %s", m.Round, m.Detail))
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// cell prints "value (×ratio)", "—" when there is no figure.
func cell(mt metric, v, ratio float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	if math.IsNaN(ratio) {
		return mt.format(v)
	}
	return fmt.Sprintf("%s (×%.2f)", mt.format(v), ratio)
}

// markdownTable renders rows as one Markdown table; titles maps a scenario
// name to the label shown.
func markdownTable(rows []row, titles map[string]string) string {
	var b strings.Builder
	b.WriteString("| scenario | server |")
	for _, mt := range metrics {
		b.WriteString(" " + mt.name + " |")
	}
	b.WriteString(" errors |\n|---|---|")
	for range metrics {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, r := range rows {
		title := titles[r.Scenario]
		if title == "" {
			title = r.Scenario
		}
		fmt.Fprintf(&b, "| %s | %s |", title, r.Server)
		if r.Rounds == 0 {
			for range metrics {
				b.WriteString(" failed |")
			}
		} else {
			for i, mt := range metrics {
				b.WriteString(" " + cell(mt, r.Values[i], r.Ratios[i]) + " |")
			}
		}
		fmt.Fprintf(&b, " %d |\n", r.Errors)
	}
	return b.String()
}

// roundsTable lists every measurement, for the record.
func roundsTable(ms []measurement) string {
	var b strings.Builder
	b.WriteString("| round | scenario | server | req/s | p50 ms | p99 ms | CPU µs/req | RSS MiB | errors | note |\n")
	b.WriteString("|---:|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, m := range ms {
		if !m.ok() {
			fmt.Fprintf(&b, "| %d | %s | %s | — | — | — | — | — | — | %s |\n", m.Round, m.Scenario, m.Server, oneLine(m.Err))
			continue
		}
		var parts []string
		for _, p := range []string{m.Detail, m.Note, m.Problem} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		note := strings.Join(parts, "; ")
		fmt.Fprintf(&b, "| %d | %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %d | %s |\n",
			m.Round, m.Scenario, m.Server, m.RPS, m.P50ms, m.P99ms, m.CPUus, m.RSSMiB, m.Errors, oneLine(note))
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " / ")
	return strings.ReplaceAll(s, "|", "\\|")
}
