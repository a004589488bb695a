package knative

import "github.com/wdm-knative/webshop/internal/operation"

// Tier groups operations that scale alike.
type Tier string

// The tiers. Overlays raise min-scale per tier.
const (
	// TierCheckout is the synchronous checkout path: every checkout crosses
	// order-checkout, stock-reserve, payment-debit and saga-step in sequence.
	TierCheckout Tier = "checkout"
	// TierCompensation undoes a failed checkout; the failed caller waits for it.
	TierCompensation Tier = "compensation"
	// TierAPI is the rest of the public API: short single-row reads and writes.
	TierAPI Tier = "api"
	// TierBatch runs rarely: batch_init before a benchmark, the saga sweep once a minute.
	TierBatch Tier = "batch"
	// TierBackground is an event operation off the checkout path that no
	// caller waits for (say, a dead-letter sink): it scales to zero in every
	// overlay, since the broker's queue holds its events through a cold start.
	TierBackground Tier = "background"
)

// Scaling is how Knative Serving runs one operation's Service.
type Scaling struct {
	Tier Tier
	// MinScale 0 lets the Service scale to zero when idle.
	MinScale int
	// MaxScale bounds the instances, and so the Postgres connections the
	// operation can hold (instances x pool size) within max_connections.
	MaxScale int
	// Target is the KPA concurrency target: in-flight requests per instance
	// before the autoscaler adds one.
	Target int
	// TimeoutSeconds is the longest a request may take.
	TimeoutSeconds int
	// DBConns sizes the instance's Postgres pool (DB_MAX_CONNS). With
	// MaxScale it bounds the operation's share of max_connections (a test
	// checks each database's budget).
	DBConns int
	// Why is written as a comment above the Service.
	Why string
}

// scalingByOperation holds the operations that do not scale like the default
// of their kind (see ScalingFor). A test checks every key is an operation.
var scalingByOperation = map[string]Scaling{
	operation.OrderCheckout: {Tier: TierCheckout, MinScale: 1, MaxScale: 10, Target: 200, TimeoutSeconds: 120, DBConns: 8,
		Why: "the checkout answers only when its saga is decided, so a request mostly waits on a NOTIFY " +
			"(no DB connection held): a high concurrency target. One warm instance because a checkout " +
			"crosses four Services in sequence and each cold start (pod start + Go start + DB pool) would add seconds to it."},
	operation.StockReserve: firstCheckoutHop,
	operation.PaymentDebit: firstCheckoutHop,
	operation.SagaStep: {Tier: TierCheckout, MinScale: 1, MaxScale: 10, Target: 50, TimeoutSeconds: 30, DBConns: 8,
		Why: "takes every stock/payment reply and decides the saga; kept warm because the waiting checkout needs it."},
	operation.StockRelease: {Tier: TierCompensation, MinScale: 0, MaxScale: 5, Target: 50, TimeoutSeconds: 30, DBConns: 4,
		Why: "compensation after a failed checkout: rarer than the happy path, so it may scale to zero here " +
			"(the broker's queue holds the event through a cold start); the gke overlay keeps one warm because " +
			"the failed checkout's 400 waits for it."},
	operation.PaymentRefund: {Tier: TierCompensation, MinScale: 0, MaxScale: 5, Target: 50, TimeoutSeconds: 30, DBConns: 4,
		Why: "compensation after a failed checkout; scales to zero here, see stock-release."},
	// Timeouts stay within Knative's default max-revision-timeout-seconds (600).
	operation.SagaSweep: {Tier: TierBackground, MinScale: 1, MaxScale: 1, Target: 1, TimeoutSeconds: 300, DBConns: 2,
		Why: "runs the saga's re-drive ticker in-process (SAGA_SWEEP_INTERVAL, 2 s), so it stays warm: a lost reply is re-driven well before SAGA_DEADLINE; the PingSource is only the backstop; one sweeper is enough (sweeps may overlap safely)."},
	operation.DeadLetter: {Tier: TierBatch, MinScale: 0, MaxScale: 1, Target: 10, TimeoutSeconds: 60, DBConns: 2,
		Why: "every Trigger's deadLetterSink: failed events are rare and the broker holds them through a cold start; " +
			"a Service of its own so that storing them never competes with the checkout path."},
	operation.StockBatchInit:   batchInit,
	operation.PaymentBatchInit: batchInit,
	operation.OrderBatchInit:   batchInit,
}

// firstCheckoutHop is the scaling of stock-reserve and payment-debit, which
// checkout.requested reaches at once.
var firstCheckoutHop = Scaling{Tier: TierCheckout, MinScale: 1, MaxScale: 10, Target: 50, TimeoutSeconds: 30, DBConns: 8,
	Why: "first hop of every checkout (checkout.requested); kept warm for the same reason as order-checkout."}

// batchInit is the scaling of each domain's batch_init.
var batchInit = Scaling{Tier: TierBatch, MinScale: 0, MaxScale: 1, Target: 10, TimeoutSeconds: 300, DBConns: 4,
	Why: "called once before a benchmark; long-running bulk write, one instance, scale to zero afterwards."}

// defaultAPIScaling is every public API operation not listed above.
var defaultAPIScaling = Scaling{Tier: TierAPI, MinScale: 0, MaxScale: 5, Target: 50, TimeoutSeconds: 30, DBConns: 4,
	Why: "short single-row read or write holding one pooled DB connection for milliseconds; " +
		"scales to zero here, the gke overlay keeps one warm for benchmarks."}

// defaultEventScaling is every event operation not listed above.
var defaultEventScaling = Scaling{Tier: TierBackground, MinScale: 0, MaxScale: 2, Target: 50, TimeoutSeconds: 30, DBConns: 2,
	Why: "an event operation no caller waits for; scales to zero, the broker's queue holds its events through a cold start."}

// ScalingFor returns how an operation's Service scales.
func ScalingFor(op operation.Operation) Scaling {
	if s, ok := scalingByOperation[op.Name]; ok {
		return s
	}
	if op.Event() {
		return defaultEventScaling
	}
	return defaultAPIScaling
}
