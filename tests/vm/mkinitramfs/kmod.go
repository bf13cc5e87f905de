// kmod.go — pick kernel modules and their dependencies out of an unpacked
// kernel package, without depmod and without root.
//
// Debian's linux-image package ships no modules.dep (depmod writes it when the
// package is installed, and we only unpack it), so dependencies are read from
// each module itself: the ELF section .modinfo holds NUL-separated key=value
// strings, among them "depends=a,b". A module is known by its file name with
// "-" written as "_" (the kernel's own rule). Compressed modules (.ko.xz,
// .ko.zst, .ko.gz) are decompressed here, because the kernel can load a
// compressed module only when it was built to, and a plain .ko always loads.
//
// The chosen modules are written flat into STAGING/lib/modules/NAME.ko, and
// STAGING/lib/modules/load-order lists them, dependencies first, one path a
// line: the VM's init loads them in that order with finit_module(2).

package main

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// kmodSuffixes are the file endings of a module, plain or compressed.
var kmodSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// kmodIndex maps a module name (with "_" for "-") to its file.
type kmodIndex map[string]string

// indexModules walks dir (lib/modules/VERSION of an unpacked kernel) for modules.
func indexModules(dir string) (kmodIndex, error) {
	idx := kmodIndex{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, suf := range kmodSuffixes {
			if strings.HasSuffix(d.Name(), suf) {
				idx[moduleName(strings.TrimSuffix(d.Name(), suf))] = path
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index kernel modules in %s: %w", dir, err)
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("no kernel modules (*.ko*) under %s", dir)
	}
	return idx, nil
}

// moduleName normalises a module name the way the kernel does ("-" is "_").
func moduleName(s string) string {
	return strings.ReplaceAll(s, "-", "_")
}

// readModule returns a module's bytes, decompressed.
func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko.gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("gunzip %s: %w", path, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(path, ".ko.xz"):
		return exec.Command("xz", "-dc", path).Output()
	case strings.HasSuffix(path, ".ko.zst"):
		return exec.Command("zstd", "-dcq", path).Output()
	}
	return os.ReadFile(path)
}

// moduleDepends returns the names in a module's "depends=" modinfo field.
func moduleDepends(name string, ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, fmt.Errorf("module %s is not ELF: %w", name, err)
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", name)
	}
	info, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo of %s: %w", name, err)
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok && len(v) > 0 {
			deps := strings.Split(string(v), ",")
			for i := range deps {
				deps[i] = moduleName(deps[i])
			}
			return deps, nil
		}
	}
	return nil, nil
}

// resolver walks module dependencies depth first.
type resolver struct {
	idx      kmodIndex
	files    map[string][]byte // decompressed modules, by name
	order    []string          // each module after those it depends on
	visiting map[string]bool   // on the current path, to catch cycles
}

// resolveModules returns the wanted modules and their dependencies, each
// after the modules it depends on, with their decompressed bytes. A wanted
// module the kernel lacks (built in, or not built at all) is reported on
// stderr and skipped; a missing dependency is an error.
func resolveModules(idx kmodIndex, wanted []string) (order []string, files map[string][]byte, err error) {
	r := &resolver{idx: idx, files: map[string][]byte{}, visiting: map[string]bool{}}
	for _, w := range wanted {
		w = moduleName(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		if _, ok := idx[w]; !ok {
			fmt.Fprintf(os.Stderr, "mkinitramfs: module %s not found (built in or not built); skipped\n", w)
			continue
		}
		if err := r.visit(w); err != nil {
			return nil, nil, err
		}
	}
	return r.order, r.files, nil
}

// visit adds name after everything it depends on, unless it is there already.
func (r *resolver) visit(name string) error {
	if _, done := r.files[name]; done {
		return nil
	}
	if r.visiting[name] {
		return fmt.Errorf("module dependency cycle through %s", name)
	}
	r.visiting[name] = true
	ko, err := readModule(r.idx[name])
	if err != nil {
		return fmt.Errorf("read module %s (%s): %w", name, r.idx[name], err)
	}
	deps, err := moduleDepends(name, ko)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if _, ok := r.idx[d]; !ok {
			return fmt.Errorf("module %s depends on %s, which is not in the kernel package", name, d)
		}
		if err := r.visit(d); err != nil {
			return err
		}
	}
	r.files[name] = ko
	r.order = append(r.order, name)
	return nil
}

// stageModules copies the resolved modules into root/lib/modules and writes
// root/lib/modules/load-order.
func stageModules(root, kmodDir string, wanted []string) error {
	idx, err := indexModules(kmodDir)
	if err != nil {
		return err
	}
	order, files, err := resolveModules(idx, wanted)
	if err != nil {
		return err
	}
	dir := filepath.Join(root, "lib", "modules")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var list strings.Builder
	for _, name := range order {
		if err := os.WriteFile(filepath.Join(dir, name+".ko"), files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&list, "/lib/modules/%s.ko\n", name)
	}
	fmt.Fprintf(os.Stderr, "mkinitramfs: %d modules: %s\n", len(order), strings.Join(order, " "))
	return os.WriteFile(filepath.Join(dir, "load-order"), []byte(list.String()), 0o644)
}
