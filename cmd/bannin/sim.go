package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/connector"
)

func newSim() *cobra.Command {
	var listen, inject string
	cmd := &cobra.Command{
		Use:   "sim VENDOR [--listen ADDR] [--inject FILE]",
		Short: "Run a vendor API simulator alone (for trying connectors and scripts)",
		Long: `Serves the vendor's documented API (auth, paging, containment) on --listen,
plus a small control API for scripts:
  POST /_sim/alerts                 inject alerts (one object, a JSON array or NDJSON)
  POST /_sim/devices?id=ID&name=N   make an endpoint known to the console
  POST /_sim/fail?n=N&status=CODE   answer the next N API calls with CODE (429 carries Retry-After)
  GET  /_sim/calls                  containment calls received, per idempotency key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := connector.Lookup(args[0])
			if err != nil {
				return err
			}
			if v.NewSimulator == nil {
				return fmt.Errorf("vendor %s has no simulator", v.Name)
			}
			sim := v.NewSimulator()
			if inject != "" {
				n, err := injectFile(sim, inject)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "injected %d alerts from %s\n", n, inject)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: simControl(sim), ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(ln)
			id, secret := sim.Credentials()
			fmt.Fprintf(cmd.OutOrStdout(), "%s simulator on http://%s (client_id %s, client_secret %s)\n", v.Name, ln.Addr(), id, secret)
			if d, ok := sim.(interface{ Describe() string }); ok {
				fmt.Fprintln(cmd.OutOrStdout(), d.Describe())
			}
			<-cmd.Context().Done()
			return srv.Close()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9001", "listen address")
	cmd.Flags().StringVar(&inject, "inject", "", "alerts to serve from the start (one object, a JSON array or NDJSON)")
	return cmd
}

func injectFile(sim connector.Simulator, path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	ps, err := connector.Split(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return len(ps), sim.Inject(ps...)
}

// simControl serves the simulator's API and its control API for scripts.
func simControl(sim connector.Simulator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", sim)
	mux.HandleFunc("POST /_sim/alerts", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		if err == nil {
			var ps [][]byte
			if ps, err = connector.Split(b); err == nil {
				if err = sim.Inject(ps...); err == nil {
					fmt.Fprintf(w, "{\"injected\":%d}\n", len(ps))
					return
				}
			}
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
	})
	mux.HandleFunc("POST /_sim/devices", func(w http.ResponseWriter, r *http.Request) {
		id, name := r.URL.Query().Get("id"), r.URL.Query().Get("name")
		if id == "" {
			http.Error(w, "id is required", http.StatusBadRequest)
			return
		}
		sim.AddDevice(id, name)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/fail", func(w http.ResponseWriter, r *http.Request) {
		n, err1 := strconv.Atoi(r.URL.Query().Get("n"))
		status, err2 := strconv.Atoi(r.URL.Query().Get("status"))
		if err1 != nil || err2 != nil || n < 0 || status < 400 || status > 599 {
			http.Error(w, "want n=N&status=4xx|5xx", http.StatusBadRequest)
			return
		}
		sim.FailNext(n, status)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(sim.Calls())
	})
	return mux
}
