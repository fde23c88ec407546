package defaulting

import "strings"

// allCases lists, per kind, a manifest as a client sends it and the object
// upstream stores for it.
func allCases() []defaultCase {
	var all []defaultCase
	for _, group := range [][]defaultCase{podCases(), workloadCases(), serviceCases(), clusterCases()} {
		all = append(all, group...)
	}
	return all
}

// podSpecDefaults is what every pod template spec gains, as YAML lines
// indented by indent spaces.
func podSpecDefaults(indent int) string {
	return indentLines(indent, "dnsPolicy: ClusterFirst", "restartPolicy: Always",
		"schedulerName: default-scheduler", "securityContext: {}", "terminationGracePeriodSeconds: 30")
}

// containerDefaults is what a container with an untagged image gains.
func containerDefaults(indent int) string {
	return indentLines(indent, "imagePullPolicy: Always",
		"terminationMessagePath: /dev/termination-log", "terminationMessagePolicy: File")
}

func indentLines(indent int, lines ...string) string {
	out := ""
	for _, l := range lines {
		out += "\n" + strings.Repeat(" ", indent) + l
	}
	return out
}

func podCases() []defaultCase {
	return []defaultCase{
		{
			name: "pod with probes, env, volumes and limits",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - containerPort: 80
    env:
    - name: NODE
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    resources:
      limits:
        cpu: 500m
        memory: 128Mi
    livenessProbe:
      httpGet:
        port: 80
    readinessProbe:
      grpc:
        port: 9000
      periodSeconds: 5
    lifecycle:
      preStop:
        httpGet:
          port: 80
          path: /quit
  initContainers:
  - name: init
    image: busybox:1.36
    resources:
      limits:
        cpu: "0.0001"
  volumes:
  - name: scratch
  - name: secret
    secret:
      secretName: s
  - name: config
    configMap:
      name: c
  - name: host
    hostPath:
      path: /var/log
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef:
          fieldPath: metadata.labels
  - name: token
    projected:
      sources:
      - serviceAccountToken:
          path: token
`,
			want: `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx:1.25
    imagePullPolicy: IfNotPresent
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    ports:
    - containerPort: 80
      protocol: TCP
    env:
    - name: NODE
      valueFrom:
        fieldRef:
          apiVersion: v1
          fieldPath: spec.nodeName
    resources:
      limits:
        cpu: 500m
        memory: 128Mi
      requests:
        cpu: 500m
        memory: 128Mi
    livenessProbe:
      httpGet:
        port: 80
        path: /
        scheme: HTTP
      timeoutSeconds: 1
      periodSeconds: 10
      successThreshold: 1
      failureThreshold: 3
    readinessProbe:
      grpc:
        port: 9000
        service: ""
      timeoutSeconds: 1
      periodSeconds: 5
      successThreshold: 1
      failureThreshold: 3
    lifecycle:
      preStop:
        httpGet:
          port: 80
          path: /quit
          scheme: HTTP
  initContainers:
  - name: init
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    resources:
      limits:
        cpu: 1m
      requests:
        cpu: 1m
  volumes:
  - name: scratch
    emptyDir: {}
  - name: secret
    secret:
      secretName: s
      defaultMode: 420
  - name: config
    configMap:
      name: c
      defaultMode: 420
  - name: host
    hostPath:
      path: /var/log
      type: ""
  - name: info
    downwardAPI:
      defaultMode: 420
      items:
      - path: labels
        fieldRef:
          apiVersion: v1
          fieldPath: metadata.labels
  - name: token
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
status:
  phase: Pending
  qosClass: Burstable
`,
		},
		{
			name: "best-effort pod keeps explicit choices",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: sleeper
spec:
  restartPolicy: Never
  dnsPolicy: Default
  enableServiceLinks: false
  terminationGracePeriodSeconds: 5
  containers:
  - name: sleep
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`,
			want: `apiVersion: v1
kind: Pod
metadata:
  name: sleeper
spec:
  restartPolicy: Never
  dnsPolicy: Default
  enableServiceLinks: false
  terminationGracePeriodSeconds: 5
  schedulerName: default-scheduler
  securityContext: {}
  containers:
  - name: sleep
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
status:
  phase: Pending
  qosClass: BestEffort
`,
		},
		{
			name: "host-network gated guaranteed pod",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: agent
spec:
  hostNetwork: true
  schedulingGates:
  - name: example.com/wait
  containers:
  - name: agent
    image: registry.local:5000/agent
    ports:
    - containerPort: 9100
      protocol: UDP
    resources:
      limits:
        cpu: "1"
        memory: 1Gi
`,
			want: `apiVersion: v1
kind: Pod
metadata:
  name: agent
spec:
  hostNetwork: true
  schedulingGates:
  - name: example.com/wait
  containers:
  - name: agent
    image: registry.local:5000/agent` + containerDefaults(4) + `
    ports:
    - containerPort: 9100
      hostPort: 9100
      protocol: UDP
    resources:
      limits:
        cpu: "1"
        memory: 1Gi
      requests:
        cpu: "1"
        memory: 1Gi
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
status:
  phase: Pending
  qosClass: Guaranteed
  conditions:
  - type: PodScheduled
    status: "False"
    reason: SchedulingGated
    message: Scheduling is blocked due to non-empty scheduling gates
`,
		},
		{
			name: "pod template gets no pod-only defaults",
			in: `apiVersion: v1
kind: PodTemplate
metadata:
  name: tmpl
template:
  spec:
    containers:
    - name: c
      image: busybox
      resources:
        limits:
          cpu: 100m
`,
			want: `apiVersion: v1
kind: PodTemplate
metadata:
  name: tmpl
template:
  spec:
    containers:
    - name: c
      image: busybox` + containerDefaults(6) + `
      resources:
        limits:
          cpu: 100m` + podSpecDefaults(4) + `
`,
		},
	}
}
