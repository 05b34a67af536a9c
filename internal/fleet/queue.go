package fleet

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// queue writes jobs to Redis from one goroutine through a bounded buffer:
// adding a job never waits, and when Redis cannot keep up jobs are dropped
// and counted rather than piling up in memory. It is what keeps fleet
// writes (trail entries, contacts) off the request path.
type queue[T any] struct {
	write   func(T) error
	failure func(T, error) // logs a job Redis refused
	jobs    chan T
	dropped atomic.Uint64
	failed  atomic.Uint64
	written atomic.Uint64
	wg      sync.WaitGroup

	// mu guards the closing: a config's in-flight requests may still add
	// jobs while the Redis they used is being let go.
	mu     sync.RWMutex
	closed bool
}

func newQueue[T any](size int, write func(T) error, failure func(T, error)) *queue[T] {
	q := &queue[T]{write: write, failure: failure, jobs: make(chan T, size)}
	q.wg.Add(1)
	go q.run()
	return q
}

// add queues a job without waiting. It reports false when the job was
// dropped: the queue is full, or closed.
func (q *queue[T]) add(job T) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Add(1)
		return false
	}
	select {
	case q.jobs <- job:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

func (q *queue[T]) run() {
	defer q.wg.Done()
	for job := range q.jobs {
		if err := q.write(job); err != nil {
			q.failed.Add(1)
			q.failure(job, err)
			continue
		}
		q.written.Add(1)
	}
}

// close stops accepting jobs and writes those already queued.
func (q *queue[T]) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

func (q *queue[T]) stats() (written, dropped, failed uint64) {
	return q.written.Load(), q.dropped.Load(), q.failed.Load()
}

// logFailure is a queue's failure function that warns with one field.
func logFailure[T any](logger *zap.Logger, msg string, field func(T) zap.Field) func(T, error) {
	return func(job T, err error) { logger.Warn(msg, field(job), zap.Error(err)) }
}
