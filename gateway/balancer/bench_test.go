package balancer

import (
	"fmt"
	"testing"

	"luagate/declarative"
)

func BenchmarkPick(b *testing.B) {
	for _, algo := range []string{RoundRobin, ConsistentHashing, LeastConnections, Latency} {
		for _, n := range []int{3, 30} {
			b.Run(fmt.Sprintf("%s/targets=%d", algo, n), func(b *testing.B) {
				var tgts []string
				for i := range n {
					tgts = append(tgts, fmt.Sprintf("10.0.%d.%d:80", i/200, i%200+1))
				}
				r := newReg(b, nil)
				u, ts := upstream("bench", func(u *declarative.Upstream) {
					u.Algorithm = algo
					if algo == ConsistentHashing {
						u.HashOn = "ip"
					}
				}, tgts...)
				bal := acquire(b, r, u, ts)
				in := &fakeInput{ip: "192.0.2.7"}
				b.ReportAllocs()
				for b.Loop() {
					var h Handle
					if _, err := bal.Pick(in, &h); err != nil {
						b.Fatal(err)
					}
					h.Done()
				}
			})
		}
	}
}
