// Command echo-upstream is a tiny demo upstream for luagate: it answers every
// request with a JSON description of what it received (method, URI, headers,
// body), so the example kong.yml works on a machine with nothing else
// running. `make run` starts it next to the gateway.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

type echo struct {
	Method  string              `json:"method"`
	URI     string              `json:"uri"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
	Server  string              `json:"server"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	name := flag.String("name", "echo-upstream", "name reported in every answer (to tell several apart)")
	flag.Parse()
	srv := &http.Server{
		Addr:              *listen,
		Handler:           handler(*name),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("echo-upstream %q listening on %s", *name, *listen)
	if err := srv.ListenAndServe(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(echo{
			Method:  r.Method,
			URI:     r.RequestURI,
			Path:    r.URL.Path,
			Query:   r.URL.RawQuery,
			Host:    r.Host,
			Headers: r.Header,
			Body:    string(body),
			Server:  name,
		})
	})
}
