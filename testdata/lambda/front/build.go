package front

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Binaries are the programs the RIE tests need.
type Binaries struct {
	RIE       string // aws-lambda-rie, built from the tool line of go.mod
	GoHandler string // testdata/lambda/gohandler
	Node      string // node, from PATH
}

// Build builds RIE and the Go handler into dir (module root: the folder of
// go.mod) and finds node. An error names the missing prerequisite.
func Build(moduleRoot, dir string) (Binaries, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return Binaries{}, fmt.Errorf("go toolchain not found: %w", err)
	}
	b := Binaries{RIE: filepath.Join(dir, "aws-lambda-rie"), GoHandler: filepath.Join(dir, "gohandler")}
	for _, x := range [][2]string{
		{b.RIE, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
		{b.GoHandler, "./testdata/lambda/gohandler"},
	} {
		cmd := exec.Command(goBin, "build", "-o", x[0], x[1])
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %v\n%s", x[1], err, out)
		}
	}
	if b.Node, err = exec.LookPath("node"); err != nil {
		return b, fmt.Errorf("node not found: %w", err)
	}
	return b, nil
}

// StartNodeSeed starts the Node.js handler of issue 6
// (testdata/lambda/node/handler.js) under RIE as function name.
func StartNodeSeed(b Binaries, moduleRoot, name string, log *os.File) (*Instance, error) {
	o := InstanceOptions{
		RIE:          b.RIE,
		Command:      []string{b.Node, "testdata/lambda/node/bootstrap.js", "testdata/lambda/node/handler.handler"},
		Dir:          moduleRoot,
		FunctionName: name,
		Timeout:      3 * time.Second,
	}
	if log != nil {
		o.Log = log
	}
	return Start(o)
}
