package functions

import (
	"container/list"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// lambdaClients is a bounded LRU of Lambda clients keyed by the
// client-related config fields (Kong's build_cache_key: timeout, keepalive,
// key, secret, role ARN, session name, STS URL, region, host, port,
// disable_https, proxy_url, IMDS version), so instances with the same
// endpoint and credentials share connections, across reloads too, and a
// rotated key gets a new client.
type lambdaClients struct {
	max int

	mu    sync.Mutex
	order *list.List // of *clientEntry, most recent first
	byKey map[string]*list.Element
}

type clientEntry struct {
	key    string
	client *lambda.Client
	close  func()
}

func newLambdaClients(max int) *lambdaClients {
	return &lambdaClients{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

// lambdaClientKey lists every field that shapes the client.
func lambdaClientKey(c *LambdaConfig, region string, verify bool) string {
	var b strings.Builder
	put := func(k, v string) {
		if v != "" {
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(strconv.Quote(v))
			b.WriteByte(';')
		}
	}
	put("timeout", c.timeoutMS)
	put("keepalive", c.keepaliveMS)
	if c.timeoutMS == "" { // built without the schema
		put("timeout_d", c.Timeout.String())
		put("keepalive_d", c.Keepalive.String())
	}
	put("aws_key", c.AWSKey)
	put("aws_secret", c.AWSSecret)
	put("aws_assume_role_arn", c.AssumeRoleARN)
	put("aws_role_session_name", c.RoleSessionName)
	put("aws_sts_endpoint_url", c.STSEndpointURL)
	put("aws_region", region)
	put("host", c.Host)
	put("port", strconv.Itoa(c.Port))
	put("disable_https", strconv.FormatBool(c.DisableHTTPS))
	put("proxy_url", c.ProxyURL)
	put("aws_imds_protocol_version", c.IMDSProtocol)
	put("tls_verify", strconv.FormatBool(verify))
	return b.String()
}

// get returns the cached client for the config, building it on a miss.
func (cc *lambdaClients) get(ctx context.Context, c *LambdaConfig, region string, verify bool) (*lambda.Client, error) {
	return cc.getKey(ctx, lambdaClientKey(c, region, verify), c, region, verify)
}

// getKey is get with the key already built (an instance computes it once).
func (cc *lambdaClients) getKey(ctx context.Context, key string, c *LambdaConfig, region string, verify bool) (*lambda.Client, error) {
	cc.mu.Lock()
	if e, ok := cc.byKey[key]; ok {
		cc.order.MoveToFront(e)
		cl := e.Value.(*clientEntry).client
		cc.mu.Unlock()
		return cl, nil
	}
	cc.mu.Unlock()

	// Built outside the lock (it may read shared config files); a racing
	// build for the same key keeps the first one stored.
	cl, closeFn, err := newLambdaClient(ctx, c, region, verify)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.byKey[key]; ok {
		closeFn()
		cc.order.MoveToFront(e)
		return e.Value.(*clientEntry).client, nil
	}
	cc.byKey[key] = cc.order.PushFront(&clientEntry{key: key, client: cl, close: closeFn})
	for cc.order.Len() > cc.max {
		last := cc.order.Back()
		ent := last.Value.(*clientEntry)
		cc.order.Remove(last)
		delete(cc.byKey, ent.key)
		// Requests holding the evicted client finish on it; only idle
		// connections are closed.
		ent.close()
	}
	return cl, nil
}

// len is the number of cached clients.
func (cc *lambdaClients) len() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.order.Len()
}

// lambdaEndpoint is {http|https}://{host or lambda.<region>.amazonaws.com}:{port}.
func lambdaEndpoint(c *LambdaConfig, region string) string {
	scheme := "https"
	if c.DisableHTTPS {
		scheme = "http"
	}
	host := c.Host
	if host == "" {
		host = "lambda." + region + ".amazonaws.com"
	}
	port := c.Port
	if port == 0 {
		port = 443
	}
	return scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// newLambdaClient builds a client: SigV4 with the config's static keys, else
// the SDK's default credential chain, optionally wrapped by STS AssumeRole;
// the endpoint from host/port/disable_https; one attempt (Kong does not
// retry); the timeout and keepalive on the HTTP client; proxy_url for every
// AWS call.
func newLambdaClient(ctx context.Context, c *LambdaConfig, region string, verify bool) (*lambda.Client, func(), error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	// A BuildableClient, because the SDK adds AWS_CA_BUNDLE's roots through
	// WithTransportOptions; idle connections of every transport it builds
	// are closed when the client leaves the cache.
	var (
		trMu sync.Mutex
		trs  []*http.Transport
	)
	var proxy func(*http.Request) (*url.URL, error)
	if c.ProxyURL != "" {
		pu, err := url.Parse(c.ProxyURL)
		if err != nil {
			return nil, nil, fmt.Errorf("proxy_url: %w", err)
		}
		proxy = http.ProxyURL(pu)
	}
	hc := awshttp.NewBuildableClient().
		WithTimeout(timeout).
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = timeout
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			// Kong: only proxy_url, never the environment's proxies.
			tr.Proxy = proxy
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.InsecureSkipVerify = !verify
			tr.TLSHandshakeTimeout = timeout
			tr.ResponseHeaderTimeout = timeout
			tr.IdleConnTimeout = c.Keepalive
			tr.DisableKeepAlives = c.Keepalive <= 0
			tr.MaxIdleConnsPerHost = 64
			trMu.Lock()
			trs = append(trs, tr)
			trMu.Unlock()
		})
	closeIdle := func() {
		trMu.Lock()
		defer trMu.Unlock()
		for _, tr := range trs {
			tr.CloseIdleConnections()
		}
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithHTTPClient(hc),
	}
	if c.AWSKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AWSKey, c.AWSSecret, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		closeIdle()
		return nil, nil, err
	}
	if c.AssumeRoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if c.STSEndpointURL != "" {
				o.BaseEndpoint = aws.String(c.STSEndpointURL)
			}
		})
		session := c.RoleSessionName
		if session == "" {
			session = lambdaDefaultSessionName
		}
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, c.AssumeRoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = session }))
	}
	endpoint := lambdaEndpoint(c, region)
	cl := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 1
	})
	return cl, closeIdle, nil
}
