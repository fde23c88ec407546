package sim

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// spread hands out n nodes so that each comes due once per interval, evenly
// spaced, instead of all at once: 5,000 nodes at 10s become 500 renewals a
// second rather than a burst of 5,000.
type spread struct {
	n        int
	interval time.Duration
	start    time.Time // beginning of the current round
	sent     int       // nodes handed out in the current round
}

// due returns the indexes of the nodes that came due since the last call.
// A caller that fell behind by more than a round gets each node once.
func (s *spread) due(now time.Time) []int {
	if s.n == 0 {
		return nil
	}
	var out []int
	for {
		elapsed := now.Sub(s.start)
		if elapsed <= 0 {
			return out
		}
		want := s.n
		if elapsed < s.interval {
			// Node k of a round is due at (k+1)*interval/n.
			want = int(int64(elapsed) * int64(s.n) / int64(s.interval))
		}
		for ; s.sent < want; s.sent++ {
			out = append(out, s.sent)
		}
		if s.sent < s.n {
			return out
		}
		s.start = s.start.Add(s.interval)
		s.sent = 0
		if len(out) >= s.n {
			// Skip rounds missed entirely rather than renewing twice.
			for now.Sub(s.start) >= s.interval {
				s.start = s.start.Add(s.interval)
			}
			return out
		}
	}
}

// tickPeriod is how often the heartbeat loop looks for due nodes: often
// enough to spread the work, seldom enough not to spin.
func tickPeriod(interval time.Duration, n int) time.Duration {
	const lo, hi = 20 * time.Millisecond, time.Second
	if n < 1 {
		n = 1
	}
	d := interval / time.Duration(n)
	return min(max(d, lo), hi)
}

// heartbeat queues lease renewals and status reports for live nodes, spread
// over their intervals, until ctx ends.
func (s *Sim) heartbeat(ctx context.Context, ticker clock.Ticker, now time.Time) {
	leases := &spread{n: len(s.names), interval: s.cfg.HeartbeatInterval, start: now}
	statuses := &spread{n: len(s.names), interval: s.cfg.StatusInterval, start: now}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		now := s.clock.Now()
		s.queueDue(leases.due(now), renewLease)
		s.queueDue(statuses.due(now), reportStatus)
	}
}

func (s *Sim) queueDue(indexes []int, kind itemKind) {
	for _, i := range indexes {
		name := s.names[i]
		if _, ok := s.live(name); ok {
			s.queue.Add(item{kind: kind, key: name})
		}
	}
}
