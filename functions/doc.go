// Package functions holds no code: it is the home of the domain packages,
// one each (order, stock, payment, deadletter). A domain's operations are
// declared together in its handlers.go: the tables that map each operation
// to its handler, and the HTTP handlers themselves, thin (read the path,
// call the store, shape the answer), so that what the domain serves reads in
// one place. What differs between operations, their SQL, stays one file per
// operation, as a Store method; a saga step's Store method calls its ledger
// function.
//
// Stock and payment mirror each other on purpose: a forward step and its
// compensation (reserve/release, debit/refund), a ledger keyed by saga id,
// replies recomputed from it, and the same file layout. They share only
// plumbing that knows nothing of either (internal/, and functions/participant:
// a step's decode, apply, log and reply, and the retried call of a ledger
// function), because each domain owns its types, its database and its SQL
// functions, and may change them without the other: a common domain package
// would couple two databases' schemas and two Services' releases for the
// sake of a few lines. So their ledger rows, replies, SQL and tests stay
// alike but separate. Keep their signatures alike (Reserve and Debit take the
// checkout request, Release and Refund the compensate event) so that reading
// one explains the other.
package functions
