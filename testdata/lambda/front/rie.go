// Package front runs real AWS Lambda functions locally for tests: each
// function instance is a Lambda Runtime Interface Emulator (RIE) process
// (no docker), and Front is an http.Handler serving the Lambda Invoke API
// for any number of function names on top of them. See
// shared/spec/lambda-local.md for the behaviour it relies on.
package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// InstanceOptions describes one RIE process (one execution environment of
// one function).
type InstanceOptions struct {
	RIE          string        // path of the aws-lambda-rie binary
	Command      []string      // the runtime's bootstrap command (RIE runs it; the last word is the handler)
	Dir          string        // working directory of RIE and the runtime
	FunctionName string        // AWS_LAMBDA_FUNCTION_NAME (default "function")
	Timeout      time.Duration // AWS_LAMBDA_FUNCTION_TIMEOUT, rounded up to whole seconds (default 3s)
	Env          []string      // extra environment (the function sees RIE's whole environment)
	Log          io.Writer     // RIE and runtime output (nil: discarded)
}

// Instance is one running RIE process.
type Instance struct {
	Name   string // function name
	Addr   string // Invoke API address, 127.0.0.1:port
	cmd    *exec.Cmd
	waited chan error
}

// Start launches RIE on two free loopback ports and waits until its Invoke
// API listens. The runtime itself starts lazily on the first invoke.
func Start(o InstanceOptions) (*Instance, error) {
	if o.RIE == "" || len(o.Command) == 0 {
		return nil, errors.New("front: InstanceOptions needs RIE and Command")
	}
	if o.FunctionName == "" {
		o.FunctionName = "function"
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	invoke, err := freePort()
	if err != nil {
		return nil, err
	}
	runtimeAPI, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--runtime-interface-emulator-address", invoke,
		"--runtime-api-address", runtimeAPI,
		"--log-level", "error",
	}, o.Command...)
	cmd := exec.Command(o.RIE, args...)
	cmd.Dir = o.Dir
	secs := int((o.Timeout + time.Second - 1) / time.Second)
	cmd.Env = append(environ(),
		"AWS_LAMBDA_FUNCTION_NAME="+o.FunctionName,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(secs),
	)
	cmd.Env = append(cmd.Env, o.Env...)
	if o.Log != nil {
		cmd.Stdout, cmd.Stderr = o.Log, o.Log
	}
	// An orphaned runtime may hold the output pipe open after RIE exits.
	cmd.WaitDelay = 2 * time.Second
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("front: starting %s: %w", o.RIE, err)
	}
	in := &Instance{Name: o.FunctionName, Addr: invoke, cmd: cmd, waited: make(chan error, 1)}
	go func() { in.waited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invoke, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return in, nil
		}
		select {
		case werr := <-in.waited:
			return nil, fmt.Errorf("front: RIE for %s exited before listening: %v", o.FunctionName, werr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.Stop()
			return nil, fmt.Errorf("front: RIE for %s not listening on %s after 10s", o.FunctionName, invoke)
		}
	}
}

// Stop terminates RIE (SIGTERM, then SIGKILL after 3s). RIE kills its
// runtime, which lives in its own process group.
func (in *Instance) Stop() error {
	if in == nil || in.cmd.Process == nil {
		return nil
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.waited:
	case <-time.After(3 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.waited
	}
	return nil
}

// environ is this process's environment without the variables that change
// RIE's mode (AWS_LAMBDA_MAX_CONCURRENCY switches it to "managed instances",
// which ignores the bootstrap argument) or that the test sets itself.
func environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_LAMBDA_MAX_CONCURRENCY", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_TIMEOUT",
			"AWS_LAMBDA_RUNTIME_API", "_HANDLER":
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("front: no free loopback port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// WaitContext is a helper for callers that bound their wait on the Front.
func WaitContext(ctx context.Context, f *Front) error {
	done := make(chan struct{})
	go func() { f.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
