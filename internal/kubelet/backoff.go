package kubelet

import "time"

// backoff is an exponential back-off per key: each failure doubles the
// key's delay, from initial up to max. The kubelet keeps one for crash
// loops (keyed by container) and one for image pulls (keyed by image).
type backoff struct {
	initial, max time.Duration
	entries      map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	at    time.Time
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, entries: map[string]*backoffEntry{}}
}

// remaining is how long after now the key's delay, counted from since,
// still runs; zero when it is over or the key has none.
func (b *backoff) remaining(key string, since, now time.Time) time.Duration {
	e := b.entries[key]
	if e == nil {
		return 0
	}
	if end := since.Add(e.delay); now.Before(end) {
		return end.Sub(now)
	}
	return 0
}

// next records a failure at at and returns the key's new delay.
func (b *backoff) next(key string, at time.Time) time.Duration {
	e := b.entries[key]
	if e == nil {
		e = &backoffEntry{delay: b.initial}
		b.entries[key] = e
	} else {
		e.delay = min(2*e.delay, b.max)
	}
	e.at = at
	return e.delay
}

// delay is the key's current delay.
func (b *backoff) delay(key string) time.Duration {
	if e := b.entries[key]; e != nil {
		return e.delay
	}
	return 0
}

// last is when the key's last failure was recorded.
func (b *backoff) last(key string) time.Time {
	if e := b.entries[key]; e != nil {
		return e.at
	}
	return time.Time{}
}

func (b *backoff) reset(key string) {
	delete(b.entries, key)
}
