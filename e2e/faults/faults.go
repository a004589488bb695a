// Package faults is the fault the end-to-end tests inject into a running
// shop's payment database, as SQL, so that the local e2e (over pgx) and
// the cluster tests (psql in the Postgres pod) break and repair
// payment-debit the same way.
package faults

import "strings"

// BreakPayment makes payment-debit fail for the users in e2e_payment_down:
// its ledger refuses their debits with an error (the function answers 500,
// so the broker retries and then dead-letters the event), while refunds
// and tombstones still go through, as when one shard of a payment provider
// is down. The statements may run again on a database that has them.
var BreakPayment = []string{
	`CREATE TABLE IF NOT EXISTS e2e_payment_down (user_id text PRIMARY KEY)`,
	`CREATE OR REPLACE FUNCTION e2e_payment_down() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.state = 'debited' AND EXISTS (SELECT 1 FROM e2e_payment_down WHERE user_id = NEW.user_id) THEN
			RAISE EXCEPTION 'e2e: payment down for %', NEW.user_id;
		END IF;
		RETURN NEW;
	END $$`,
	`DROP TRIGGER IF EXISTS e2e_payment_down ON payment_ledger`,
	`CREATE TRIGGER e2e_payment_down BEFORE INSERT ON payment_ledger FOR EACH ROW EXECUTE FUNCTION e2e_payment_down()`,
}

// PaymentDown is the statement that breaks payment for user.
func PaymentDown(user string) string {
	return `INSERT INTO e2e_payment_down VALUES (` + literal(user) + `) ON CONFLICT DO NOTHING`
}

// PaymentUp is the statement that repairs payment for user.
func PaymentUp(user string) string {
	return `DELETE FROM e2e_payment_down WHERE user_id = ` + literal(user)
}

// literal quotes s as an SQL string literal (standard_conforming_strings
// is on, so only the quote is special).
func literal(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
