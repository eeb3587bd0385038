package main

import (
	"fmt"
	"io"
	"runtime"

	"luagate/gateway"
)

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "luagate %s (Kong %s compatible, %s %s/%s)\n", gateway.Version, gateway.KongVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
