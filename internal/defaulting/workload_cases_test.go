package defaulting

// minimalTemplate is a pod template as clients send it, at the indentation
// of a workload's spec.template (2 spaces under spec).
const minimalTemplate = `
  template:
    metadata:
      labels:
        app: a
    spec:
      containers:
      - name: c
        image: busybox`

// defaultedTemplate is minimalTemplate as upstream stores it.
var defaultedTemplate = `
  template:
    metadata:
      labels:
        app: a
    spec:
      containers:
      - name: c
        image: busybox` + containerDefaults(8) + podSpecDefaults(6)

func workloadCases() []defaultCase {
	return []defaultCase{
		{
			name: "deployment",
			in: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels:
      app: a` + minimalTemplate,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  replicas: 1
  progressDeadlineSeconds: 600
  revisionHistoryLimit: 10
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
  selector:
    matchLabels:
      app: a` + defaultedTemplate,
		},
		{
			name: "deployment with recreate strategy",
			in: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  replicas: 0
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: a` + minimalTemplate,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  replicas: 0
  progressDeadlineSeconds: 600
  revisionHistoryLimit: 10
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app: a` + defaultedTemplate,
		},
		{
			name: "replicaset",
			in: `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  selector:
    matchLabels:
      app: a` + minimalTemplate,
			want: `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
spec:
  replicas: 1
  selector:
    matchLabels:
      app: a` + defaultedTemplate,
		},
		{
			name: "replicationcontroller takes selector and labels from template",
			in: `apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
spec:` + minimalTemplate,
			want: `apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
  labels:
    app: a
spec:
  replicas: 1
  selector:
    app: a` + defaultedTemplate,
		},
		{
			name: "statefulset with claim template",
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels:
      app: a` + minimalTemplate + `
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
`,
			want: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  podManagementPolicy: OrderedReady
  revisionHistoryLimit: 10
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      partition: 0
      maxUnavailable: 1
  selector:
    matchLabels:
      app: a` + defaultedTemplate + `
  volumeClaimTemplates:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: data
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
			name: "statefulset with OnDelete strategy",
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  updateStrategy:
    type: OnDelete
  selector:
    matchLabels:
      app: a` + minimalTemplate,
			want: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 1
  podManagementPolicy: OrderedReady
  revisionHistoryLimit: 10
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  updateStrategy:
    type: OnDelete
  selector:
    matchLabels:
      app: a` + defaultedTemplate,
		},
		{
			name: "daemonset",
			in: `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  selector:
    matchLabels:
      app: a` + minimalTemplate,
			want: `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: ds
spec:
  revisionHistoryLimit: 10
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
      maxSurge: 0
  selector:
    matchLabels:
      app: a` + defaultedTemplate,
		},
		{
			name: "job with uid gets generated selector and shared labels",
			in: `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  uid: 1234-abcd
spec:
  template:
    metadata:
      labels:
        app: a
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox`,
			want: `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  uid: 1234-abcd
  labels:
    app: a
    batch.kubernetes.io/controller-uid: 1234-abcd
    batch.kubernetes.io/job-name: pi
    controller-uid: 1234-abcd
    job-name: pi
spec:
  backoffLimit: 6
  completionMode: NonIndexed
  completions: 1
  manualSelector: false
  parallelism: 1
  podReplacementPolicy: TerminatingOrFailed
  suspend: false
  selector:
    matchLabels:
      batch.kubernetes.io/controller-uid: 1234-abcd
  template:
    metadata:
      labels:
        app: a
        batch.kubernetes.io/controller-uid: 1234-abcd
        batch.kubernetes.io/job-name: pi
        controller-uid: 1234-abcd
        job-name: pi
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox` + containerDefaults(8) + `
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30`,
		},
		{
			name: "parallel job with failure policy and manual selector",
			in: `apiVersion: batch/v1
kind: Job
metadata:
  name: work
  uid: uid-99
  labels:
    team: x
spec:
  completions: 5
  manualSelector: true
  selector:
    matchLabels:
      app: a
  backoffLimitPerIndex: 1
  completionMode: Indexed
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions:
      - type: DisruptionTarget
` + minimalTemplate[1:],
			want: `apiVersion: batch/v1
kind: Job
metadata:
  name: work
  uid: uid-99
  labels:
    team: x
spec:
  completions: 5
  parallelism: 1
  backoffLimit: 2147483647
  backoffLimitPerIndex: 1
  completionMode: Indexed
  manualSelector: true
  podReplacementPolicy: Failed
  suspend: false
  selector:
    matchLabels:
      app: a
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions:
      - type: DisruptionTarget
        status: "True"
` + defaultedTemplate[1:],
		},
		{
			name: "cronjob defaults only the pod template of its job template",
			in: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox:1.36`,
			want: `apiVersion: batch/v1
kind: CronJob
metadata:
  name: cj
spec:
  schedule: "*/5 * * * *"
  concurrencyPolicy: Allow
  suspend: false
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox:1.36
            imagePullPolicy: IfNotPresent
            terminationMessagePath: /dev/termination-log
            terminationMessagePolicy: File
          dnsPolicy: ClusterFirst
          schedulerName: default-scheduler
          securityContext: {}
          terminationGracePeriodSeconds: 30`,
		},
	}
}
