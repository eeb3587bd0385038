package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
	"sigs.k8s.io/yaml"
)

func TestMakeRoutesLastOneOnly(t *testing.T) {
	for _, n := range []int{2, 10, 1000} {
		rs := makeRoutes(n)
		if len(rs) != n {
			t.Fatalf("makeRoutes(%d) made %d routes", n, len(rs))
		}
		path := lastRoutePath(n)
		miss := strings.TrimSuffix(path, "42") + "x"
		var hits []string
		for _, r := range rs {
			if matchKongPath(t, r.KongPath, miss) {
				t.Errorf("n=%d: route %s (%s) matches %s, which should match nothing", n, r.Name, r.KongPath, miss)
			}
			if matchKongPath(t, r.KongPath, path) {
				hits = append(hits, r.Name)
			}
		}
		if want := fmt.Sprintf("route-%d", n-1); len(hits) != 1 || hits[0] != want {
			t.Errorf("n=%d: %s matches %v; want only %s", n, path, hits, want)
		}
		if last := rs[n-1]; !strings.HasPrefix(last.KongPath, "~") || !strings.HasPrefix(last.NginxLocation, "~ ^") {
			t.Errorf("n=%d: last route %+v is not a regex route", n, last)
		}
	}
}

// matchKongPath applies Kong's 3.0 path rule: "~" starts a regex anchored at
// the start of the path, anything else is a prefix.
func matchKongPath(t *testing.T, kongPath, path string) bool {
	if re, ok := strings.CutPrefix(kongPath, "~"); ok {
		return regexp.MustCompile("^" + re).MatchString(path)
	}
	return strings.HasPrefix(path, kongPath)
}

func testData(dir string) tmplData {
	d := newTmplData(dir, 18000, 18001, 18002, makeRoutes(1000))
	d.LuaModule = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
	d.NDKModule = "/usr/lib/nginx/modules/ndk_http_module.so"
	return d
}

// TestKongConfigs renders every scenario's kong.yml, checks its shape and
// compiles every Lua function in it with gopher-lua's parser (luagate's).
func TestKongConfigs(t *testing.T) {
	tm, err := templates()
	if err != nil {
		t.Fatal(err)
	}
	type plugin struct {
		Name   string              `json:"name"`
		Config map[string][]string `json:"config"`
	}
	type route struct {
		Name      string   `json:"name"`
		Paths     []string `json:"paths"`
		StripPath *bool    `json:"strip_path"`
		Plugins   []plugin `json:"plugins"`
	}
	type doc struct {
		FormatVersion string `json:"_format_version"`
		Services      []struct {
			Name   string  `json:"name"`
			URL    string  `json:"url"`
			Routes []route `json:"routes"`
		} `json:"services"`
	}
	wantPhases := map[string][]string{
		"plain": nil, "auth": {"access", "header_filter"}, "reload": {"access", "header_filter"},
		"exit": {"access"}, "bodyfilter": {"header_filter", "body_filter"}, "routes": nil,
	}
	for _, sc := range scenarios(1000) {
		t.Run(sc.Name, func(t *testing.T) {
			for _, role := range roles {
				d := testData(t.TempDir())
				d.Role = role
				b, err := render(tm, sc.KongTmpl, d)
				if err != nil {
					t.Fatal(err)
				}
				var got doc
				if err := yaml.UnmarshalStrict(b, &got); err != nil {
					t.Fatalf("%s does not parse: %v\n%s", sc.KongTmpl, err, b)
				}
				if got.FormatVersion != "3.0" || len(got.Services) != 1 {
					t.Fatalf("%s: _format_version %q, %d services; want \"3.0\" and 1", sc.KongTmpl, got.FormatVersion, len(got.Services))
				}
				svc := got.Services[0]
				wantRoutes := 1
				if sc.Name == "routes" {
					wantRoutes = 1000
				}
				if len(svc.Routes) != wantRoutes {
					t.Fatalf("%s: %d routes; want %d", sc.KongTmpl, len(svc.Routes), wantRoutes)
				}
				wantPort := d.UpstreamPort
				if sc.Name == "exit" {
					wantPort = d.DeadPort
				}
				if svc.URL != "http://127.0.0.1:"+strconv.Itoa(wantPort) {
					t.Errorf("%s: service url %s; want port %d", sc.KongTmpl, svc.URL, wantPort)
				}
				for _, r := range svc.Routes {
					if r.StripPath == nil || *r.StripPath {
						t.Errorf("%s: route %s: strip_path must be false", sc.KongTmpl, r.Name)
					}
				}
				var phases []string
				for _, p := range svc.Routes[0].Plugins {
					if p.Name != "pre-function" {
						t.Errorf("%s: plugin %q; want pre-function", sc.KongTmpl, p.Name)
					}
					for _, phase := range []string{"access", "header_filter", "body_filter"} {
						for i, code := range p.Config[phase] {
							phases = append(phases, phase)
							if _, err := parse.Parse(strings.NewReader(code), fmt.Sprintf("%s %s[%d]", sc.KongTmpl, phase, i)); err != nil {
								t.Errorf("Lua does not compile: %v\n%s", err, code)
							}
						}
					}
				}
				if strings.Join(phases, ",") != strings.Join(wantPhases[sc.Name], ",") {
					t.Errorf("%s: Lua phases %v; want %v", sc.KongTmpl, phases, wantPhases[sc.Name])
				}
				if sc.Name == "auth" || sc.Name == "reload" {
					access := svc.Routes[0].Plugins[0].Config["access"][0]
					for _, want := range []string{benchToken, consumerID, role} {
						if !strings.Contains(access, want) {
							t.Errorf("access function lacks %q", want)
						}
					}
				}
			}
		})
	}
}

// TestNginxConfigs renders every nginx config and has nginx check it, when
// nginx and the Lua module are installed.
func TestNginxConfigs(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
	}
	d0 := testData("")
	for _, p := range []string{nginx, d0.LuaModule, d0.NDKModule} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("nginx + Lua not installed (%s missing): .ci/run installs them with make test-deps", p)
			}
			t.Skipf("nginx + Lua not installed (%s missing): run make test-deps", p)
		}
	}
	tm, err := templates()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"upstream.conf.tmpl"}
	for _, sc := range scenarios(1000) {
		if sc.Name != "reload" { // same file as auth
			names = append(names, sc.NginxTmpl)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := render(tm, name, testData(dir))
			if err != nil {
				t.Fatal(err)
			}
			conf := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(conf, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(nginx, "-t", "-q", "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log")).CombinedOutput()
			if err != nil {
				errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				t.Fatalf("nginx -t: %v\n%s%s\n%s", err, out, errLog, b)
			}
		})
	}
}

// fakeServer answers like a server under test; tweak changes one behaviour.
func fakeServer(t *testing.T, role string, tweak string, auth bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch tweak {
		case "exit":
			_, _ = fmt.Fprintf(w, `{"message":%q}`, exitMessage)
			return
		case "exit-wrong":
			_, _ = fmt.Fprint(w, `{"message":"hi"}`)
			return
		case "bodyfilter":
			_, _ = fmt.Fprintf(w, `{"origin":"upstream","ok":true,%q:%q}`, bodyField, bodyValue)
			return
		}
		if tweak != "no-filter-header" {
			h.Set("X-Bench-Filter", filterValue)
		}
		if auth && r.Header.Get("Authorization") != "Bearer "+benchToken && tweak != "no-auth" {
			w.WriteHeader(401)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/x") && tweak != "route-too-wide" {
			w.WriteHeader(404)
			return
		}
		h.Set("X-Upstream-Consumer", consumerID)
		if tweak != "no-role" {
			h.Set("X-Upstream-Role", role)
		}
		_, _ = fmt.Fprint(w, upstreamBody)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestScenarioChecks(t *testing.T) {
	byName := map[string]scenario{}
	for _, sc := range scenarios(1000) {
		byName[sc.Name] = sc
	}
	tests := []struct {
		scenario string
		tweak    string
		role     string // role the check expects; the fake answers roles[1]
		wantErr  string
	}{
		{"plain", "", roles[1], ""},
		{"auth", "", roles[1], ""},
		{"auth", "no-role", roles[1], "X-Upstream-Role"},
		{"reload", "", roles[0], `X-Upstream-Role = "role-b", want "role-a"`},
		{"auth", "no-auth", roles[1], "status 200, want 401"},
		{"auth", "no-filter-header", roles[1], "X-Bench-Filter"},
		{"exit", "exit", roles[1], ""},
		{"exit", "exit-wrong", roles[1], `field "message" = hi`},
		{"bodyfilter", "bodyfilter", roles[1], ""},
		{"bodyfilter", "", roles[1], `field "gateway" = <nil>`},
		{"routes", "", roles[1], ""},
		{"routes", "route-too-wide", roles[1], "matches no route"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.tweak, func(t *testing.T) {
			srv := fakeServer(t, roles[1], tt.tweak, byName[tt.scenario].Auth)
			port, err := strconv.Atoi(srv.URL[strings.LastIndexByte(srv.URL, ':')+1:])
			if err != nil {
				t.Fatal(err)
			}
			err = byName[tt.scenario].check(newChecker(port), tt.role)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("check error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
