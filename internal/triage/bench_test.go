package triage

import (
	"testing"

	"github.com/bannin-soc/bannin/internal/alert"
)

// BenchmarkScore measures the in-memory part of the judgement of one alert
// (the store's part is measured by `bannin bench ingest`).
func BenchmarkScore(b *testing.B) {
	a := &alert.Alert{Vendor: "crowdstrike", Score: 75, Techniques: []string{"T1003.001", "T1570"}, Tactics: []string{"TA0006"},
		Host: alert.Host{Name: "pc-1"}, Process: alert.Process{SHA256: "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1"}}
	f := facts{critical: true, spreadHosts: 2, prevalenceOK: true, prevHosts: 3, prevDays: 2}
	b.ReportAllocs()
	for b.Loop() {
		score(a, f)
	}
}

// BenchmarkFingerprint measures the dedup key of one alert.
func BenchmarkFingerprint(b *testing.B) {
	a := &alert.Alert{Vendor: "crowdstrike", Rule: "40404", Host: alert.Host{Name: "pc-1"},
		Process: alert.Process{SHA256: "61c0810a23580cf492a6ba4f7654566108331e7a4134c968c2d6a05261b2d8a1", CommandLine: "x.exe  -a -b"}}
	b.ReportAllocs()
	for b.Loop() {
		a.Fingerprint()
	}
}
