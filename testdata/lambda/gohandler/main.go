// Command gohandler is the Go Lambda function of the aws-lambda tests, run
// by the Lambda Runtime Interface Emulator. Its behaviour is chosen by the
// function name (AWS_LAMBDA_FUNCTION_NAME), so one binary serves several
// functions:
//
//   - echo: returns the event unchanged.
//   - proxy: returns the API-Gateway-proxy response named by the "shape"
//     argument (a top-level event field, or queryStringParameters.shape).
//   - fail: returns an error (a handled function error).
//   - panic: panics (the runtime crashes).
//   - sleep: sleeps "sleep_ms" milliseconds (same lookup as shape), then
//     returns {"slept": ms}; it ignores its deadline, so a sleep past the
//     function timeout ends in the emulator's "Task timed out".
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (any, error) {
		return handle(ctx, name, ev)
	})
}

func handle(ctx context.Context, name string, ev json.RawMessage) (any, error) {
	switch name {
	case "echo":
		return ev, nil
	case "proxy":
		return proxyShape(arg(ev, "shape"))
	case "fail":
		return nil, errors.New("function failed on purpose")
	case "panic":
		panic("function panicked on purpose")
	case "sleep":
		ms, _ := strconv.Atoi(arg(ev, "sleep_ms"))
		// The deadline is ignored on purpose: the Lambda timeout (RIE's)
		// must end a sleep that outlives the function timeout.
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return map[string]int{"slept": ms}, nil
	}
	return nil, fmt.Errorf("unknown function %q", name)
}

// arg reads a string argument from a legacy payload ({"k": "v"}) or from an
// API Gateway event's queryStringParameters.
func arg(ev json.RawMessage, key string) string {
	var m map[string]any
	if json.Unmarshal(ev, &m) != nil {
		return ""
	}
	if s, ok := m[key].(string); ok {
		return s
	}
	if q, ok := m["queryStringParameters"].(map[string]any); ok {
		if s, ok := q[key].(string); ok {
			return s
		}
	}
	return ""
}

func proxyShape(shape string) (any, error) {
	switch shape {
	case "ok", "":
		return map[string]any{
			"statusCode": 201,
			"headers":    map[string]any{"Content-Type": "text/plain", "X-Custom": "yes", "X-Number": 5},
			"body":       "hello from go",
		}, nil
	case "b64":
		return map[string]any{
			"statusCode":      200,
			"isBase64Encoded": true,
			"body":            base64.StdEncoding.EncodeToString([]byte("binary\x00data")),
		}, nil
	case "multi":
		return map[string]any{
			"statusCode":        200,
			"headers":           map[string]any{"X-Single": "one", "X-Multi": "overridden"},
			"multiValueHeaders": map[string]any{"X-Multi": []string{"a", "b"}},
			"body":              "multi",
		}, nil
	case "nullmulti":
		return map[string]any{"statusCode": 200, "multiValueHeaders": nil, "body": "ok"}, nil
	case "strstatus":
		return map[string]any{"statusCode": "202", "body": "accepted"}, nil
	case "nobody":
		return map[string]any{"statusCode": 204}, nil
	case "badstatus":
		return map[string]any{"statusCode": 700, "body": "x"}, nil
	case "badheaders":
		return map[string]any{"statusCode": 200, "headers": "x"}, nil
	case "badbody":
		return map[string]any{"statusCode": 200, "body": 123}, nil
	case "badb64flag":
		return map[string]any{"statusCode": 200, "body": "x", "isBase64Encoded": "yes"}, nil
	case "notjson":
		return "this is not json", nil
	case "number":
		return 42, nil
	case "jsonstring":
		return `{"statusCode":200,"body":"from a string"}`, nil
	case "emptyarrays":
		return map[string]any{"statusCode": 200, "headers": map[string]any{"Content-Type": "application/json"}, "body": `{"items":[]}`}, nil
	}
	return nil, fmt.Errorf("unknown shape %q", shape)
}
