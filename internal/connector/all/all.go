// Package all registers every vendor integration bannin ships; import it
// for its side effect.
package all

import (
	_ "github.com/bannin-soc/bannin/internal/connector/carbonblack" // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/crowdstrike" // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/cybereason"  // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/defender"    // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/mail"        // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/sentinelone" // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/sophos"      // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/syslog"      // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/trellixhx"   // registers the vendor
	_ "github.com/bannin-soc/bannin/internal/connector/withsecure"  // registers the vendor
)
