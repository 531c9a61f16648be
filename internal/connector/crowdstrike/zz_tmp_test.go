package crowdstrike

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/bannin-soc/bannin/internal/connector"
)

func TestTmpDump(t *testing.T) {
	for _, fn := range []string{"alert/test-alert.log", "falcon/test-falcon-epp-detection-summary.log", "falcon/test-data.log"} {
		b, _ := os.ReadFile("/work/shared/corpus/elastic-integrations/crowdstrike/" + fn)
		ps, err := connector.Split(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			as, err := Decoder{}.Decode(p)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := json.MarshalIndent(as, "", " ")
			t.Log(string(out))
		}
	}
}
