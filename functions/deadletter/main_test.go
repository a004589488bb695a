package deadletter

import (
	"testing"

	"github.com/wdm-knative/webshop/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
