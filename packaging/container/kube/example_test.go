package kube

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/cgihttpd/cgihttpd/internal/cli"
)

// repo is the repository's root, from this package's directory.
const repo = "../../.."

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// example returns the README's Kubernetes objects: the first yaml block after the
// "### Kubernetes" heading, decoded strictly (an unknown or misspelt field fails).
func example(t *testing.T) (*appsv1.Deployment, *corev1.Service) {
	t.Helper()
	readme := readFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "\n### Kubernetes\n")
	if !ok {
		t.Fatal(`README.md has no "### Kubernetes" section`)
	}
	_, block, ok := strings.Cut(section, "\n```yaml\n")
	if !ok {
		t.Fatal("the Kubernetes section has no yaml block")
	}
	block, _, _ = strings.Cut(block, "\n```")
	var dep *appsv1.Deployment
	var svc *corev1.Service
	for doc := range strings.SplitSeq(block, "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("yaml: %v", err)
		}
		var err error
		switch meta.Kind {
		case "Deployment":
			dep = new(appsv1.Deployment)
			err = yaml.UnmarshalStrict([]byte(doc), dep)
		case "Service":
			svc = new(corev1.Service)
			err = yaml.UnmarshalStrict([]byte(doc), svc)
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		if err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	if dep == nil || svc == nil {
		t.Fatal("the example needs a Deployment and a Service")
	}
	return dep, svc
}

// imageCommand is what the image runs before the container's args: its ENTRYPOINT from
// the cgihttpd binary on, and its EXPOSEd port.
func imageCommand(t *testing.T) (args []string, exposed int) {
	t.Helper()
	cf := readFile(t, "packaging/container/Containerfile")
	m := regexp.MustCompile(`(?m)^ENTRYPOINT (\[.*\])$`).FindStringSubmatch(cf)
	if m == nil {
		t.Fatal("Containerfile: no ENTRYPOINT in exec form")
	}
	var ep []string
	if err := json.Unmarshal([]byte(m[1]), &ep); err != nil {
		t.Fatalf("Containerfile ENTRYPOINT: %v", err)
	}
	i := slices.Index(ep, "/cgihttpd")
	if i < 0 {
		t.Fatalf("Containerfile ENTRYPOINT does not run /cgihttpd: %q", ep)
	}
	e := regexp.MustCompile(`(?m)^EXPOSE (\d+)$`).FindStringSubmatch(cf)
	if e == nil {
		t.Fatal("Containerfile: no EXPOSE")
	}
	exposed, _ = strconv.Atoi(e[1])
	return ep[i+1:], exposed
}

func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Errorf("no container port named %q", p.StrVal)
	return -1
}

func TestKubernetesExample(t *testing.T) {
	dep, svc := example(t)
	pod := dep.Spec.Template
	for k, v := range dep.Spec.Selector.MatchLabels {
		if pod.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods", k, v)
		}
	}
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("the Service's selector %s=%s does not match the pods", k, v)
		}
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	// The command line the pod runs is one cgihttpd accepts.
	entry, exposed := imageCommand(t)
	opts, err := cli.Parse(append(slices.Clone(entry), c.Args...))
	if err != nil {
		t.Fatalf("cgihttpd refuses the pod's command line %q: %v", append(entry, c.Args...), err)
	}
	if opts.Bind != "0.0.0.0" {
		t.Errorf("--bind %s: the Service cannot reach it", opts.Bind)
	}
	if http := containerPort(t, c, intstr.FromString("http")); int(http) != opts.Port || opts.Port != exposed {
		t.Errorf("port named http %d, cgihttpd's port %d, the image's EXPOSE %d: want one number", http, opts.Port, exposed)
	}
	for _, sp := range svc.Spec.Ports {
		if got := containerPort(t, c, sp.TargetPort); int(got) != opts.Port {
			t.Errorf("the Service's port %s goes to %d, not cgihttpd's %d", sp.Name, got, opts.Port)
		}
	}
	if len(opts.Server.TrustedProxies) == 0 {
		t.Error("no --trusted-proxy: behind an ingress every client would be the ingress")
	}

	// Probes: /healthz on --status-addr, which the kubelet can reach.
	host, port, err := net.SplitHostPort(opts.StatusAddr)
	if err != nil {
		t.Fatalf("--status-addr %q: %v", opts.StatusAddr, err)
	}
	if host != "0.0.0.0" && host != "" {
		t.Errorf("--status-addr %s: the kubelet's probes cannot reach it", opts.StatusAddr)
	}
	for name, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", name)
			continue
		}
		if p.HTTPGet.Path != "/healthz" || strconv.Itoa(int(containerPort(t, c, p.HTTPGet.Port))) != port {
			t.Errorf("%s probe GET %s on port %s, want /healthz on --status-addr's %s", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), port)
		}
	}

	// Stopping: preStop's sleep, then SIGTERM and --shutdown-grace, all before SIGKILL.
	var preStop time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
		cmd := c.Lifecycle.PreStop.Exec.Command
		if len(cmd) != 2 || cmd[0] != "/bin/sleep" {
			t.Fatalf("preStop %q: want /bin/sleep SECONDS (busybox's, in the image)", cmd)
		}
		n, err := strconv.Atoi(cmd[1])
		if err != nil {
			t.Fatalf("preStop %q: %v", cmd, err)
		}
		preStop = time.Duration(n) * time.Second
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil ||
		time.Duration(*g)*time.Second <= preStop+opts.ShutdownGrace {
		t.Errorf("terminationGracePeriodSeconds must exceed preStop (%s) + --shutdown-grace (%s)", preStop, opts.ShutdownGrace)
	}

	// The security context is the one CI runs under Podman.
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext with capabilities")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser must be 0: only root can drop scripts to another user")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false (no new privileges)")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("drop %q, want [ALL]", sc.Capabilities.Drop)
	}
	ci := regexp.MustCompile(`--cap-add=([A-Z_,]+)`).FindStringSubmatch(readFile(t, ".ci/container.sh"))
	if ci == nil {
		t.Fatal(".ci/container.sh adds no capability")
	}
	want := strings.Split(ci[1], ",")
	var got []string
	for _, c := range sc.Capabilities.Add {
		got = append(got, string(c))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("capabilities added %q, but CI runs with %q", got, want)
	}

	// A writable /tmp (body spools) on a read-only root.
	var tmp string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && !m.ReadOnly {
			tmp = m.Name
		}
	}
	i := slices.IndexFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == tmp })
	if tmp == "" || i < 0 || pod.Spec.Volumes[i].EmptyDir == nil {
		t.Error("no writable emptyDir mounted at /tmp")
	}
}
