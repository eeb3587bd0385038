// Package deploy checks the container and Kubernetes deployment files of
// luagate: the plain manifests under kubernetes/ and the Helm chart under
// helm/luagate are decoded strictly into their Kubernetes API types, the
// chart is rendered with Helm's own engine, and the kong.yml they ship is
// validated by luagate itself. It is a module of its own (luagate/deploy)
// so Helm and the Kubernetes API stay out of the gateway's dependencies.
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const chartDir = "helm/luagate"

// decoder decodes YAML into the typed API objects and fails on unknown or
// duplicate fields.
func decoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})
}

// objects is a decoded set of manifests, keyed "Kind/name".
type objects map[string]runtime.Object

func (o objects) keys() []string {
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// decodeAll splits a multi-document YAML stream and decodes each document
// strictly; source names the file in errors.
func decodeAll(t *testing.T, dec runtime.Decoder, source string, data []byte, into objects) {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, gvk, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Errorf("%s: document %d: %v", source, i, err)
			continue
		}
		name := obj.(interface{ GetName() string }).GetName()
		key := gvk.Kind + "/" + name
		if _, dup := into[key]; dup {
			t.Errorf("%s: %s defined twice", source, key)
		}
		into[key] = obj
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// plainManifests decodes every YAML file of a folder (kustomization.yaml
// is Kustomize's own, not an API object).
func plainManifests(t *testing.T, dir string) objects {
	t.Helper()
	dec := decoder(t)
	out := objects{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		decodeAll(t, dec, f, data, out)
	}
	return out
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render renders the chart as `helm install RELEASE` would, with extra
// values merged over values.yaml, and decodes every object.
func render(t *testing.T, c *chart.Chart, release string, values map[string]any) (objects, map[string]string) {
	t.Helper()
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: release, Namespace: "default", IsInstall: true, Revision: 1}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(c, vals)
	if err != nil {
		t.Fatal(err)
	}
	dec := decoder(t)
	out := objects{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue // NOTES.txt, helpers
		}
		decodeAll(t, dec, n, []byte(files[n]), out)
	}
	return out, files
}

func renderErr(c *chart.Chart, values map[string]any) error {
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: "luagate", Namespace: "default", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return err
	}
	_, err = engine.Render(c, vals)
	return err
}

// checkGateway asserts what every luagate deployment needs, wherever it
// comes from.
func checkGateway(t *testing.T, source string, objs objects, deployName, cmName string, replicas int32) {
	t.Helper()
	d, ok := objs["Deployment/"+deployName].(*appsv1.Deployment)
	if !ok {
		t.Fatalf("%s: no Deployment %s (have %v)", source, deployName, objs.keys())
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
		t.Errorf("%s: replicas %v, want %d", source, d.Spec.Replicas, replicas)
	}
	sel := d.Spec.Selector.MatchLabels
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("%s: pod template lacks selector label %s=%s", source, k, v)
		}
	}
	pod := d.Spec.Template.Spec
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8007" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: scrape annotations %v", source, ann)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", source, len(pod.Containers))
	}
	c := pod.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["KONG_DECLARATIVE_CONFIG"] != "/kong/declarative/kong.yml" {
		t.Errorf("%s: KONG_DECLARATIVE_CONFIG = %q", source, env["KONG_DECLARATIVE_CONFIG"])
	}
	if !strings.HasPrefix(env["KONG_STATUS_LISTEN"], "0.0.0.0:8007") {
		t.Errorf("%s: the kubelet probes the pod IP: KONG_STATUS_LISTEN = %q", source, env["KONG_STATUS_LISTEN"])
	}
	if !strings.HasPrefix(env["KONG_PROXY_LISTEN"], "0.0.0.0:8000") {
		t.Errorf("%s: KONG_PROXY_LISTEN = %q", source, env["KONG_PROXY_LISTEN"])
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["proxy"] != 8000 || ports["status"] != 8007 {
		t.Errorf("%s: container ports %v", source, ports)
	}
	for name, pr := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Port.String() != "status" {
			t.Errorf("%s: %s probe %+v, want HTTP on the status port", source, name, pr)
			continue
		}
		want := map[string]string{"readiness": "/status/ready", "liveness": "/status"}[name]
		if pr.HTTPGet.Path != want {
			t.Errorf("%s: %s probe path %s, want %s", source, name, pr.HTTPGet.Path, want)
		}
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no cpu request", source)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		t.Errorf("%s: no memory request", source)
	}
	// Hot reload needs the whole ConfigMap folder mounted (a subPath mount
	// never sees updates) at the folder of KONG_DECLARATIVE_CONFIG.
	var mounted bool
	for _, m := range c.VolumeMounts {
		if m.MountPath != "/kong/declarative" {
			continue
		}
		mounted = true
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("%s: the config is mounted with subPath: ConfigMap edits would never reach the pod", source)
		}
		var vol *corev1.Volume
		for i := range pod.Volumes {
			if pod.Volumes[i].Name == m.Name {
				vol = &pod.Volumes[i]
			}
		}
		if vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != cmName {
			t.Errorf("%s: /kong/declarative is not the ConfigMap %s: %+v", source, cmName, vol)
		}
	}
	if !mounted {
		t.Errorf("%s: nothing mounted at /kong/declarative", source)
	}
	// Graceful stop: the preStop pause and the drain fit in the grace period.
	grace := int64(30)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	var pause int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = c.Lifecycle.PreStop.Sleep.Seconds
	}
	var drain int64
	fmt.Sscan(env["KONG_DRAIN_TIMEOUT"], &drain)
	if drain <= 0 || pause+drain >= grace {
		t.Errorf("%s: preStop %ds + KONG_DRAIN_TIMEOUT %q must fit in terminationGracePeriodSeconds %d", source, pause, env["KONG_DRAIN_TIMEOUT"], grace)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: container security context %+v", source, sc)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pod must run as non-root", source)
	}

	svc, ok := objs["Service/"+deployName].(*corev1.Service)
	if !ok {
		t.Fatalf("%s: no Service %s", source, deployName)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, sel) {
		t.Errorf("%s: Service selector %v, Deployment selector %v", source, svc.Spec.Selector, sel)
	}
	for _, p := range svc.Spec.Ports {
		if _, ok := ports[p.TargetPort.String()]; !ok {
			t.Errorf("%s: Service port %s targets %s, which the container lacks", source, p.Name, p.TargetPort.String())
		}
	}
	pdb, ok := objs["PodDisruptionBudget/"+deployName].(*policyv1.PodDisruptionBudget)
	if !ok {
		t.Fatalf("%s: no PodDisruptionBudget %s", source, deployName)
	}
	if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, sel) || pdb.Spec.MaxUnavailable == nil {
		t.Errorf("%s: PodDisruptionBudget %+v", source, pdb.Spec)
	}
	if cmName != "" {
		if cm, ok := objs["ConfigMap/"+cmName].(*corev1.ConfigMap); ok && cm.Data["kong.yml"] == "" {
			t.Errorf("%s: ConfigMap %s has no kong.yml", source, cmName)
		}
	}
}

func TestPlainManifests(t *testing.T) {
	objs := plainManifests(t, "kubernetes")
	want := []string{"ConfigMap/luagate-config", "Deployment/luagate", "PodDisruptionBudget/luagate", "Service/luagate"}
	if got := objs.keys(); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	checkGateway(t, "kubernetes/", objs, "luagate", "luagate-config", 3)

	// kustomization.yaml lists exactly these files.
	k, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !bytes.Contains(k, []byte("- "+b+"\n")) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}

	redis := plainManifests(t, "kubernetes/optional")
	if got := redis.keys(); !slices.Equal(got, []string{"Deployment/luagate-redis", "Service/luagate-redis"}) {
		t.Errorf("optional objects %v", got)
	}
	d := redis["Deployment/luagate-redis"].(*appsv1.Deployment)
	if !reflect.DeepEqual(redis["Service/luagate-redis"].(*corev1.Service).Spec.Selector, d.Spec.Selector.MatchLabels) {
		t.Error("redis Service does not select the redis pods")
	}
	if reflect.DeepEqual(d.Spec.Selector.MatchLabels, objs["Deployment/luagate"].(*appsv1.Deployment).Spec.Selector.MatchLabels) {
		t.Error("redis and gateway pods share a selector")
	}
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selctor:\n    a: b\n")
	_, _, err := decoder(t).Decode(bad, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "selctor") {
		t.Fatalf("a misspelt field decoded without error: %v", err)
	}
}

func TestHelmChartLints(t *testing.T) {
	l := lint.All(chartDir, nil, "default", false)
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

// TestHelmChartRendersThePlainManifests: with the release name "luagate"
// and default values the chart gives the same objects as kubernetes/
// (Helm's bookkeeping labels aside).
func TestHelmChartRendersThePlainManifests(t *testing.T) {
	c := loadChart(t)
	rendered, files := render(t, c, "luagate", nil)
	plain := plainManifests(t, "kubernetes")
	if got, want := rendered.keys(), plain.keys(); !slices.Equal(got, want) {
		t.Fatalf("chart renders %v, kubernetes/ holds %v", got, want)
	}
	checkGateway(t, "chart", rendered, "luagate", "luagate-config", 3)
	for _, k := range plain.keys() {
		a, b := dropHelmLabels(rendered[k]), dropHelmLabels(plain[k])
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs between the chart and kubernetes/:\nchart: %+v\nplain: %+v", k, a, b)
		}
	}
	if !strings.Contains(files["luagate/templates/NOTES.txt"], "hot reload") {
		t.Errorf("NOTES.txt: %q", files["luagate/templates/NOTES.txt"])
	}
}

// dropHelmLabels removes the labels only Helm adds, on a copy.
func dropHelmLabels(o runtime.Object) runtime.Object {
	o = o.DeepCopyObject()
	m := o.(interface {
		GetLabels() map[string]string
		SetLabels(map[string]string)
	})
	l := m.GetLabels()
	for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"} {
		delete(l, k)
	}
	m.SetLabels(l)
	return o
}

func TestHelmChartValues(t *testing.T) {
	c := loadChart(t)
	for _, tt := range []struct {
		name    string
		release string
		values  map[string]any
		check   func(t *testing.T, o objects)
	}{
		{"replicas, image and extra env", "edge", map[string]any{
			"replicaCount": 5,
			"image":        map[string]any{"repository": "registry.example/luagate", "tag": "1.2.3"},
			"extraEnv":     []any{map[string]any{"name": "KONG_TRUSTED_IPS", "value": "10.0.0.0/8"}},
		}, func(t *testing.T, o objects) {
			checkGateway(t, "edge", o, "edge-luagate", "edge-luagate-config", 5)
			d := o["Deployment/edge-luagate"].(*appsv1.Deployment)
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != "registry.example/luagate:1.2.3" {
				t.Errorf("image %s", c.Image)
			}
			if last := c.Env[len(c.Env)-1]; last.Name != "KONG_TRUSTED_IPS" || last.Value != "10.0.0.0/8" {
				t.Errorf("extra env %+v", last)
			}
			if d.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "edge" {
				t.Errorf("two releases would share a selector: %v", d.Spec.Selector.MatchLabels)
			}
		}},
		{"redis enabled", "luagate", map[string]any{"redis": map[string]any{"enabled": true}}, func(t *testing.T, o objects) {
			if _, ok := o["Deployment/luagate-redis"]; !ok {
				t.Errorf("no redis Deployment: %v", o.keys())
			}
			if _, ok := o["Service/luagate-redis"]; !ok {
				t.Errorf("no redis Service: %v", o.keys())
			}
			plain := plainManifests(t, "kubernetes/optional")
			for _, k := range plain.keys() {
				if !reflect.DeepEqual(dropHelmLabels(o[k]), dropHelmLabels(plain[k])) {
					t.Errorf("%s differs between the chart and kubernetes/optional", k)
				}
			}
		}},
		{"existing ConfigMap", "luagate", map[string]any{"config": map[string]any{"existingConfigMap": "my-gitops-config"}}, func(t *testing.T, o objects) {
			if _, ok := o["ConfigMap/luagate-config"]; ok {
				t.Error("the chart still renders its own ConfigMap")
			}
			checkGateway(t, "existing", o, "luagate", "my-gitops-config", 3)
		}},
		{"Lua files and PDB off, no scrape annotations", "luagate", map[string]any{
			"config":              map[string]any{"luaFiles": map[string]any{"auth.lua": "return 1\n"}},
			"podDisruptionBudget": map[string]any{"enabled": false},
			"metrics":             map[string]any{"scrapeAnnotations": false},
		}, func(t *testing.T, o objects) {
			cm := o["ConfigMap/luagate-config"].(*corev1.ConfigMap)
			if cm.Data["auth.lua"] != "return 1\n" || cm.Data["hello.lua"] == "" || cm.Data["kong.yml"] == "" {
				t.Errorf("ConfigMap data keys %v", cm.Data)
			}
			if _, ok := o["PodDisruptionBudget/luagate"]; ok {
				t.Error("PDB rendered while disabled")
			}
			if a := o["Deployment/luagate"].(*appsv1.Deployment).Spec.Template.Annotations; len(a) != 0 {
				t.Errorf("annotations %v", a)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs, _ := render(t, c, tt.release, tt.values)
			tt.check(t, objs)
		})
	}

	for name, values := range map[string]map[string]any{
		"grace period too short": {"terminationGracePeriodSeconds": 10},
		"empty kong.yml":         {"config": map[string]any{"kongYml": ""}},
		"kong.yml as a Lua file": {"config": map[string]any{"luaFiles": map[string]any{"kong.yml": "x"}}},
	} {
		if err := renderErr(c, values); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

// TestShippedConfigIsValid builds the static binary the image ships, writes
// the ConfigMap's files to a folder as the
// kubelet mounts them and runs `luagate config parse` and `luagate lint`
// on them (the gateway module's CLI, built from ..).
func TestShippedConfigIsValid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds luagate")
	}
	// Built as the Dockerfile builds it: the binary must be static (the
	// runtime image has no libc).
	bin := filepath.Join(t.TempDir(), "luagate")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/luagate")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building luagate: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (program header %v)", p.Type)
		}
	}
	f.Close()
	objs := plainManifests(t, "kubernetes")
	c := loadChart(t)
	rendered, _ := render(t, c, "luagate", nil)
	for source, cm := range map[string]*corev1.ConfigMap{
		"kubernetes/configmap.yaml": objs["ConfigMap/luagate-config"].(*corev1.ConfigMap),
		"chart":                     rendered["ConfigMap/luagate-config"].(*corev1.ConfigMap),
	} {
		dir := t.TempDir()
		for name, body := range cm.Data {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, args := range [][]string{{"config", "parse", "kong.yml"}, {"lint", "kong.yml"}} {
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: luagate %s: %v\n%s", source, strings.Join(args, " "), err, out)
			}
		}
	}
}

// TestDockerfile checks what the image promises, since no Docker engine
// runs here: multi-stage, a static non-root runtime with CA certificates,
// Kong's config path, the ports, a health check through `luagate health`.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, env []string
	var expose, health, user, entry string
	for _, raw := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ins, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(ins) {
		case "FROM":
			froms = append(froms, rest)
		case "ENV":
			env = append(env, rest)
		case "EXPOSE":
			expose = rest
		case "HEALTHCHECK":
			health = rest
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entry = rest
		}
	}
	if len(froms) < 2 || !strings.Contains(froms[0], " AS build") {
		t.Errorf("not multi-stage: FROM %q", froms)
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless/static") {
		t.Errorf("runtime image %q: want distroless/static (CA certificates, no libc)", last)
	}
	if f := strings.Fields(expose); !slices.Equal(f, []string{"8000", "8001", "8007"}) {
		t.Errorf("EXPOSE %q", expose)
	}
	if !strings.Contains(health, `"luagate", "health"`) && !strings.Contains(health, `luagate", "health"`) {
		t.Errorf("HEALTHCHECK %q does not run luagate health", health)
	}
	if user == "" || user == "root" || user == "0" {
		t.Errorf("USER %q", user)
	}
	if !strings.Contains(entry, "luagate") {
		t.Errorf("ENTRYPOINT %q", entry)
	}
	envs := strings.Join(env, "\n")
	for _, want := range []string{"KONG_DECLARATIVE_CONFIG=/kong/declarative/kong.yml", "KONG_STATUS_LISTEN=", "KONG_DATABASE=off"} {
		if !strings.Contains(envs, want) {
			t.Errorf("ENV lacks %s", want)
		}
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	ign, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "bin/", "deploy/"} {
		if !strings.Contains(string(ign), want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
