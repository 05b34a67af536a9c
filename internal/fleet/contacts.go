package fleet

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Contacts follows each known customer's contacts per journey across the
// fleet, for first-contact resolution: the last contact of a customer on
// a journey is one Redis key holding who handled it, expiring with the
// repeat window. A contact that finds the key there is a repeat of it.
type Contacts struct {
	client redis.UniversalClient
	queue  *queue[contactJob]
}

// Handler says who handled a contact: its backend, owner and vendor.
type Handler struct {
	Backend, Owner, Vendor string
}

type contactJob struct {
	journey, customerID string
	handler             Handler
	window              time.Duration
	repeat              func(previous Handler) // told when the contact repeats an earlier one
}

// NewContacts starts the contact writer.
func NewContacts(client redis.UniversalClient, logger *zap.Logger) *Contacts {
	c := &Contacts{client: client}
	c.queue = newQueue(1024, c.write, logFailure(logger, "contacts: contact not recorded",
		func(job contactJob) zap.Field { return zap.String("journey", job.journey) }))
	return c
}

func contactKey(journey, customerID string) string {
	return "frontdoor:contact:" + journey + ":" + customerID
}

// Record queues a customer's contact without blocking; repeat is called,
// from the writer's goroutine, if the customer's previous contact on the
// journey was within window. It reports false if the contact was dropped.
func (c *Contacts) Record(journey, customerID string, handler Handler, window time.Duration, repeat func(previous Handler)) bool {
	return c.queue.add(contactJob{journey: journey, customerID: customerID, handler: handler, window: window, repeat: repeat})
}

// contactSep separates the parts of a stored handler; config names cannot
// hold it.
const contactSep = "\x1f"

func (c *Contacts) write(job contactJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h := job.handler
	previous, err := c.client.SetArgs(ctx, contactKey(job.journey, job.customerID),
		h.Backend+contactSep+h.Owner+contactSep+h.Vendor, redis.SetArgs{Get: true, TTL: job.window}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil // the first contact in the window
	case err != nil:
		return err
	}
	parts := strings.SplitN(previous, contactSep, 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	job.repeat(Handler{Backend: parts[0], Owner: parts[1], Vendor: parts[2]})
	return nil
}

// Close stops accepting contacts and writes those already queued.
func (c *Contacts) Close() { c.queue.close() }
