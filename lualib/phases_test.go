package lualib_test

import (
	"testing"

	"luagate/lualib"
	"luagate/lualib/lualibtest"
)

const (
	msgREQ      = "rewrite, access, balancer, response, cluster_listener, header_filter, body_filter, log, error, admin_api"
	msgBefore   = "rewrite, access, response, error, admin_api"
	msgRespGet  = "response, header_filter, body_filter, log, error, admin_api"
	msgRespSet  = "rewrite, access, balancer, response, header_filter, error, admin_api"
	msgSvcRWBL  = "rewrite, access, balancer"
	msgSvcRW    = "rewrite, access"
	msgSvcResp  = "response, header_filter, body_filter, log"
	msgAuthLate = "access, response, header_filter, body_filter, log"
	msgCTX      = "rewrite, access, response, header_filter, body_filter, log"
)

// TestPhaseChecks calls each PDK function once in a phase where it is
// allowed (it must not raise a phase error) and once where it is refused
// (exact message, at the caller's line).
func TestPhaseChecks(t *testing.T) {
	A, HF, BF, LG, RW, IW := lualib.PhaseAccess, lualib.PhaseHeaderFilter, lualib.PhaseBodyFilter, lualib.PhaseLog, lualib.PhaseRewrite, lualib.PhaseInitWorker
	cases := []struct {
		call    string
		ok, bad lualib.Phase
		list    string // "" means the NOT_IW wording
	}{
		{"kong.request.get_scheme()", A, IW, msgREQ},
		{"kong.request.get_host()", LG, IW, msgREQ},
		{"kong.request.get_port()", A, IW, ""},
		{"kong.request.get_method()", HF, IW, msgREQ},
		{"kong.request.get_path()", A, IW, msgREQ},
		{"kong.request.get_raw_path()", A, IW, msgREQ},
		{"kong.request.get_path_with_query()", A, IW, msgREQ},
		{"kong.request.get_raw_query()", A, IW, msgREQ},
		{"kong.request.get_query_arg('a')", A, IW, msgREQ},
		{"kong.request.get_query()", A, IW, msgREQ},
		{"kong.request.get_header('a')", A, IW, msgREQ},
		{"kong.request.get_headers()", A, IW, msgREQ},
		{"kong.request.get_raw_body()", A, HF, msgBefore},
		{"kong.request.get_body('application/json')", RW, LG, msgBefore},
		{"kong.request.get_start_time()", A, IW, msgREQ},
		{"kong.request.get_uri_captures()", A, IW, msgREQ},
		{"kong.request.get_forwarded_host()", A, IW, msgREQ},
		{"kong.request.get_http_version()", A, IW, msgREQ},
		{"kong.response.get_status()", HF, A, msgRespGet},
		{"kong.response.get_header('a')", LG, RW, msgRespGet},
		{"kong.response.get_headers()", BF, A, msgRespGet},
		{"kong.response.get_source()", HF, A, msgRespGet},
		{"kong.response.set_status(200)", A, BF, msgRespSet},
		{"kong.response.set_header('a', 'b')", HF, LG, msgRespSet},
		{"kong.response.add_header('a', 'b')", A, BF, msgRespSet},
		{"kong.response.clear_header('a')", A, LG, msgRespSet},
		{"kong.response.set_headers({})", A, LG, msgRespSet},
		{"kong.response.get_raw_body()", BF, HF, "body_filter"},
		{"kong.response.set_raw_body('x')", BF, A, "body_filter"},
		{"kong.response.exit(200)", A, LG, msgRespSet},
		{"kong.response.error(500)", A, BF, msgRespSet},
		{"kong.service.request.enable_buffering()", A, HF, msgSvcRWBL},
		{"kong.service.request.set_scheme('http')", RW, HF, msgSvcRWBL},
		{"kong.service.request.set_path('/')", A, LG, msgSvcRWBL},
		{"kong.service.request.set_raw_query('')", A, HF, msgSvcRW},
		{"kong.service.request.set_method('GET')", A, HF, msgSvcRW},
		{"kong.service.request.set_query({})", A, HF, msgSvcRW},
		{"kong.service.request.clear_query_arg('a')", A, HF, msgSvcRW},
		{"kong.service.request.set_header('a', 'b')", A, HF, msgSvcRWBL},
		{"kong.service.request.add_header('a', 'b')", A, HF, msgSvcRW},
		{"kong.service.request.clear_header('a')", A, HF, msgSvcRW},
		{"kong.service.request.set_headers({})", A, HF, msgSvcRW},
		{"kong.service.request.set_raw_body('')", A, HF, msgSvcRWBL},
		{"kong.service.request.set_body({}, 'application/json')", A, HF, msgSvcRW},
		{"kong.service.response.get_status()", HF, A, msgSvcResp},
		{"kong.service.response.get_headers()", LG, A, msgSvcResp},
		{"kong.service.response.get_header('a')", BF, RW, msgSvcResp},
		{"kong.service.set_target('h', 80)", A, RW, "access"},
		{"kong.service.set_upstream('u')", A, HF, "access"},
		{"kong.service.set_retries(1)", A, HF, "access"},
		{"kong.service.set_timeouts(1, 1, 1)", A, HF, "access"},
		{"kong.client.get_ip()", LG, IW, ""},
		{"kong.client.get_forwarded_ip()", A, IW, ""},
		{"kong.client.get_port()", A, IW, ""},
		{"kong.client.get_forwarded_port()", A, IW, ""},
		{"kong.client.get_consumer()", LG, RW, msgAuthLate},
		{"kong.client.get_credential()", A, RW, msgAuthLate},
		{"kong.client.authenticate({})", A, HF, "access"},
		{"kong.client.load_consumer('x', true)", A, RW, msgAuthLate},
		{"kong.client.get_protocol()", A, RW, msgAuthLate},
		{"kong.log.serialize()", LG, A, "log"},
		{"kong.log.set_serialize_value('a', 1)", A, IW, msgCTX},
		{"kong.router.get_route()", A, IW, msgREQ},
		{"kong.router.get_service()", A, IW, msgREQ},
	}
	for _, tc := range cases {
		t.Run(tc.call, func(t *testing.T) {
			ex := lualibtest.New()
			ex.Buffering = true
			L := newTestState(t, ex, tc.ok)
			if err := run(L, "t", "local _ = "+tc.call); err != nil && !lualib.IsExit(err) {
				t.Errorf("in %s: unexpected error %s", tc.ok, errText(err))
			}
			lualib.Unbind(L)
			lualib.Bind(L, lualibtest.New())
			lualib.SetPhase(L, tc.bad)
			err := run(L, "t", "\nlocal _ = "+tc.call)
			want := `[string "t"]:2: function cannot be called in ` + tc.bad.String() + " phase (only in: " + tc.list + ")"
			if tc.list == "" {
				want = `[string "t"]:2: function cannot be called in init_worker phase (can be called in any phases except: init_worker)`
			}
			if got := errText(err); got != want {
				t.Errorf("in %s:\n got  %s\n want %s", tc.bad, got, want)
			}
		})
	}
}

// TestUnboundIsInitWorker: without a bound request the PDK behaves as in
// init_worker, so request functions are refused rather than crashing.
func TestUnboundIsInitWorker(t *testing.T) {
	L := newTestState(t, nil, 0)
	err := run(L, "t", "kong.request.get_header('a')")
	want := `[string "t"]:1: function cannot be called in init_worker phase (only in: ` + msgREQ + ")"
	if got := errText(err); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if err := run(L, "t", "assert_eq(kong.ctx.shared, nil); assert_eq(ngx.ctx, nil); kong.log.err('no request')"); err != nil {
		t.Errorf("unbound ctx/log: %s", errText(err))
	}
}
