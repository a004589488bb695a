package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Publishing errors; the ingress maps them to HTTP statuses.
var (
	// ErrUnavailable means no RabbitMQ connection could be had in time.
	ErrUnavailable = errors.New("rabbitmq unavailable")
	// ErrNotConfirmed means RabbitMQ nacked the message or the channel
	// closed before the confirm arrived: the message may or may not be stored.
	ErrNotConfirmed = errors.New("publish not confirmed")
)

// publisher publishes with publisher confirms over a small pool of channels.
// Confirms are pipelined per channel already; several channels add
// parallelism in RabbitMQ's channel processes and keep one slow or broken
// channel from stalling every publisher.
type publisher struct {
	link  *link
	slots []*confirmChannel
	next  atomic.Uint32
}

// confirmChannel is one channel in confirm mode, reopened lazily after it breaks.
type confirmChannel struct {
	mu sync.Mutex
	ch *amqp.Channel
}

func newPublisher(l *link, channels int) *publisher {
	p := &publisher{link: l, slots: make([]*confirmChannel, max(channels, 1))}
	for i := range p.slots {
		p.slots[i] = &confirmChannel{}
	}
	return p
}

// publish sends msg and returns once RabbitMQ confirmed it (for a persistent
// message on a quorum queue: once a majority wrote it to disk).
func (p *publisher) publish(ctx context.Context, exchange string, msg amqp.Publishing) error {
	slot := p.slots[int(p.next.Add(1))%len(p.slots)]
	dc, err := slot.send(ctx, p.link, exchange, msg)
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotConfirmed, err)
	}
	if !ok {
		return ErrNotConfirmed
	}
	return nil
}

func (c *confirmChannel) send(ctx context.Context, l *link, exchange string, msg amqp.Publishing) (*amqp.DeferredConfirmation, error) {
	if l.blocked.Load() {
		return nil, fmt.Errorf("%w: publishers blocked by a resource alarm", ErrUnavailable)
	}
	// Wait for a connection before taking the channel's lock: waiting under
	// the lock would keep other publishers past their own deadlines.
	conn, err := l.connection(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil || c.ch.IsClosed() {
		ch, err := conn.Channel()
		if err != nil {
			return nil, fmt.Errorf("%w: open channel: %w", ErrUnavailable, err)
		}
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return nil, fmt.Errorf("%w: confirm mode: %w", ErrUnavailable, err)
		}
		c.ch = ch
	}
	dc, err := c.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, "", false, false, msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return dc, nil
}

// close closes the pooled channels (the connection belongs to the link).
func (p *publisher) close() {
	for _, c := range p.slots {
		c.mu.Lock()
		if c.ch != nil {
			_ = c.ch.Close()
			c.ch = nil
		}
		c.mu.Unlock()
	}
}
