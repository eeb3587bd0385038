package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/template"
	"time"

	"luagate/bench"
)

// Fixed values shared by every config so that the runner can check answers.
const (
	benchToken   = "bench-token-0123456789abcdef"
	consumerID   = "consumer-42"
	filterValue  = "1"
	exitMessage  = "hello from the gateway"
	bodyField    = "gateway"
	bodyValue    = "bench"
	upstreamBody = `{"origin":"upstream","items":[1,2,3],"ok":true}`
)

// roles are the two config versions that scenario 6 alternates between.
var roles = [2]string{"role-a", "role-b"}

// scenario is one workload: the configs for luagate and nginx, what the Go
// baselines do for it, the request wrk sends and how to check an answer.
type scenario struct {
	Name      string
	Title     string
	KongTmpl  string // template in configs/
	NginxTmpl string // template in nginx/
	GoMode    string // goproxy -mode; "" means goproxy has no equivalent
	Engines   bool   // the engine-choice proxies take part (plain proxying only)
	Auth      bool   // send the bearer token
	Reload    bool   // rewrite the config every reload interval during the load
	Path      string // request path; "" means "/"
}

func scenarios(routes int) []scenario {
	return []scenario{
		{Name: "plain", Title: "1 plain proxy", KongTmpl: "plain.yml.tmpl", NginxTmpl: "plain.conf.tmpl", GoMode: "plain", Engines: true},
		{Name: "auth", Title: "2 auth pre-function", KongTmpl: "auth.yml.tmpl", NginxTmpl: "auth.conf.tmpl", GoMode: "auth", Auth: true},
		{Name: "exit", Title: "3 response.exit", KongTmpl: "exit.yml.tmpl", NginxTmpl: "exit.conf.tmpl", GoMode: "exit"},
		{Name: "bodyfilter", Title: "4 JSON body_filter", KongTmpl: "bodyfilter.yml.tmpl", NginxTmpl: "bodyfilter.conf.tmpl", GoMode: "bodyfilter"},
		{Name: "routes", Title: fmt.Sprintf("5 %d routes", routes), KongTmpl: "routes.yml.tmpl", NginxTmpl: "routes.conf.tmpl", Path: lastRoutePath(routes)},
		{Name: "reload", Title: "6 auth + reload/100ms", KongTmpl: "auth.yml.tmpl", NginxTmpl: "auth.conf.tmpl", Auth: true, Reload: true},
	}
}

func (s scenario) path() string {
	if s.Path == "" {
		return "/"
	}
	return s.Path
}

func (s scenario) headers() []string {
	if s.Auth {
		return []string{"Authorization: Bearer " + benchToken}
	}
	return nil
}

// routeDef is one route of scenario 5.
type routeDef struct {
	Name          string
	KongPath      string
	NginxLocation string
}

// makeRoutes alternates prefix routes (even i) and regex routes (odd i); n is
// even, so the last route is a regex route that only its own paths match.
func makeRoutes(n int) []routeDef {
	rs := make([]routeDef, n)
	for i := range rs {
		if i%2 == 0 {
			p := fmt.Sprintf("/p%d/", i)
			rs[i] = routeDef{Name: fmt.Sprintf("route-%d", i), KongPath: p, NginxLocation: p}
			continue
		}
		re := fmt.Sprintf(`/r%d/items/\d+$`, i)
		rs[i] = routeDef{Name: fmt.Sprintf("route-%d", i), KongPath: "~" + re, NginxLocation: "~ ^" + re}
	}
	return rs
}

func lastRoutePath(n int) string { return fmt.Sprintf("/r%d/items/42", n-1) }

// tmplData is what every template sees.
type tmplData struct {
	Dir          string
	ProxyPort    int
	UpstreamPort int
	DeadPort     int
	LuaModule    string
	NDKModule    string
	Token        string
	ConsumerID   string
	Role         string
	FilterValue  string
	ExitMessage  string
	BodyField    string
	BodyValue    string
	UpstreamBody string
	Routes       []routeDef
}

func newTmplData(dir string, proxyPort, upstreamPort, deadPort int, routes []routeDef) tmplData {
	return tmplData{
		Dir: dir, ProxyPort: proxyPort, UpstreamPort: upstreamPort, DeadPort: deadPort,
		Token: benchToken, ConsumerID: consumerID, Role: roles[0], FilterValue: filterValue,
		ExitMessage: exitMessage, BodyField: bodyField, BodyValue: bodyValue, UpstreamBody: upstreamBody,
		Routes: routes,
	}
}

// templates parses every embedded template once.
func templates() (*template.Template, error) {
	t, err := template.New("bench").Option("missingkey=error").ParseFS(bench.Templates, "configs/*.tmpl", "nginx/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse bench templates: %w", err)
	}
	return t, nil
}

func render(t *template.Template, name string, d tmplData) ([]byte, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// checker sends single requests to a server under test and checks answers.
type checker struct {
	client *http.Client
	base   string // http://127.0.0.1:port
}

func newChecker(port int) checker {
	return checker{
		client: &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (c checker) get(path string, headers ...string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// expect checks a status and, when given, exact header values.
func expect(what string, a answer, status int, headers map[string]string) error {
	if a.status != status {
		return fmt.Errorf("%s: status %d, want %d (body %.200q)", what, a.status, status, a.body)
	}
	for k, want := range headers {
		if got := a.header.Get(k); got != want {
			return fmt.Errorf("%s: header %s = %q, want %q", what, k, got, want)
		}
	}
	return nil
}

// check verifies that a server does what the scenario says; role is the
// config version expected to be active (scenarios 2 and 6).
func (s scenario) check(c checker, role string) error {
	switch s.Name {
	case "plain":
		a, err := c.get("/")
		if err != nil {
			return err
		}
		if err := expect("GET /", a, 200, nil); err != nil {
			return err
		}
		return expectJSON("GET /", a.body, map[string]any{"origin": "upstream"})
	case "auth", "reload":
		good := "Authorization: Bearer " + benchToken
		a, err := c.get("/", good)
		if err != nil {
			return err
		}
		if err := expect("GET / with the token", a, 200, map[string]string{
			"X-Bench-Filter": filterValue, "X-Upstream-Consumer": consumerID, "X-Upstream-Role": role,
		}); err != nil {
			return err
		}
		for _, bad := range [][]string{nil, {"Authorization: Bearer wrong"}, {"Authorization: Basic " + benchToken}} {
			a, err := c.get("/", bad...)
			if err != nil {
				return err
			}
			if err := expect(fmt.Sprintf("GET / with %q", bad), a, 401, map[string]string{"X-Bench-Filter": filterValue}); err != nil {
				return err
			}
		}
		return nil
	case "exit":
		a, err := c.get("/")
		if err != nil {
			return err
		}
		if err := expect("GET /", a, 200, nil); err != nil {
			return err
		}
		return expectJSON("GET /", a.body, map[string]any{"message": exitMessage})
	case "bodyfilter":
		a, err := c.get("/")
		if err != nil {
			return err
		}
		if err := expect("GET /", a, 200, nil); err != nil {
			return err
		}
		return expectJSON("GET /", a.body, map[string]any{"origin": "upstream", bodyField: bodyValue, "ok": true})
	case "routes":
		a, err := c.get(s.Path)
		if err != nil {
			return err
		}
		if err := expect("GET "+s.Path, a, 200, nil); err != nil {
			return err
		}
		if err := expectJSON("GET "+s.Path, a.body, map[string]any{"origin": "upstream"}); err != nil {
			return err
		}
		miss := strings.TrimSuffix(s.Path, "42") + "x"
		a, err = c.get(miss)
		if err != nil {
			return err
		}
		return expect("GET "+miss+" (matches no route)", a, 404, nil)
	}
	return fmt.Errorf("no check for scenario %q", s.Name)
}

// expectJSON decodes a JSON object and checks the given fields.
func expectJSON(what string, body []byte, fields map[string]any) error {
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("%s: body %.200q is not a JSON object: %w", what, body, err)
	}
	for k, want := range fields {
		if got[k] != want {
			return fmt.Errorf("%s: body field %q = %v, want %v (body %.200q)", what, k, got[k], want, body)
		}
	}
	return nil
}
