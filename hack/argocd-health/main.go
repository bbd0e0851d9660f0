// Command argocd-health asks Argo CD's own health engine what it shows for Kubernetes objects.
//
// Each object is assessed twice, the way Argo CD's application controller does it
// (gitops-engine's health.GetResourceHealth with argo-cd's Lua resource health overrides):
//
//   - "stock": with no resource customizations, so Argo CD picks its embedded health check
//     (for *.services.k8s.aws that is the wildcard ACK check in resource_customizations);
//   - "configured": with the resource overrides that Argo CD's settings manager reads from the
//     argocd-cm ConfigMap given by --argocd-cm (the same code path as a running Argo CD: the
//     ConfigMap is served to the settings manager through a fake clientset, so its name, its
//     namespace, its part-of label and the resource.customizations.health.<group_kind> key all
//     have to be right for the script to be picked).
//
// Input: JSON objects on stdin, or in the files named as arguments (one object, an array of
// objects, or a stream of objects). Output: one JSON array on stdout, an entry per object.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

const argoModule = "github.com/argoproj/argo-cd/v3"

// Assessment is what Argo CD shows for one object under one set of resource overrides.
type Assessment struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Script says which health script Argo CD chose: "argocd-cm" (a resource customization),
	// "built-in" (embedded in Argo CD) or "" (none: Argo CD has no health for the object).
	Script string `json:"script"`
	Error  string `json:"error,omitempty"`
}

// Result is one object's health under both sets of overrides.
type Result struct {
	Name       string      `json:"name"`
	Stock      Assessment  `json:"stock"`
	Configured *Assessment `json:"configured,omitempty"`
}

// Output is the whole answer.
type Output struct {
	ArgoCD string `json:"argocd"`
	// HealthKeys are the override keys (group/kind globs) that carry a health script, as Argo
	// CD's settings manager parsed them from the ConfigMap.
	HealthKeys []string `json:"healthKeys"`
	Results    []Result `json:"results"`
}

func main() {
	configMapPath := flag.String("argocd-cm", "", "an argocd-cm ConfigMap (YAML or JSON) to load resource customizations from")
	namespace := flag.String("namespace", "argocd", "the namespace Argo CD runs in (where it reads argocd-cm)")
	version := flag.Bool("version", false, "print the Argo CD module version and exit")
	flag.Parse()
	log.SetLevel(log.ErrorLevel)
	log.SetOutput(os.Stderr)

	if *version {
		fmt.Println(argoVersion())
		return
	}
	if err := run(*configMapPath, *namespace, flag.Args(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
}

func run(configMapPath, namespace string, paths []string, stdin io.Reader, stdout io.Writer) error {
	objects, err := readObjects(paths, stdin)
	if err != nil {
		return err
	}
	out := Output{ArgoCD: argoVersion(), HealthKeys: []string{}, Results: []Result{}}
	var configured lua.ResourceHealthOverrides
	if configMapPath != "" {
		overrides, err := loadOverrides(configMapPath, namespace)
		if err != nil {
			return err
		}
		configured = lua.ResourceHealthOverrides(overrides)
		for key, override := range overrides {
			if override.HealthLua != "" {
				out.HealthKeys = append(out.HealthKeys, key)
			}
		}
		sort.Strings(out.HealthKeys)
	}
	for _, obj := range objects {
		result := Result{
			Name:  obj.GetName(),
			Stock: assess(obj, lua.ResourceHealthOverrides{}),
		}
		if configured != nil {
			a := assess(obj, configured)
			result.Configured = &a
		}
		out.Results = append(out.Results, result)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// assess runs Argo CD's resource health assessment as the application controller does.
func assess(obj *unstructured.Unstructured, overrides lua.ResourceHealthOverrides) Assessment {
	a := Assessment{Script: scriptSource(obj, overrides)}
	status, err := health.GetResourceHealth(obj, overrides)
	if err != nil {
		a.Error = err.Error()
	}
	if status != nil {
		a.Status = string(status.Status)
		a.Message = status.Message
	}
	return a
}

// scriptSource names where the health script Argo CD picks for obj comes from.
func scriptSource(obj *unstructured.Unstructured, overrides lua.ResourceHealthOverrides) string {
	script, _, err := lua.VM{ResourceOverrides: overrides}.GetHealthScript(obj)
	if err != nil || script == "" {
		return ""
	}
	for _, override := range overrides {
		if override.HealthLua == script {
			return "argocd-cm"
		}
	}
	return "built-in"
}

// loadOverrides reads resource overrides from a ConfigMap with Argo CD's settings manager.
func loadOverrides(path, namespace string) (map[string]v1alpha1.ResourceOverride, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cm.Namespace == "" {
		cm.Namespace = namespace
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mgr := settings.NewSettingsManager(ctx, fake.NewClientset(&cm), namespace)
	overrides, err := mgr.GetResourceOverrides()
	if err != nil {
		return nil, fmt.Errorf("Argo CD's settings manager read no resource overrides from %s: %w", path, err)
	}
	return overrides, nil
}

// readObjects decodes every JSON object in the files (or stdin): single objects, arrays of them,
// or a stream.
func readObjects(paths []string, stdin io.Reader) ([]*unstructured.Unstructured, error) {
	var sources []io.Reader
	if len(paths) == 0 {
		sources = append(sources, stdin)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sources = append(sources, bytes.NewReader(data))
	}
	var objects []*unstructured.Unstructured
	for _, src := range sources {
		dec := json.NewDecoder(src)
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, err
			}
			items := []json.RawMessage{raw}
			if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
				if err := json.Unmarshal(raw, &items); err != nil {
					return nil, err
				}
			}
			for _, item := range items {
				// Kubernetes' own JSON decoding, as the controller's cache holds objects
				// (integers stay int64).
				obj := &unstructured.Unstructured{}
				if err := obj.UnmarshalJSON(item); err != nil {
					return nil, err
				}
				objects = append(objects, obj)
			}
		}
	}
	return objects, nil
}

// argoVersion is the version of the Argo CD module this binary was built against.
func argoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == argoModule {
				return dep.Version
			}
		}
	}
	return "unknown"
}
