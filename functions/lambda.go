package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"luagate/declarative"
	"luagate/lualib"
)

// The aws-lambda plugin kind (spec 5).
const (
	AWSLambda         = "aws-lambda"
	AWSLambdaPriority = 750
)

// Defaults of LambdaSettings.
const (
	DefaultLambdaMaxClients     = 1000 // Kong's LRU size
	DefaultClientBodyBufferSize = 8 << 10
	lambdaNoRegion              = "no region specified"
	lambdaDefaultSessionName    = "kong"
)

// LambdaSettings are the node-wide settings of the aws-lambda kind.
type LambdaSettings struct {
	// ServerToken is the product token of the Via header ("luagate/0.1.0",
	// DECISIONS row 8); Via adds "Via: 2 <ServerToken>" to every Lambda
	// answer, as Kong does when its headers setting enables Via.
	ServerToken string
	Via         bool
	// ClientBodyBufferSize is nginx's client_body_buffer_size: a bigger body
	// counts as "buffered to disk" for skip_large_bodies (default 8 KiB).
	ClientBodyBufferSize int
	// TLSVerify verifies the Lambda (and STS) endpoint certificates. Kong
	// does not (ssl_verify=false), so the default is off.
	TLSVerify bool
	// MaxClients bounds the cache of Lambda clients (default 1000).
	MaxClients int
	// Getenv reads AWS_REGION / AWS_DEFAULT_REGION once, when the kind is
	// built (default os.Getenv).
	Getenv func(string) string
	Logger *slog.Logger
}

// UpstreamLatencyRecorder is implemented by an Exchange that records the
// time a plugin spent waiting for its own upstream (Kong's
// KONG_WAITING_TIME): aws-lambda reports the Invoke call through it, so that
// logs and metrics count it as proxy latency and not as gateway latency.
type UpstreamLatencyRecorder interface {
	SetUpstreamLatency(d time.Duration)
}

// LambdaObserver is implemented by an Exchange that records each Invoke
// (the gateway's metrics: luagate_lambda_invocation_*).
type LambdaObserver interface {
	ObserveLambda(function string, d time.Duration, err error)
}

// lambdaRuntime is what every aws-lambda instance of a kind shares, across
// snapshots: the settings and the client cache.
type lambdaRuntime struct {
	settings      LambdaSettings
	defaultRegion string
	via           string
	clients       *lambdaClients
}

// LambdaKinds returns the aws-lambda kind (priority 750). Its schema returns
// a *Lambda, the instance's runner; all instances of the kind share one
// bounded cache of Lambda clients, so keep the kind for the process's
// lifetime (the gateway's registry does) to reuse clients across reloads.
func LambdaKinds(s LambdaSettings) []declarative.PluginKind {
	return []declarative.PluginKind{{
		Name:     AWSLambda,
		Priority: AWSLambdaPriority,
		Schema:   lambdaSchema{rt: newLambdaRuntime(s)},
	}}
}

func newLambdaRuntime(s LambdaSettings) *lambdaRuntime {
	if s.ClientBodyBufferSize <= 0 {
		s.ClientBodyBufferSize = DefaultClientBodyBufferSize
	}
	if s.MaxClients <= 0 {
		s.MaxClients = DefaultLambdaMaxClients
	}
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	rt := &lambdaRuntime{settings: s, clients: newLambdaClients(s.MaxClients)}
	rt.defaultRegion = s.Getenv("AWS_REGION")
	if rt.defaultRegion == "" {
		rt.defaultRegion = s.Getenv("AWS_DEFAULT_REGION")
	}
	if s.Via && s.ServerToken != "" {
		// Kong always says "2 ": its $http2 test is truthy on HTTP/1 too.
		rt.via = "2 " + s.ServerToken
	}
	return rt
}

// Lambda is one aws-lambda plugin instance: it runs in access, invokes the
// function and answers the request with the result (ex.Exit), so the
// request never goes to a service.
type Lambda struct {
	Config LambdaConfig
	rt     *lambdaRuntime
	region string // aws_region, else the environment's ("" : none)
	key    string // client cache key
}

func newLambda(c LambdaConfig, rt *lambdaRuntime) *Lambda {
	l := &Lambda{Config: c, rt: rt, region: c.Region}
	if l.region == "" {
		l.region = rt.defaultRegion
	}
	l.key = lambdaClientKey(&l.Config, l.region, rt.settings.TLSVerify)
	return l
}

// Phases: aws-lambda runs in access only.
func (l *Lambda) Phases() lualib.Phase { return lualib.PhaseAccess }

// Run implements the gateway's runner contract (the lease is for Lua
// plugins and is ignored). It returns an error for what Kong answers with
// its generic 500 (no region, transport failures, timeouts, Lambda API
// errors such as an unknown function or throttling); the gateway logs it
// with the plugin, route and request id.
func (l *Lambda) Run(phase lualib.Phase, ex lualib.Exchange, _ **Lease) error {
	if phase != lualib.PhaseAccess {
		return nil
	}
	return l.Access(context.Background(), ex)
}

// Access invokes the function for the request and records the answer.
func (l *Lambda) Access(ctx context.Context, ex lualib.Exchange) error {
	start := time.Now()
	c := &l.Config
	if l.region == "" {
		return errors.New(lambdaNoRegion)
	}
	client, err := l.rt.clients.getKey(ctx, l.key, c, l.region, l.rt.settings.TLSVerify)
	if err != nil {
		return fmt.Errorf("creating the Lambda client: %w", err)
	}
	payload, perr := buildLambdaPayload(c, ex, l.rt.settings.ClientBodyBufferSize)
	if perr != nil {
		ex.Log(lualib.LevelErr, AWSLambda, "could not JSON encode upstream body to forward request values: "+perr.Error())
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(c.FunctionName),
		InvocationType: types.InvocationType(c.InvocationType),
		LogType:        types.LogType(c.LogType),
		Payload:        payload,
	}
	if c.Qualifier != "" {
		in.Qualifier = aws.String(c.Qualifier)
	}
	ictx, cancel := context.WithTimeout(ctx, c.Timeout)
	out, err := client.Invoke(ictx, in)
	cancel()
	took := time.Since(start)
	if rec, ok := ex.(UpstreamLatencyRecorder); ok {
		rec.SetUpstreamLatency(took)
	}
	if o, ok := ex.(LambdaObserver); ok {
		o.ObserveLambda(c.FunctionName, took, err)
	}
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("invoking Lambda function '%s': timeout after %v: %w", c.FunctionName, c.Timeout, err)
		}
		return fmt.Errorf("invoking Lambda function '%s': %w", c.FunctionName, err)
	}
	raw, _ := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	status := int(out.StatusCode)
	var hdr map[string][]string
	if raw != nil {
		status, hdr = raw.StatusCode, raw.Header
	}
	ans, err := lambdaAnswer(c, l.rt.via, status, hdr, out.Payload)
	if err != nil {
		return err
	}
	if ans.logErr != "" {
		ex.Log(lualib.LevelErr, AWSLambda, ans.logErr)
	}
	ex.Exit(ans.status, ans.body, ans.headers, lualib.SourceExit)
	return nil
}

var (
	_ declarative.PluginSchema = lambdaSchema{}
	_ interface {
		Phases() lualib.Phase
		Run(lualib.Phase, lualib.Exchange, **Lease) error
	} = (*Lambda)(nil)
)
