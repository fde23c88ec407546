package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/storage/watchcache"
)

// Store serves one resource: reads from its watch cache, writes to etcd.
type Store struct {
	res    *Resource
	prefix string
	kv     *storage.Store
	cache  *watchcache.Cache
	codec  codec
	ns     namespaceChecker
	hooks  hooks
	now    func() time.Time
	// view is set when the store serves another version of a base store's
	// objects.
	view *view
}

// namespaceChecker answers whether objects may be created in a namespace.
type namespaceChecker interface {
	checkNamespace(ctx context.Context, name string, gr schema.GroupResource, objName string, fresh bool) (storage.Guard, error)
}

// Resource describes what the store serves.
func (s *Store) Resource() *Resource { return s.res }

// Cache is the store's watch cache.
func (s *Store) Cache() *watchcache.Cache { return s.cache }

// Encode returns the wire form of an object of this resource.
func (s *Store) Encode(obj runtime.Object) ([]byte, error) { return s.codec.Encode(obj) }

func (s *Store) key(ns, name string) string {
	if s.res.Namespaced {
		return s.prefix + ns + "/" + name
	}
	return s.prefix + name
}

// Get returns an object. An empty resourceVersion reads etcd (a consistent
// read); any other is served from the cache once it is at least that new.
func (s *Store) Get(ctx context.Context, ns, name, resourceVersion string) (*watchcache.Object, error) {
	gr := s.res.GroupResource()
	if s.view != nil {
		o, err := s.view.base.Get(ctx, ns, name, resourceVersion)
		if err != nil {
			return nil, err
		}
		return s.Convert(o)
	}
	if resourceVersion == "" {
		kv, err := s.kv.Get(ctx, s.key(ns, name))
		if err != nil {
			return nil, apiError(err, gr, name)
		}
		return s.toObject(kv)
	}
	rev, err := parseRV(resourceVersion)
	if err != nil {
		return nil, err
	}
	if rev > 0 {
		if err := s.cache.WaitFor(ctx, rev); err != nil {
			return nil, apiError(err, gr, name)
		}
	}
	o, _, ok := s.cache.Get(s.key(ns, name))
	if !ok {
		return nil, apierrors.NewNotFound(gr, name)
	}
	return o, nil
}

func (s *Store) toObject(kv storage.KeyValue) (*watchcache.Object, error) {
	obj, err := s.codec.Decode(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return &watchcache.Object{Key: kv.Key, Obj: obj, Rev: kv.ModRevision}, nil
}

// predicate turns list options into a cache predicate, rejecting field
// selectors on fields the resource does not index.
func (s *Store) predicate(ns string, opts *metav1.ListOptions) (watchcache.Predicate, error) {
	p := watchcache.Predicate{Label: labels.Everything(), Field: fields.Everything()}
	if s.res.Namespaced && ns != "" {
		p.KeyPrefix = s.prefix + ns + "/"
	}
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		p.Label = sel
	}
	if opts.FieldSelector != "" {
		sel, err := fields.ParseSelector(opts.FieldSelector)
		if err != nil {
			return p, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		for _, r := range sel.Requirements() {
			if !s.fieldSupported(r.Field) {
				return p, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
			}
		}
		p.Field = sel
	}
	return p, nil
}

func (s *Store) fieldSupported(f string) bool {
	if f == "metadata.name" || (f == "metadata.namespace" && s.res.Namespaced) {
		return true
	}
	if s.res.Fields == nil {
		return false
	}
	_, ok := s.res.Fields(s.res.New())[f]
	return ok
}

// attrs is the cache's view of an object's labels and selectable fields.
func (s *Store) attrs(obj runtime.Object) (labels.Set, fields.Set) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	f := fields.Set{}
	if s.res.Fields != nil {
		f = s.res.Fields(obj)
	}
	f["metadata.name"] = a.GetName()
	if s.res.Namespaced {
		f["metadata.namespace"] = a.GetNamespace()
	}
	return labels.Set(a.GetLabels()), f
}

// List answers a list from the watch cache.
func (s *Store) List(ctx context.Context, ns string, opts *metav1.ListOptions) (watchcache.ListResult, error) {
	p, err := s.predicate(ns, opts)
	if err != nil {
		return watchcache.ListResult{}, err
	}
	req := watchcache.ListRequest{Predicate: p, Limit: opts.Limit, Continue: opts.Continue}
	if opts.Continue != "" && opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
		return watchcache.ListResult{}, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	switch opts.ResourceVersion {
	case "":
		if opts.ResourceVersionMatch != "" {
			return watchcache.ListResult{}, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
		}
		req.Consistent = true
	default:
		rev, err := parseRV(opts.ResourceVersion)
		if err != nil {
			return watchcache.ListResult{}, err
		}
		req.Rev = rev
		switch opts.ResourceVersionMatch {
		case "", metav1.ResourceVersionMatchNotOlderThan:
		case metav1.ResourceVersionMatchExact:
			if rev == 0 {
				return watchcache.ListResult{}, apierrors.NewBadRequest("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
			}
			req.Exact = true
		default:
			return watchcache.ListResult{}, apierrors.NewBadRequest(fmt.Sprintf("unknown resourceVersionMatch %q", opts.ResourceVersionMatch))
		}
	}
	res, err := s.cache.List(ctx, req)
	if err != nil {
		return res, apiError(err, s.res.GroupResource(), "")
	}
	res.Items, err = s.convertAll(res.Items)
	return res, err
}

// Watch starts a watch. The second result says the initial events must be
// followed by the end-of-initial-events bookmark (the WatchList protocol).
func (s *Store) Watch(ctx context.Context, ns string, opts *metav1.ListOptions) (*watchcache.Watcher, int64, bool, error) {
	p, err := s.predicate(ns, opts)
	if err != nil {
		return nil, 0, false, err
	}
	req := watchcache.WatchRequest{Predicate: p}
	var rev int64
	if opts.ResourceVersion != "" {
		if rev, err = parseRV(opts.ResourceVersion); err != nil {
			return nil, 0, false, err
		}
	}
	watchList := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	switch {
	case opts.SendInitialEvents != nil:
		if opts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
			return nil, 0, false, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "",
				fieldErrors("resourceVersionMatch", opts.ResourceVersionMatch, "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
		if watchList && !opts.AllowWatchBookmarks {
			return nil, 0, false, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "",
				fieldErrors("allowWatchBookmarks", false, "sendInitialEvents requires allowWatchBookmarks"))
		}
		req.SendInitial = watchList
		req.Rev = rev
		req.Consistent = opts.ResourceVersion == ""
	case opts.ResourceVersion == "":
		req.SendInitial, req.Consistent = true, true
	case rev == 0:
		req.SendInitial = true
	default:
		req.Rev = rev
	}
	w, start, err := s.cache.Watch(ctx, req)
	if err != nil {
		return nil, 0, false, apiError(err, s.res.GroupResource(), "")
	}
	return w, start, watchList, nil
}

func parseRV(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %q", rv))
	}
	return n, nil
}

// WriteOptions are the options every write shares.
type WriteOptions struct {
	DryRun bool
}

// Create stores a new object.
func (s *Store) Create(ctx context.Context, ns string, obj runtime.Object, opts WriteOptions) (runtime.Object, error) {
	if s.view != nil {
		return s.view.create(ctx, ns, obj, opts)
	}
	gr := s.res.GroupResource()
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if err := s.checkRequestNamespace(a, ns); err != nil {
		return nil, err
	}
	if a.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if a.GetName() == "" && a.GetGenerateName() == "" {
		return nil, apierrors.NewInvalid(s.res.GVK().GroupKind(), "", fieldErrors("metadata.name", "", "name or generateName is required"))
	}
	s.prepareCreate(obj, a)
	var guard storage.Guard
	if s.res.Namespaced {
		if guard, err = s.ns.checkNamespace(ctx, ns, gr, a.GetName(), false); err != nil {
			return nil, err
		}
	}
	generated := a.GetName() == ""
	original := obj
	// A generated name may collide; upstream retries such collisions.
	for attempt := 0; ; attempt++ {
		obj = original.DeepCopyObject()
		a, _ = meta.Accessor(obj)
		if generated {
			a.SetName(a.GetGenerateName() + utilrand.String(5))
		}
		s.hooks.defaults(obj)
		if err := s.hooks.admit(ctx, obj); err != nil {
			return nil, err
		}
		claims, err := s.hooks.beforeCreate(ctx, obj)
		if err != nil {
			return nil, err
		}
		if errs := s.hooks.validate(obj, s.res); len(errs) > 0 {
			return nil, apierrors.NewInvalid(s.res.GVK().GroupKind(), a.GetName(), errs)
		}
		if opts.DryRun {
			return obj, nil
		}
		data, err := s.codec.storageBytes(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		rev, err := s.kv.CreateGuarded(ctx, s.key(a.GetNamespace(), a.GetName()), data, guard, claims...)
		if errors.Is(err, storage.ErrClaimTaken) && attempt < 3 {
			continue // another writer took an allocated value first: allocate again
		}
		if errors.Is(err, storage.ErrGuardChanged) && attempt < 3 {
			// The namespace changed since the check: check it again in etcd.
			if guard, err = s.ns.checkNamespace(ctx, ns, gr, a.GetName(), true); err != nil {
				return nil, err
			}
			continue
		}
		if errors.Is(err, storage.ErrExists) && generated && attempt < 8 {
			continue
		}
		if err != nil {
			return nil, apiError(err, gr, a.GetName())
		}
		a.SetResourceVersion(strconv.FormatInt(rev, 10))
		obj.GetObjectKind().SetGroupVersionKind(s.res.GVK())
		return obj, nil
	}
}

func (s *Store) checkRequestNamespace(a metav1.Object, ns string) error {
	if !s.res.Namespaced {
		a.SetNamespace("")
		return nil
	}
	switch a.GetNamespace() {
	case "":
		a.SetNamespace(ns)
	case ns:
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// UpdateFunc computes the new object from the current one (nil when the
// object does not exist and the resource allows create on update).
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// SubresourceBinding marks a write by the binding subresource: the update
// function has already made the only change a binding may make.
const SubresourceBinding = "binding"

// Update applies fn to the current object and stores the result, retrying on
// write races unless the new object names the resourceVersion it expects.
// Subresource is "", "status" or SubresourceBinding. The bool result reports
// a create.
func (s *Store) Update(ctx context.Context, ns, name, subresource string, fn UpdateFunc, opts WriteOptions) (runtime.Object, bool, error) {
	if s.view != nil {
		return s.view.update(ctx, ns, name, subresource, fn, opts)
	}
	gr := s.res.GroupResource()
	key := s.key(ns, name)
	for attempt := 0; ; attempt++ {
		fromCache := attempt == 0
		cur, err := s.read(ctx, key, fromCache)
		if errors.Is(err, storage.ErrNotFound) {
			if !s.res.CreateOnUpdate || subresource != "" {
				return nil, false, apierrors.NewNotFound(gr, name)
			}
			obj, err := fn(nil)
			if err != nil {
				return nil, false, err
			}
			if err := checkName(obj, name); err != nil {
				return nil, false, err
			}
			created, err := s.Create(ctx, ns, obj, opts)
			return created, err == nil, err
		}
		if err != nil {
			return nil, false, apiError(err, gr, name)
		}
		obj, err := fn(cur.obj.DeepCopyObject())
		if err != nil {
			return nil, false, err
		}
		if err := checkName(obj, name); err != nil {
			return nil, false, err
		}
		a, err := meta.Accessor(obj)
		if err != nil {
			return nil, false, apierrors.NewBadRequest(err.Error())
		}
		if err := s.checkRequestNamespace(a, ns); err != nil {
			return nil, false, err
		}
		wanted := a.GetResourceVersion()
		if wanted != "" && wanted != strconv.FormatInt(cur.rev, 10) {
			if fromCache {
				continue // the cache may be behind the writer: etcd decides
			}
			return nil, false, apierrors.NewConflict(gr, name, errors.New(conflictMessage))
		}
		// From here the update is against the revision read: an unconditional
		// update carries it like a conditional one.
		a.SetResourceVersion(strconv.FormatInt(cur.rev, 10))
		switch subresource {
		case "status":
			obj = s.prepareStatusUpdate(obj, cur.obj)
			a, _ = meta.Accessor(obj)
		case "":
			s.prepareUpdate(obj, cur.obj)
			s.hooks.defaults(obj)
		}
		var claims, releases []string
		if subresource == "" {
			if claims, releases, err = s.hooks.beforeUpdate(ctx, obj, cur.obj); err != nil {
				return nil, false, err
			}
		}
		if subresource != SubresourceBinding {
			if errs := s.hooks.validateUpdate(obj, cur.obj, subresource, s.res); len(errs) > 0 {
				return nil, false, apierrors.NewInvalid(s.res.GVK().GroupKind(), name, errs)
			}
		}
		if finalized(obj) {
			out, err := s.remove(ctx, key, obj, cur.rev, opts)
			if errors.Is(err, storage.ErrConflict) && wanted == "" && attempt < 10 {
				continue
			}
			return out, false, apiError(err, gr, name)
		}
		data, err := s.codec.storageBytes(obj)
		if err != nil {
			return nil, false, apierrors.NewInternalError(err)
		}
		if len(claims) == 0 && bytes.Equal(data, cur.stored) {
			return cur.obj, false, nil
		}
		if opts.DryRun {
			return obj, false, nil
		}
		rev, err := s.kv.Update(ctx, key, data, cur.rev, claims, releases)
		if (errors.Is(err, storage.ErrConflict) && wanted == "") || errors.Is(err, storage.ErrClaimTaken) {
			if attempt < 10 {
				continue
			}
		}
		if err != nil {
			return nil, false, apiError(err, gr, name)
		}
		a.SetResourceVersion(strconv.FormatInt(rev, 10))
		obj.GetObjectKind().SetGroupVersionKind(s.res.GVK())
		return obj, false, nil
	}
}

// current is the state a write starts from.
type current struct {
	obj    runtime.Object // the writer's own copy
	rev    int64
	stored []byte // the value as etcd holds it
}

// read returns the state of key. A write's first attempt may start from the
// watch cache, as upstream's storage does: a stale copy costs a conflict and
// a retry from etcd, while a fresh one, the common case, saves an etcd read
// and a decode.
func (s *Store) read(ctx context.Context, key string, fromCache bool) (current, error) {
	if fromCache && s.cache != nil {
		if o, _, ok := s.cache.Get(key); ok && o.Stored != nil {
			return current{obj: o.Obj.DeepCopyObject(), rev: o.Rev, stored: o.Stored}, nil
		}
	}
	kv, err := s.kv.Get(ctx, key)
	if err != nil {
		return current{}, err
	}
	obj, err := s.codec.Decode(kv.Value, kv.ModRevision)
	if err != nil {
		return current{}, apierrors.NewInternalError(err)
	}
	return current{obj: obj, rev: kv.ModRevision, stored: kv.Value}, nil
}

func checkName(obj runtime.Object, name string) error {
	a, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	switch a.GetName() {
	case name:
	case "":
		a.SetName(name)
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", a.GetName(), name))
	}
	return nil
}

// finalized reports an object that is being deleted and has nothing left
// holding it.
func finalized(obj runtime.Object) bool {
	a, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if a.GetDeletionTimestamp() == nil || len(a.GetFinalizers()) > 0 {
		return false
	}
	g := a.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

// remove deletes the object at key, releasing what it holds.
func (s *Store) remove(ctx context.Context, key string, obj runtime.Object, rev int64, opts WriteOptions) (runtime.Object, error) {
	if opts.DryRun {
		return obj, nil
	}
	if _, err := s.kv.Delete(ctx, key, rev, s.hooks.releases(obj)...); err != nil {
		return nil, err
	}
	return obj, nil
}

// DeleteResult says what a delete did.
type DeleteResult struct {
	Object runtime.Object
	// Deleted is false when the object remains, waiting for finalizers or a
	// graceful termination.
	Deleted bool
}

// Delete deletes an object, or marks it for deletion when finalizers or a
// grace period hold it.
func (s *Store) Delete(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (DeleteResult, error) {
	if s.view != nil {
		return s.view.delete(ctx, ns, name, opts, dryRun)
	}
	gr := s.res.GroupResource()
	key := s.key(ns, name)
	for attempt := 0; ; attempt++ {
		kv, err := s.kv.Get(ctx, key)
		if err != nil {
			return DeleteResult{}, apiError(err, gr, name)
		}
		obj, err := s.codec.Decode(kv.Value, kv.ModRevision)
		if err != nil {
			return DeleteResult{}, apierrors.NewInternalError(err)
		}
		a, _ := meta.Accessor(obj)
		if err := checkPreconditions(opts.Preconditions, a, gr, name); err != nil {
			return DeleteResult{}, err
		}
		pending := s.markDeleting(obj, a, opts)
		var res DeleteResult
		switch {
		case dryRun:
			res = DeleteResult{Object: obj, Deleted: !pending}
		case pending:
			data, err := s.codec.storageBytes(obj)
			if err != nil {
				return DeleteResult{}, apierrors.NewInternalError(err)
			}
			rev, err := s.kv.Update(ctx, key, data, kv.ModRevision, nil, nil)
			if errors.Is(err, storage.ErrConflict) && attempt < 10 {
				continue
			}
			if err != nil {
				return DeleteResult{}, apiError(err, gr, name)
			}
			a.SetResourceVersion(strconv.FormatInt(rev, 10))
			res = DeleteResult{Object: obj}
		default:
			_, err := s.kv.Delete(ctx, key, kv.ModRevision, s.hooks.releases(obj)...)
			if errors.Is(err, storage.ErrConflict) && attempt < 10 {
				continue
			}
			if err != nil {
				return DeleteResult{}, apiError(err, gr, name)
			}
			res = DeleteResult{Object: obj, Deleted: true}
		}
		res.Object.GetObjectKind().SetGroupVersionKind(s.res.GVK())
		return res, nil
	}
}

func checkPreconditions(p *metav1.Preconditions, a metav1.Object, gr schema.GroupResource, name string) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != a.GetUID() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, a.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != a.GetResourceVersion() {
		return apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, a.GetResourceVersion()))
	}
	return nil
}
