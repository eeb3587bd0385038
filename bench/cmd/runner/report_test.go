package main

import (
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v; want NaN", got)
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its argument in place")
	}
}

func TestSummarizeSameRoundRatios(t *testing.T) {
	// The baseline drifts between rounds. luagate's same-round req/s ratios
	// are 0.5, 0.9, 0.5: their median is 0.5, while the ratio of the medians
	// (180 / 200) would be 0.9. The table must show the former.
	ms := []measurement{
		{Scenario: "auth", Server: baselineName, Round: 1, RPS: 100, P99ms: 2, CPUus: 10, RSSMiB: 20, P50ms: 1},
		{Scenario: "auth", Server: baselineName, Round: 2, RPS: 200, P99ms: 2, CPUus: 10, RSSMiB: 20, P50ms: 1},
		{Scenario: "auth", Server: baselineName, Round: 3, RPS: 400, P99ms: 2, CPUus: 10, RSSMiB: 20, P50ms: 1},
		{Scenario: "auth", Server: "luagate", Round: 1, RPS: 50, P99ms: 4, CPUus: 20, RSSMiB: 10, P50ms: 1},
		{Scenario: "auth", Server: "luagate", Round: 2, RPS: 180, P99ms: 4, CPUus: 20, RSSMiB: 10, P50ms: 1, Errors: 2, Detail: "read 2"},
		{Scenario: "auth", Server: "luagate", Round: 3, RPS: 200, P99ms: 4, CPUus: 20, RSSMiB: 10, P50ms: 1},
		{Scenario: "plain", Server: "goproxy", Round: 1, Err: "start: boom"},
		{Scenario: "plain", Server: "luagate", Round: 1, RPS: 7, P50ms: 1, P99ms: 1, CPUus: 1, RSSMiB: 1, Problem: "reload not applied"},
	}
	rows := summarize(ms, []string{"plain", "auth"}, []string{baselineName, "luagate", "goproxy"}, baselineName)
	if len(rows) != 4 {
		t.Fatalf("got %d rows; want 4 (plain/luagate, plain/goproxy, auth/nginx-lua, auth/luagate): %+v", len(rows), rows)
	}
	flagged := rows[0]
	if flagged.Server != "luagate" || flagged.Rounds != 1 || flagged.Values[0] != 7 || len(flagged.Failures) != 1 {
		t.Errorf("row with a problem = %+v; want its figures kept and the problem listed", flagged)
	}
	rows = rows[1:]
	if rows[0].Scenario != "plain" || rows[0].Server != "goproxy" || rows[0].Rounds != 0 || len(rows[0].Failures) != 1 {
		t.Errorf("row 0 = %+v; want plain/goproxy with one failure and no rounds", rows[0])
	}
	lg := rows[2]
	if lg.Server != "luagate" || lg.Rounds != 3 {
		t.Fatalf("row 2 = %+v; want luagate with 3 rounds", lg)
	}
	want := map[string][2]float64{ // metric -> median value, median ratio
		"req/s":      {180, 0.5},
		"p99 ms":     {4, 2},
		"CPU µs/req": {20, 2},
		"RSS MiB":    {10, 0.5},
	}
	for i, mt := range metrics {
		w, ok := want[mt.name]
		if !ok {
			continue
		}
		if lg.Values[i] != w[0] || lg.Ratios[i] != w[1] {
			t.Errorf("%s: value %v ratio %v; want %v and %v", mt.name, lg.Values[i], lg.Ratios[i], w[0], w[1])
		}
	}
	if lg.Errors != 2 || len(lg.Detail) != 1 || !strings.Contains(lg.Detail[0], "round 2: read 2") {
		t.Errorf("errors %d, detail %q; want 2 and the round-2 detail", lg.Errors, lg.Detail)
	}
	base := rows[1]
	for i := range metrics {
		if base.Ratios[i] != 1 {
			t.Errorf("baseline ratio of %s = %v; want 1", metrics[i].name, base.Ratios[i])
		}
	}
}

func TestSummarizeNoBaselineRound(t *testing.T) {
	ms := []measurement{
		{Scenario: "plain", Server: baselineName, Round: 1, Err: "start: no lua"},
		{Scenario: "plain", Server: "luagate", Round: 1, RPS: 10, P50ms: 1, P99ms: 1, CPUus: 1, RSSMiB: 1},
	}
	rows := summarize(ms, []string{"plain"}, []string{baselineName, "luagate"}, baselineName)
	if got := rows[1].Ratios[0]; !math.IsNaN(got) {
		t.Errorf("ratio without a baseline figure = %v; want NaN", got)
	}
	table := markdownTable(rows, map[string]string{"plain": "1 plain proxy"})
	for _, want := range []string{"| 1 plain proxy | nginx-lua | failed |", "| 1 plain proxy | luagate | 10 | 1.00 |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestMarkdownTableCells(t *testing.T) {
	rows := []row{{Scenario: "auth", Server: "luagate", Rounds: 1,
		Values: []float64{61234, 0.81, 1.92, 16.04, 14.2}, Ratios: []float64{0.98, 1.1, 1.2, 1.003, 0.8}}}
	table := markdownTable(rows, nil)
	want := "| auth | luagate | 61.2k (×0.98) | 0.81 (×1.10) | 1.92 (×1.20) | 16.0 (×1.00) | 14.2 (×0.80) | 0 |"
	if !strings.Contains(table, want) {
		t.Errorf("table:\n%s\nlacks:\n%s", table, want)
	}
	if lines := strings.Count(table, "\n"); lines != 3 {
		t.Errorf("table has %d lines; want header, separator and one row", lines)
	}
}

func TestFindProblems(t *testing.T) {
	rows := []row{
		{Scenario: "reload", Server: baselineName, Rounds: 3, Errors: 139, Detail: []string{"round 1: read 139"}},
		{Scenario: "reload", Server: "luagate", Rounds: 3, Errors: 4, Detail: []string{"round 2: non-2xx/3xx 4"}},
		{Scenario: "auth", Server: baselineName, Rounds: 3, Errors: 1, Detail: []string{"round 1: read 1"}},
		{Scenario: "plain", Server: "goproxy", Rounds: 2, Failures: []string{"round 3: start: boom"}},
		{Scenario: "plain", Server: "luagate", Rounds: 3},
	}
	got := findProblems(rows)
	want := []string{
		"reload/luagate: 4 errors (round 2: non-2xx/3xx 4)",
		"auth/nginx-lua: 1 errors (round 1: read 1)",
		"plain/goproxy: round 3: start: boom",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findProblems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRoundsTableEscapes(t *testing.T) {
	out := roundsTable([]measurement{{Round: 1, Scenario: "auth", Server: "luagate", Err: "line1\nbad | pipe"}})
	if !strings.Contains(out, `line1 / bad \| pipe`) {
		t.Errorf("roundsTable did not flatten the error:\n%s", out)
	}
}
