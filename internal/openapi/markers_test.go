package openapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// moduleDir locates a module's sources in the module cache, or skips.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Skipf("sources of %s unavailable: %v", module, err)
	}
	return dir
}

// TestFieldMarkerTables re-derives optionalFields and requiredFields from
// the +optional / +required comments in the k8s.io/api sources, so that an
// API upgrade that adds markers fails here instead of in kubectl.
func TestFieldMarkerTables(t *testing.T) {
	sources := map[string]string{} // directory -> definition prefix
	apiDir := moduleDir(t, "k8s.io/api")
	dirs, err := filepath.Glob(filepath.Join(apiDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		rel, _ := filepath.Rel(apiDir, d)
		sources[d] = "io.k8s.api." + strings.ReplaceAll(rel, string(filepath.Separator), ".")
	}
	sources[filepath.Join(moduleDir(t, "k8s.io/apimachinery"), "pkg", "apis", "meta", "v1")] = "io.k8s.apimachinery.pkg.apis.meta.v1"

	wantOptional, wantRequired := map[string]bool{}, map[string]bool{}
	for dir, prefix := range sources {
		scanMarkers(t, dir, prefix, wantOptional, wantRequired)
	}
	if len(wantOptional) == 0 {
		t.Fatal("scan found no +optional markers; scanner broken?")
	}
	tests := []struct {
		name      string
		got, want map[string]bool
	}{
		{"optional", optionalFields, wantOptional},
		{"required", requiredFields, wantRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k := range tc.want {
				if !tc.got[k] {
					t.Errorf("%s missing from the %s table", k, tc.name)
				}
			}
			for k := range tc.got {
				if !tc.want[k] {
					t.Errorf("%s in the %s table but not in the sources", k, tc.name)
				}
			}
		})
	}
}

// scanMarkers records fields whose marker comment contradicts their json
// tag: +optional without omitempty, +required with omitempty.
func scanMarkers(t *testing.T, dir, prefix string, optional, required map[string]bool) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	for _, path := range files {
		base := filepath.Base(path)
		if strings.HasSuffix(base, "_test.go") || strings.Contains(base, "generated") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := spec.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, field := range st.Fields.List {
				name, omitempty, ok := fieldJSON(field)
				if !ok {
					continue
				}
				key := prefix + "." + spec.Name.Name + "." + name
				switch {
				case hasMarker(field.Doc, "+optional") && !omitempty:
					optional[key] = true
				case hasMarker(field.Doc, "+required") && omitempty:
					required[key] = true
				}
			}
			return false
		})
	}
}

func fieldJSON(field *ast.Field) (name string, omitempty, ok bool) {
	if field.Tag == nil {
		return "", false, false
	}
	raw, err := strconv.Unquote(field.Tag.Value)
	if err != nil {
		return "", false, false
	}
	tag, found := reflect.StructTag(raw).Lookup("json")
	if !found {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" || name == "-" || strings.Contains(","+opts+",", ",inline,") {
		return "", false, false
	}
	return name, strings.Contains(","+opts+",", ",omitempty,"), true
}

func hasMarker(doc *ast.CommentGroup, marker string) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
		if text == marker || strings.HasPrefix(text, marker+"=") || strings.HasPrefix(text, marker+" ") {
			return true
		}
	}
	return false
}
