package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// The scripted curl walk through every endpoint of API.md passes against the
// running stack (the same script works against `make up`).
func TestAPIWalkWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed for the API walk (apt-get install curl)")
	}
	cmd := exec.Command("bash", "../scripts/api-walk.sh", shop.GatewayURL())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("api walk failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), " passed, 0 failed") {
		t.Fatalf("api walk printed no summary:\n%s", out)
	}
}
