package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/bannin-soc/bannin/internal/connector"
)

func newSim() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "sim VENDOR [--listen ADDR]",
		Short: "Run a vendor API simulator alone (for trying connectors and scripts)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := connector.Lookup(args[0])
			if err != nil {
				return err
			}
			if v.NewSimulator == nil {
				return fmt.Errorf("vendor %s has no simulator", v.Name)
			}
			sim := v.NewSimulator()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
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
	return cmd
}
