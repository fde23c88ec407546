package defaulting

func clusterCases() []defaultCase {
	return []defaultCase{
		{
			name: "namespace",
			in:   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
			want: `apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    kubernetes.io/metadata.name: team-a
spec:
  finalizers: [kubernetes]
status:
  phase: Active
`,
		},
		{
			name: "terminating namespace keeps its finalizers",
			in: `apiVersion: v1
kind: Namespace
metadata:
  name: old
  deletionTimestamp: "2024-01-01T00:00:00Z"
spec: {}
status:
  phase: Terminating
`,
			want: `apiVersion: v1
kind: Namespace
metadata:
  name: old
  deletionTimestamp: "2024-01-01T00:00:00Z"
  labels:
    kubernetes.io/metadata.name: old
spec: {}
status:
  phase: Terminating
`,
		},
		{
			// stringData is write-only: it is merged into data, winning over
			// data's entry of the same key, as upstream's conversion does.
			name: "secret",
			in:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: b2xk\n  other: eA==\nstringData:\n  k: v\n",
			want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: dg==\n  other: eA==\ntype: Opaque\n",
		},
		{
			name: "persistent volume",
			in: `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  hostPath:
    path: /data
`,
			want: `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  hostPath:
    path: /data
    type: ""
  persistentVolumeReclaimPolicy: Retain
  volumeMode: Filesystem
status:
  phase: Pending
`,
		},
		{
			name: "persistent volume claim",
			in: `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pvc
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
`,
			want: `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: pvc
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: Filesystem
  resources:
    requests:
      storage: 1Gi
status:
  phase: Pending
`,
		},
		{
			name: "limit range",
			in: `apiVersion: v1
kind: LimitRange
metadata:
  name: lr
spec:
  limits:
  - type: Container
    max:
      cpu: "2"
      memory: 1Gi
    min:
      cpu: 50m
    default:
      memory: 512Mi
  - type: Pod
    max:
      cpu: "4"
`,
			want: `apiVersion: v1
kind: LimitRange
metadata:
  name: lr
spec:
  limits:
  - type: Container
    max:
      cpu: "2"
      memory: 1Gi
    min:
      cpu: 50m
    default:
      cpu: "2"
      memory: 512Mi
    defaultRequest:
      cpu: "2"
      memory: 512Mi
  - type: Pod
    max:
      cpu: "4"
`,
		},
		{
			name: "hpa v1",
			in: `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
`,
			want: `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  minReplicas: 1
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
`,
		},
		{
			name: "hpa v2 without behavior",
			in: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
`,
			want: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  minReplicas: 1
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 80
`,
		},
		{
			name: "hpa v2 with partial behavior",
			in: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  minReplicas: 2
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
  metrics:
  - type: Resource
    resource:
      name: memory
      target:
        type: AverageValue
        averageValue: 500Mi
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
`,
			want: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: h
spec:
  minReplicas: 2
  maxReplicas: 5
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: d
  metrics:
  - type: Resource
    resource:
      name: memory
      target:
        type: AverageValue
        averageValue: 500Mi
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Max
      policies:
      - type: Pods
        value: 4
        periodSeconds: 15
      - type: Percent
        value: 100
        periodSeconds: 15
    scaleDown:
      stabilizationWindowSeconds: 60
      selectPolicy: Max
      policies:
      - type: Percent
        value: 100
        periodSeconds: 15
`,
		},
		{
			name: "network policy with egress rules",
			in: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
spec:
  podSelector: {}
  ingress:
  - ports:
    - port: 80
  egress:
  - ports:
    - port: 53
      protocol: UDP
`,
			want: `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - ports:
    - port: 80
      protocol: TCP
  egress:
  - ports:
    - port: 53
      protocol: UDP
`,
		},
		{
			name: "network policy without rules isolates ingress",
			in:   "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector: {}\n",
			want: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
		},
		{
			name: "role binding",
			in: `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
roleRef:
  kind: Role
  name: r
subjects:
- kind: User
  name: alice
- kind: Group
  name: devs
- kind: ServiceAccount
  name: default
  namespace: ns
`,
			want: `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: rb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: r
subjects:
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: alice
- kind: Group
  apiGroup: rbac.authorization.k8s.io
  name: devs
- kind: ServiceAccount
  name: default
  namespace: ns
`,
		},
		{
			name: "cluster role binding",
			in: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
roleRef:
  kind: ClusterRole
  name: view
subjects:
- kind: User
  name: bob
`,
			want: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: bob
`,
		},
		{
			name: "storage class",
			in:   "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: local\nprovisioner: example.com/local\n",
			want: "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: local\nprovisioner: example.com/local\nreclaimPolicy: Delete\nvolumeBindingMode: Immediate\n",
		},
		{
			name: "priority class",
			in:   "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n",
			want: "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\npreemptionPolicy: PreemptLowerPriority\n",
		},
		{
			name: "ingress class parameters scope",
			in:   "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx\nspec:\n  controller: k8s.io/ingress-nginx\n  parameters:\n    kind: Config\n    name: c\n",
			want: "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx\nspec:\n  controller: k8s.io/ingress-nginx\n  parameters:\n    kind: Config\n    name: c\n    scope: Cluster\n",
		},
		{
			name: "node allocatable from capacity",
			in:   "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  capacity:\n    cpu: \"2\"\n    memory: 4Gi\n",
			want: "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  capacity:\n    cpu: \"2\"\n    memory: 4Gi\n  allocatable:\n    cpu: \"2\"\n    memory: 4Gi\n",
		},
	}
}
