package manifest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Item is an object read from a file.
type Item struct {
	Object *unstructured.Unstructured
	File   string
	Line   int
	// Doc is the text of the document the object was read from (it starts on
	// Line), kept so that an error about one field can point at that field's
	// own line (see FieldLine). It slices the file's text: no copy.
	Doc string
	// Path locates the object in Doc: "" for a document that is the object,
	// "items[3]" for a member of a List.
	Path string
}

// FieldLine is the line of the file on which a field of the object (a path
// such as "spec.resources[0].template") is written, or the nearest enclosing
// one that is; Line when none is.
func (it Item) FieldLine(path string) int {
	if it.Path != "" {
		path = strings.TrimSuffix(it.Path+"."+path, ".")
	}
	return FieldLine(it.Doc, it.Line, path)
}

// Source is "file:line", or File alone when there is no line (an object read
// from a cluster, whose File then says where from).
func (it Item) Source() string {
	if it.Line == 0 {
		return it.File
	}
	return it.File + ":" + strconv.Itoa(it.Line)
}

// ReadPaths reads every object of the given files and directories. A directory
// contributes its *.yaml, *.yml and *.json files, recursively and sorted by
// path; "-" reads standard input. Lists (kind: List or *List) are flattened.
func ReadPaths(paths []string) ([]Item, error) {
	var items []Item
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			var data []byte
			if f == "-" {
				data, err = io.ReadAll(os.Stdin)
			} else {
				data, err = os.ReadFile(f)
			}
			if err != nil {
				return nil, err
			}
			got, err := ReadStream(f, string(data))
			if err != nil {
				return nil, err
			}
			items = append(items, got...)
		}
	}
	return items, nil
}

// ReadStream decodes a named multi-document stream.
func ReadStream(name, data string) ([]Item, error) {
	var items []Item
	for _, doc := range Split(Normalize(data)) {
		obj, err := decodeMap(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, doc.Line, err)
			}
			for i := range list.Items {
				items = append(items, Item{Object: &list.Items[i], File: name, Line: doc.Line, Doc: doc.Text, Path: "items[" + strconv.Itoa(i) + "]"})
			}
			continue
		}
		if err := checkIdentity(doc, u); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		items = append(items, Item{Object: u, File: name, Line: doc.Line, Doc: doc.Text})
	}
	return items, nil
}

func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	sort.Strings(files)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: no .yaml, .yml or .json files", p)
	}
	return files, err
}
