package knative

import (
	"fmt"
	"strconv"

	"github.com/wdm-knative/webshop/internal/operation"
)

// EnvVar is one plain or secret-backed environment variable of a Service.
type EnvVar struct {
	Name, Value       string
	Secret, SecretKey string
}

// Env lists the environment of an operation's container. K_SINK is not here:
// the SinkBinding injects it from the Broker's address.
func Env(op operation.Operation) []EnvVar {
	env := []EnvVar{
		{Name: "FUNCTION", Value: op.Name},
		{Name: "LOG_LEVEL", Value: "info"},
		// All interfaces, not loopback: Knative's queue-proxy reaches the
		// container on localhost, but the kubelet's liveness probe and the
		// Prometheus scrape come to the pod IP.
		{Name: "LISTEN_ADDRESS", Value: fmt.Sprintf(":%d", ContainerPort)},
	}
	// Every domain keeps its state in one of the databases.
	env = append(env,
		EnvVar{Name: DSNVariable(op.Domain), Secret: AppSecret(DatabaseCluster(op.Domain)), SecretKey: "uri"},
		EnvVar{Name: "DB_MAX_CONNS", Value: strconv.Itoa(ScalingFor(op).DBConns)},
	)
	if op.Domain == operation.Order {
		// The order operations read prices and users over HTTP from the owning domain.
		env = append(env,
			EnvVar{Name: "STOCK_URL", Value: InternalURL(operation.StockFind)},
			EnvVar{Name: "PAYMENT_URL", Value: InternalURL(operation.PaymentFindUser)},
		)
	}
	return env
}
