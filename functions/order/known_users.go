package order

import (
	"context"
	"sync"
)

// KnownUsers remembers the users another Users has confirmed. Users are
// never deleted (batch_init overwrites, it does not remove), so a user seen
// once exists for good and orders/create need not ask payment again. An
// unknown user is asked about every time: it may be created any moment.
// Prices are never cached this way: batch_init re-prices items.
type KnownUsers struct {
	users Users
	limit int

	mu   sync.Mutex
	seen map[string]struct{}
}

// NewKnownUsers remembers up to limit users confirmed by users; past that it
// forgets them all and starts again, which bounds its memory.
func NewKnownUsers(users Users, limit int) *KnownUsers {
	return &KnownUsers{users: users, limit: limit, seen: map[string]struct{}{}}
}

// UserExists answers from memory when it can, else asks users.
func (k *KnownUsers) UserExists(ctx context.Context, userID string) (bool, error) {
	k.mu.Lock()
	_, ok := k.seen[userID]
	k.mu.Unlock()
	if ok {
		return true, nil
	}
	exists, err := k.users.UserExists(ctx, userID)
	if err != nil || !exists {
		return exists, err
	}
	k.mu.Lock()
	if len(k.seen) >= k.limit {
		k.seen = map[string]struct{}{}
	}
	k.seen[userID] = struct{}{}
	k.mu.Unlock()
	return true, nil
}
