package main

import "github.com/spf13/cobra"

func newBench() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure whole-pipeline throughput and latency on this machine"}
	cmd.AddCommand(newBenchIngest(), newBenchLatency())
	return cmd
}
