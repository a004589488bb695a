package payment

import (
	"context"
	"fmt"
)

// Paid reports whether the user's payment of the order stands. An unknown
// user is ErrUserNotFound; a known user who never paid the order is false.
func (s *Store) Paid(ctx context.Context, userID, orderID string) (bool, error) {
	var exists, paid bool
	err := s.db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM users WHERE id = $1),
		       EXISTS (SELECT 1 FROM order_payments WHERE user_id = $1 AND order_id = $2 AND state = 'paid')`,
		userID, orderID).Scan(&exists, &paid)
	if err != nil {
		return false, fmt.Errorf("payment status of %q: %w", orderID, err)
	}
	if !exists {
		return false, fmt.Errorf("payment status of %q: %w", orderID, ErrUserNotFound)
	}
	return paid, nil
}
