package stack

import (
	"net/url"
	"os"

	"github.com/wdm-knative/webshop/local/stackfile"
)

// writeEndpoints records where this stack's parts answer in its stack file.
func (s *Stack) writeEndpoints(l layout) error {
	dsn, err := url.Parse(s.DSN("postgres"))
	if err != nil {
		return err
	}
	if dsn.User != nil {
		dsn.User = url.User(dsn.User.Username())
	}
	e := stackfile.Endpoints{GatewayURL: s.gatewayURL, BrokerURL: l.brokerURL(),
		OrderDSN: s.DSN("order"), StockDSN: s.DSN("stock"), PaymentDSN: s.DSN("payment"),
		PostgresDSN: dsn.String(), AMQPURL: s.amqpURL,
		Metrics: map[string]string{Broker: l.brokerURL() + "metrics"}, PID: os.Getpid()}
	for _, p := range l.procs {
		e.Metrics[p.Name] = l.baseURL[p.Name] + "/metrics"
	}
	return stackfile.Write(s.opts.Dir, e)
}
