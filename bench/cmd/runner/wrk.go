package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reported.
type wrkResult struct {
	Requests int64         // "N requests in ..."
	Elapsed  time.Duration // "... in 5.00s"
	RPS      float64       // "Requests/sec:"
	P50, P99 time.Duration // "Latency Distribution" (needs --latency)
	NonOK    int64         // "Non-2xx or 3xx responses:"
	Connect  int64         // "Socket errors: connect N, read N, write N, timeout N"
	Read     int64
	Write    int64
	Timeout  int64
}

// Errors is every failed or wrong answer wrk saw.
func (w wrkResult) Errors() int64 {
	return w.NonOK + w.Connect + w.Read + w.Write + w.Timeout
}

// ErrorDetail spells out the non-zero error counts, or "" when there is none.
func (w wrkResult) ErrorDetail() string {
	var parts []string
	for _, c := range []struct {
		name string
		n    int64
	}{{"non-2xx/3xx", w.NonOK}, {"connect", w.Connect}, {"read", w.Read}, {"write", w.Write}, {"timeout", w.Timeout}} {
		if c.n != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	return strings.Join(parts, ", ")
}

// parseWrk reads wrk 4.x text output (run with --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveReq, haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "50%":
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk output: 50%% latency: %w", err)
			}
			r.P50, have50 = d, true
		case len(f) == 2 && f[0] == "99%":
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk output: 99%% latency: %w", err)
			}
			r.P99, have99 = d, true
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: request count %q: %w", f[0], err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return r, fmt.Errorf("wrk output: elapsed time: %w", err)
			}
			r.Requests, r.Elapsed, haveReq = n, d, true
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: Requests/sec %q: %w", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: non-2xx count %q: %w", f[4], err)
			}
			r.NonOK = n
		case strings.HasPrefix(line, "Socket errors:"):
			if err := parseSocketErrors(strings.TrimPrefix(line, "Socket errors:"), &r); err != nil {
				return r, err
			}
		}
	}
	var missing []string
	if !haveReq {
		missing = append(missing, "request count")
	}
	if !haveRPS {
		missing = append(missing, "Requests/sec")
	}
	if !have50 || !have99 {
		missing = append(missing, "latency distribution (--latency)")
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("wrk output lacks %s", strings.Join(missing, ", "))
	}
	return r, nil
}

// parseSocketErrors reads " connect 0, read 12, write 0, timeout 3".
func parseSocketErrors(s string, r *wrkResult) error {
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return fmt.Errorf("wrk output: socket errors %q: want \"name count\" pairs", s)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("wrk output: socket errors %q: %w", s, err)
		}
		switch f[0] {
		case "connect":
			r.Connect = n
		case "read":
			r.Read = n
		case "write":
			r.Write = n
		case "timeout":
			r.Timeout = n
		default:
			return fmt.Errorf("wrk output: socket errors: unknown kind %q", f[0])
		}
	}
	return nil
}

// parseWrkDuration reads wrk's time format: a number followed by us, ms, s, m
// or h ("812.00us", "1.52ms", "5.00s", "1.00m").
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("bad duration %q: no unit (us, ms, s, m, h)", s)
}
