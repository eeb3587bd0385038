package balancer

import "luagate/declarative"

// hashBytes is FNV-1a (32 bit) with a final avalanche, so that nearby
// strings ("10.0.0.1:80 1", "10.0.0.1:80 2") land far apart.
func hashBytes(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return mix32(h)
}

func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return mix32(h)
}

// mix32 is murmur3's fmix32.
func mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// hashInput is the value a consistent-hashing upstream hashes (Kong's
// get_value_to_hash): hash_on, then hash_fallback when the first gives
// nothing, else "". A cookie that is absent is created (a new UUID) and
// must be set on the response.
func (b *Balancer) hashInput(in Input, h *Handle) string {
	for _, src := range [2]HashSource{b.spec.HashOn, b.spec.Fallback} {
		if src.Kind == "none" || in == nil {
			return ""
		}
		if v, ok := hashValueOf(src, in); ok {
			return v
		}
		if src.Kind == "cookie" {
			id := newUUID()
			h.SetCookie = src.Param + "=" + id + "; Path=" + src.Path + "; Same-Site=Lax; HttpOnly"
			return id
		}
	}
	return ""
}

func hashValueOf(src HashSource, in Input) (string, bool) {
	switch src.Kind {
	case "consumer":
		v := in.ConsumerID()
		return v, v != ""
	case "ip":
		v := in.ClientIP()
		return v, v != ""
	case "header":
		return in.Header(src.Param)
	case "cookie":
		return in.Cookie(src.Param)
	case "path":
		return in.Path(), true
	case "query_arg":
		return in.QueryArg(src.Param)
	case "uri_capture":
		return in.URICapture(src.Param)
	}
	return "", false
}

func newUUID() string { return declarative.NewUUID() }
