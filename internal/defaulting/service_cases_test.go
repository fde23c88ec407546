package defaulting

func serviceCases() []defaultCase {
	return []defaultCase{
		{
			name: "clusterip service",
			in: `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
  - name: metrics
    port: 9090
    targetPort: metrics
    protocol: UDP
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: ClusterIP
  sessionAffinity: None
  internalTrafficPolicy: Cluster
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
  selector:
    app: web
  ports:
  - port: 80
    protocol: TCP
    targetPort: 80
  - name: metrics
    port: 9090
    targetPort: metrics
    protocol: UDP
`,
		},
		{
			name: "nodeport service with client-ip affinity",
			in: `apiVersion: v1
kind: Service
metadata:
  name: np
spec:
  type: NodePort
  sessionAffinity: ClientIP
  selector:
    app: web
  ports:
  - port: 80
    nodePort: 30080
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: np
spec:
  type: NodePort
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 10800
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
  selector:
    app: web
  ports:
  - port: 80
    nodePort: 30080
    protocol: TCP
    targetPort: 80
`,
		},
		{
			name: "loadbalancer service with ingress status and given cluster ip",
			in: `apiVersion: v1
kind: Service
metadata:
  name: lb
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.20
  selector:
    app: web
  ports:
  - port: 443
    targetPort: 8443
status:
  loadBalancer:
    ingress:
    - ip: 192.0.2.10
    - hostname: lb.example.com
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: lb
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20]
  sessionAffinity: None
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  allocateLoadBalancerNodePorts: true
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
  selector:
    app: web
  ports:
  - port: 443
    targetPort: 8443
    protocol: TCP
status:
  loadBalancer:
    ingress:
    - ip: 192.0.2.10
      ipMode: VIP
    - hostname: lb.example.com
`,
		},
		{
			name: "headless service with selector",
			in: `apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector:
    app: db
  ports:
  - port: 5432
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  type: ClusterIP
  clusterIP: None
  clusterIPs: [None]
  sessionAffinity: None
  internalTrafficPolicy: Cluster
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
  selector:
    app: db
  ports:
  - port: 5432
    protocol: TCP
    targetPort: 5432
`,
		},
		{
			name: "headless service without selector asks for both families",
			in: `apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  clusterIPs: [None]
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ClusterIP
  clusterIP: None
  clusterIPs: [None]
  sessionAffinity: None
  internalTrafficPolicy: Cluster
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
`,
		},
		{
			name: "externalname service gets no ip family fields",
			in: `apiVersion: v1
kind: Service
metadata:
  name: alias
spec:
  type: ExternalName
  externalName: example.com
`,
			want: `apiVersion: v1
kind: Service
metadata:
  name: alias
spec:
  type: ExternalName
  externalName: example.com
  sessionAffinity: None
`,
		},
		{
			name: "endpoints",
			in: `apiVersion: v1
kind: Endpoints
metadata:
  name: web
subsets:
- addresses:
  - ip: 10.0.0.1
  ports:
  - port: 80
  - port: 53
    protocol: UDP
`,
			want: `apiVersion: v1
kind: Endpoints
metadata:
  name: web
subsets:
- addresses:
  - ip: 10.0.0.1
  ports:
  - port: 80
    protocol: TCP
  - port: 53
    protocol: UDP
`,
		},
		{
			name: "endpointslice",
			in: `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
addressType: IPv4
endpoints:
- addresses: [10.0.0.1]
ports:
- port: 80
- name: dns
  port: 53
  protocol: UDP
`,
			want: `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
addressType: IPv4
endpoints:
- addresses: [10.0.0.1]
ports:
- name: ""
  port: 80
  protocol: TCP
- name: dns
  port: 53
  protocol: UDP
`,
		},
	}
}
