package functions

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

// recorded is one request a fake AWS endpoint received.
type recorded struct {
	method, path, query string
	header              http.Header
	body                string
}

// fakeAWS is an httptest server recording requests and answering with fn.
type fakeAWS struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
	hits atomic.Int64
}

func newFakeAWS(t *testing.T, fn func(w http.ResponseWriter, r *http.Request, body string)) *fakeAWS {
	f := &fakeAWS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.hits.Add(1)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(b)})
		f.mu.Unlock()
		fn(w, r, string(b))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) hostPort() (string, json.Number) {
	u, _ := url.Parse(f.srv.URL)
	return u.Hostname(), json.Number(u.Port())
}

func (f *fakeAWS) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func okLambda(w http.ResponseWriter, _ *http.Request, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Log-Result", "bG9n")
	io.WriteString(w, body)
}

func runLambda(t *testing.T, cfg map[string]any, s LambdaSettings) (*lualibtest.ExitRecord, error) {
	t.Helper()
	return runLambdaWith(t, cfg, testKind(s))
}

func runLambdaWith(t *testing.T, cfg map[string]any, kind *lambdaSchema) (*lualibtest.ExitRecord, error) {
	t.Helper()
	v, errs := kind.Validate(cfg, nil)
	if len(errs) > 0 {
		t.Fatalf("config: %v", errs[0])
	}
	ex := rieRequest("GET", "/?k=v", "")
	err := v.(*Lambda).Run(lualib.PhaseAccess, ex, nil)
	return ex.LastExit(), err
}

func TestLambdaInvokeWire(t *testing.T) {
	f := newFakeAWS(t, okLambda)
	host, port := f.hostPort()
	e, err := runLambda(t, map[string]any{
		"function_name": "arn:aws:lambda:eu-west-1:123456789012:function:my-fn", "qualifier": "live",
		"aws_key": "AKIDSTATIC", "aws_secret": "s3cret", "aws_region": "eu-west-1",
		"host": host, "port": port, "disable_https": true, "invocation_type": "RequestResponse", "log_type": "Tail",
	}, LambdaSettings{})
	if err != nil {
		t.Fatal(err)
	}
	r := f.last()
	if r.method != "POST" || r.path != "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Amy-fn/invocations" ||
		r.query != "Qualifier=live" {
		t.Errorf("request %s %s ? %s", r.method, r.path, r.query)
	}
	if got := r.header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" {
		t.Errorf("X-Amz-Invocation-Type %q", got)
	}
	if got := r.header.Get("X-Amz-Log-Type"); got != "Tail" {
		t.Errorf("X-Amz-Log-Type %q", got)
	}
	auth := r.header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDSTATIC/") || !strings.Contains(auth, "/eu-west-1/lambda/aws4_request") {
		t.Errorf("not SigV4 with the static key for lambda in eu-west-1: %q", auth)
	}
	if r.body != `{"k":"v"}` {
		t.Errorf("payload %s", r.body)
	}
	if e.Status != 200 || string(e.Body) != `{"k":"v"}` || exitHeader(e, "X-Amz-Log-Result")[0] != "bG9n" {
		t.Errorf("answer %+v", e)
	}
}

func TestLambdaInvokeCredentialChain(t *testing.T) {
	f := newFakeAWS(t, okLambda)
	host, port := f.hostPort()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_SESSION_TOKEN", "envtoken")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	// aws_region from the environment, read when the kind is built.
	if _, err := runLambda(t, map[string]any{"function_name": "f", "host": host, "port": port, "disable_https": true},
		LambdaSettings{Getenv: func(k string) string {
			if k == "AWS_DEFAULT_REGION" {
				return "ap-south-1"
			}
			return ""
		}}); err != nil {
		t.Fatal(err)
	}
	r := f.last()
	if auth := r.header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDFROMENV/") || !strings.Contains(auth, "/ap-south-1/lambda/") {
		t.Errorf("Authorization %q", auth)
	}
	if tok := r.header.Get("X-Amz-Security-Token"); tok != "envtoken" {
		t.Errorf("session token %q", tok)
	}
}

func TestLambdaInvokeAssumeRole(t *testing.T) {
	stsSrv := newFakeAWS(t, func(w http.ResponseWriter, r *http.Request, body string) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>tempsecret</SecretAccessKey>
<SessionToken>temptoken</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/gw</Arn><AssumedRoleId>AROA:gw</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`)
	})
	f := newFakeAWS(t, okLambda)
	host, port := f.hostPort()
	cfg := map[string]any{"function_name": "f", "host": host, "port": port, "disable_https": true,
		"aws_region": "us-east-1", "aws_key": "AKIDBASE", "aws_secret": "base",
		"aws_assume_role_arn": "arn:aws:iam::123456789012:role/r", "aws_role_session_name": "gw",
		"aws_sts_endpoint_url": stsSrv.srv.URL}
	kind := testKind(LambdaSettings{})
	for i := 0; i < 2; i++ {
		if _, err := runLambdaWith(t, cfg, kind); err != nil {
			t.Fatal(err)
		}
	}
	sr := stsSrv.last()
	form, _ := url.ParseQuery(sr.body)
	if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != "arn:aws:iam::123456789012:role/r" || form.Get("RoleSessionName") != "gw" {
		t.Errorf("STS request %s", sr.body)
	}
	if !strings.Contains(sr.header.Get("Authorization"), "Credential=AKIDBASE/") {
		t.Errorf("AssumeRole not signed with the base key: %q", sr.header.Get("Authorization"))
	}
	if n := stsSrv.hits.Load(); n != 1 {
		t.Errorf("%d AssumeRole calls for two requests, want 1 (cached credentials)", n)
	}
	r := f.last()
	if !strings.Contains(r.header.Get("Authorization"), "Credential=ASIATEMP/") || r.header.Get("X-Amz-Security-Token") != "temptoken" {
		t.Errorf("Invoke not signed with the assumed role: %q", r.header.Get("Authorization"))
	}
}

func TestLambdaInvokeAPIErrorsNotRetried(t *testing.T) {
	cases := []struct {
		name, errHas string
		status       int
		typ          string
	}{
		{"throttling", "TooManyRequestsException", 429, "TooManyRequestsException"},
		{"service error", "ServiceException", 500, "ServiceException"},
		{"access denied", "AccessDenied", 403, "AccessDeniedException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAWS(t, func(w http.ResponseWriter, _ *http.Request, _ string) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-Errortype", tc.typ)
				w.WriteHeader(tc.status)
				io.WriteString(w, `{"Type":"User","message":"nope"}`)
			})
			host, port := f.hostPort()
			e, err := runLambda(t, map[string]any{"function_name": "f", "aws_region": "us-east-1", "aws_key": "k", "aws_secret": "s",
				"host": host, "port": port, "disable_https": true}, LambdaSettings{})
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || e != nil {
				t.Errorf("err %v, answer %+v", err, e)
			}
			if n := f.hits.Load(); n != 1 {
				t.Errorf("%d attempts, want 1 (Kong does not retry)", n)
			}
		})
	}
}

func TestLambdaInvokeProxyURL(t *testing.T) {
	f := newFakeAWS(t, okLambda)
	host, port := f.hostPort()
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		out, err := http.NewRequest(r.Method, r.URL.String(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	t.Cleanup(proxy.Close)
	e, err := runLambda(t, map[string]any{"function_name": "f", "aws_region": "us-east-1", "aws_key": "k", "aws_secret": "s",
		"host": host, "port": port, "disable_https": true, "proxy_url": proxy.URL}, LambdaSettings{})
	if err != nil || e.Status != 200 {
		t.Fatalf("err %v answer %+v", err, e)
	}
	if proxied.Load() != 1 {
		t.Errorf("%d requests through proxy_url, want 1", proxied.Load())
	}
}

// BenchmarkLambdaInvoke is one request through the plugin against a local
// endpoint: payload, SigV4, the HTTP round trip on a kept-alive connection
// and the answer.
func BenchmarkLambdaInvoke(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	v, errs := testKind(LambdaSettings{}).Validate(map[string]any{"function_name": "f", "aws_region": "us-east-1",
		"aws_key": "k", "aws_secret": "s", "host": u.Hostname(), "port": json.Number(u.Port()), "disable_https": true,
		"awsgateway_compatible": true}, nil)
	if len(errs) > 0 {
		b.Fatal(errs[0])
	}
	l := v.(*Lambda)
	b.ReportAllocs()
	for b.Loop() {
		ex := rieRequest("POST", "/orders?x=1", `{"item":"book"}`, "Content-Type", "application/json")
		if err := l.Run(lualib.PhaseAccess, ex, nil); err != nil {
			b.Fatal(err)
		}
	}
}
