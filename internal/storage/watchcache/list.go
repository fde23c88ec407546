package watchcache

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrBadContinue is returned for a continue token this cache did not issue.
var ErrBadContinue = errors.New("watchcache: continue token is not valid")

// ListRequest selects what a list returns.
type ListRequest struct {
	Predicate Predicate
	// Rev is the revision the list must be at least as new as (or exactly,
	// with Exact). Zero means any revision, or the latest with Consistent.
	Rev        int64
	Exact      bool
	Consistent bool
	// Limit caps the number of items; zero means no limit.
	Limit int64
	// Continue is a token from an earlier page of the same list.
	Continue string
}

// ListResult is one page of a list.
type ListResult struct {
	Items []*Object
	// Rev is the revision the list is consistent at.
	Rev int64
	// Continue is the token for the next page, empty on the last page.
	Continue string
}

// continueToken follows upstream's shape, so tokens look familiar in logs.
type continueToken struct {
	Version string `json:"v"`
	Rev     int64  `json:"rv"`
	Start   string `json:"start"`
}

func encodeContinue(rev int64, lastKey, prefix string) string {
	b, _ := json.Marshal(continueToken{Version: "meta.k8s.io/v1", Rev: rev, Start: strings.TrimPrefix(lastKey, prefix) + "\x00"})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(token, prefix string) (rev int64, after string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrBadContinue, err)
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil {
		return 0, "", fmt.Errorf("%w: %v", ErrBadContinue, err)
	}
	if t.Version != "meta.k8s.io/v1" || t.Rev <= 0 || !strings.HasSuffix(t.Start, "\x00") || strings.Contains(t.Start, "..") {
		return 0, "", ErrBadContinue
	}
	return t.Rev, prefix + strings.TrimSuffix(t.Start, "\x00"), nil
}

// List answers a list from memory whenever the cache can; only an exact
// revision that is not the cache's current one (including the pages of a list
// whose objects changed meanwhile) is read from etcd's history.
func (c *Cache) List(ctx context.Context, req ListRequest) (ListResult, error) {
	rev, after := req.Rev, ""
	exact := req.Exact
	if req.Continue != "" {
		var err error
		rev, after, err = decodeContinue(req.Continue, c.prefix)
		if err != nil {
			return ListResult{}, err
		}
		exact = true
	}
	switch {
	case exact && rev > 0:
		if rev != c.Revision() {
			return c.listFromStore(ctx, req, rev, after)
		}
	case req.Consistent:
		if _, err := c.WaitFresh(ctx); err != nil {
			return ListResult{}, err
		}
	case rev > 0:
		if err := c.WaitFor(ctx, rev); err != nil {
			return ListResult{}, err
		}
	default:
		select {
		case <-c.readyc:
		case <-ctx.Done():
			return ListResult{}, ctx.Err()
		}
	}
	items, cur := c.snapshot(req.Predicate, after)
	if exact && rev > 0 && cur != rev {
		// The cache moved on between the check and the snapshot.
		return c.listFromStore(ctx, req, rev, after)
	}
	res := ListResult{Items: items, Rev: cur}
	if req.Limit > 0 && int64(len(items)) > req.Limit {
		res.Items = items[:req.Limit]
		res.Continue = encodeContinue(cur, res.Items[len(res.Items)-1].Key, c.prefix)
	}
	return res, nil
}

func (c *Cache) listFromStore(ctx context.Context, req ListRequest, rev int64, after string) (ListResult, error) {
	res := ListResult{Rev: rev}
	from := ""
	if after != "" {
		from = after + "\x00"
	}
	chunk := int64(1000)
	if req.Limit > 0 && req.Limit < chunk {
		chunk = req.Limit + 1
	}
	for {
		kvs, _, more, err := c.src.List(ctx, c.prefix, from, rev, chunk)
		if err != nil {
			return ListResult{}, err
		}
		for _, kv := range kvs {
			o, err := c.decode(kv.Key, kv.Value, kv.ModRevision)
			if err != nil {
				return ListResult{}, fmt.Errorf("decode %q: %w", kv.Key, err)
			}
			if !req.Predicate.Matches(o) {
				continue
			}
			if req.Limit > 0 && int64(len(res.Items)) == req.Limit {
				res.Continue = encodeContinue(rev, res.Items[len(res.Items)-1].Key, c.prefix)
				return res, nil
			}
			res.Items = append(res.Items, o)
		}
		if !more || len(kvs) == 0 {
			return res, nil
		}
		from = kvs[len(kvs)-1].Key + "\x00"
	}
}

func sortObjects(objs []*Object) {
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
}
