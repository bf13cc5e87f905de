// Checks of step 08 and every step after it: containers are kept, and a
// commit turns a writable layer into an image layer stored by digest.

package tests

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// imageFile is the part of a stored image config the tests read.
type imageFile struct {
	Parent string `json:"parent"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// stateDir gives a test a state directory of its own.
func stateDir(t *testing.T) (string, []string) {
	dir := t.TempDir()
	return dir, []string{"MINIDOCKER_ROOT=" + dir}
}

// storedImage reads an image's config from the store by its name.
func storedImage(t *testing.T, root, name string) imageFile {
	t.Helper()
	repos := map[string]string{}
	data, err := os.ReadFile(filepath.Join(root, "repositories.json"))
	if err != nil || json.Unmarshal(data, &repos) != nil {
		t.Fatalf("read repositories.json: %v", err)
	}
	id, ok := repos[name+":latest"]
	if !ok {
		t.Fatalf("no image %s in %v", name, repos)
	}
	var img imageFile
	data, err = os.ReadFile(filepath.Join(root, "images", strings.TrimPrefix(id, "sha256:")+".json"))
	if err != nil || json.Unmarshal(data, &img) != nil {
		t.Fatalf("read image %s: %v", id, err)
	}
	return img
}

// layerTar is where the store keeps a layer's bytes.
func layerTar(root, digest string) string {
	return filepath.Join(root, "layers", strings.TrimPrefix(digest, "sha256:"), "layer.tar")
}

func TestCommitMakesAnImageOfTheChanges(t *testing.T) {
	forSteps(t, stepsFrom(8), func(t *testing.T, s step) {
		containerTest(t)
		root, env := stateDir(t)
		// A parent image with a directory of content, then a child that
		// adds a file, deletes one and empties that directory.
		mustRunEnv(t, s, env, "-q", "--name", "first", "--", "sh", "-c", "mkdir /data; echo below > /data/file")
		mustRunEnv(t, s, env, "commit", "-q", "first", "withdata")
		mustRunEnv(t, s, env, "-q", "--image", "withdata", "--name", "changed", "--", "sh", "-c", "mkdir -p /opt; touch /opt/x; rm /bin/true; rm -r /data; mkdir /data")
		mustRunEnv(t, s, env, "commit", "-q", "changed", "mine")

		child := mustRunEnv(t, s, env, "-q", "--rm", "--image", "mine", "--", "sh", "-c", "ls /opt; ls /bin/true 2>&1; exit 0")
		if !strings.HasPrefix(child.stdout, "x\n") || !strings.Contains(child.stdout, "No such file") {
			t.Errorf("the new image does not show /opt/x and the deletion of /bin/true:\n%s", child.stdout)
		}
		if data := mustRunEnv(t, s, env, "-q", "--rm", "--image", "mine", "--", "ls", "-A", "/data"); data.stdout != "" {
			t.Errorf("the new image's /data, removed and made again, shows the parent's file: %q", data.stdout)
		}
		parent := runWithEnv(t, s, env, "-q", "--rm", "--", "ls", "/opt")
		if parent.code == 0 {
			t.Errorf("the parent image shows /opt after the commit:\n%s", parent.stdout)
		}

		base, mine := storedImage(t, root, "withdata"), storedImage(t, root, "mine")
		if len(mine.RootFS.DiffIDs) != len(base.RootFS.DiffIDs)+1 ||
			strings.Join(mine.RootFS.DiffIDs[:len(base.RootFS.DiffIDs)], " ") != strings.Join(base.RootFS.DiffIDs, " ") {
			t.Errorf("the new image's layers %v are not the parent's %v plus one", mine.RootFS.DiffIDs, base.RootFS.DiffIDs)
		}
		for _, digest := range mine.RootFS.DiffIDs {
			data, err := os.ReadFile(layerTar(root, digest))
			sum := sha256.Sum256(data)
			if err != nil || "sha256:"+hex.EncodeToString(sum[:]) != digest {
				t.Errorf("layer %s: its bytes do not hash to its name (%v)", digest, err)
			}
		}
		top := tarNames(t, layerTar(root, mine.RootFS.DiffIDs[len(mine.RootFS.DiffIDs)-1]))
		for _, want := range []string{"opt/x", "bin/.wh.true", "data/.wh..wh..opq"} {
			if !top[want] {
				t.Errorf("the committed layer lacks %s; it has %v", want, top)
			}
		}
	})
}

// tarNames lists the entry names of a tar file.
func tarNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[strings.TrimSuffix(hdr.Name, "/")] = true
	}
}

func TestCommittingTwiceStoresTheLayerOnce(t *testing.T) {
	forSteps(t, stepsFrom(8), func(t *testing.T, s step) {
		containerTest(t)
		root, env := stateDir(t)
		mustRunEnv(t, s, env, "-q", "--name", "twice", "--", "touch", "/made")
		mustRunEnv(t, s, env, "commit", "twice", "one")
		layers, _ := os.ReadDir(filepath.Join(root, "layers"))
		again := mustRunEnv(t, s, env, "commit", "twice", "two")
		after, _ := os.ReadDir(filepath.Join(root, "layers"))
		if len(after) != len(layers) || !strings.Contains(again.stderr, "stored once") {
			t.Errorf("a second commit of the same container: %d layers before, %d after\n%s", len(layers), len(after), again.stderr)
		}
		one, two := storedImage(t, root, "one"), storedImage(t, root, "two")
		if strings.Join(one.RootFS.DiffIDs, " ") != strings.Join(two.RootFS.DiffIDs, " ") {
			t.Errorf("two commits of one container have different layers: %v and %v", one.RootFS.DiffIDs, two.RootFS.DiffIDs)
		}
	})
}

// containerLine is how a step narrates a new container: its full id and name.
var containerLine = regexp.MustCompile(`container ([0-9a-f]+), named (\S+),`)

func TestContainersHaveIdsNamesAndAreKept(t *testing.T) {
	forSteps(t, stepsFrom(8), func(t *testing.T, s step) {
		containerTest(t)
		root, env := stateDir(t)
		r := mustRunEnv(t, s, env, "--name", "keeper", "--", "true")
		m := containerLine.FindStringSubmatch(r.stderr)
		if m == nil || len(m[1]) != 64 || m[2] != "keeper" {
			t.Fatalf("no 64-hex id and name narrated: %v\n%s", m, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(root, "containers", m[1], "upper")); err != nil {
			t.Errorf("the container's writable layer is not kept: %v", err)
		}
		if again := runWithEnv(t, s, env, "--name", "keeper", "--", "true"); again.code != 125 || !strings.Contains(again.stderr, "already in use") {
			t.Errorf("a second container named keeper: exit %d, %q", again.code, again.stderr)
		}
		if used := runWithEnv(t, s, env, "rmi", "base"); used.code == 0 || !strings.Contains(used.stderr, "is using it") {
			t.Errorf("rmi of an image a container uses: exit %d, %q; want a refusal", used.code, used.stderr)
		}
		if rm := mustRunEnv(t, s, env, "rm", m[1][:12]); strings.TrimSpace(rm.stdout) != m[1][:12] {
			t.Errorf("rm by a 12-digit prefix printed %q", rm.stdout)
		}
		if _, err := os.Stat(filepath.Join(root, "containers", m[1])); err == nil {
			t.Errorf("rm left the container's directory behind")
		}
		mustRunEnv(t, s, env, "rmi", "base")
		if layers, _ := os.ReadDir(filepath.Join(root, "layers")); len(layers) != 0 {
			t.Errorf("rmi of the last image left %d layers behind", len(layers))
		}
	})
}

func TestKeepIsNotAFlagOnceContainersAreKept(t *testing.T) {
	forSteps(t, stepsFrom(8), func(t *testing.T, s step) {
		// Every container is kept until rm from step 08 on; a --keep that
		// is accepted and ignored would let "--keep --rm" remove silently.
		r := run(t, s, "--keep", "--rm", "--", "true")
		if r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --keep") {
			t.Errorf("--keep --rm: exit %d, stderr %q; want 2 and \"unknown flag: --keep\"", r.code, r.stderr)
		}
	})
}

// mustRunEnv runs a step with extra environment and fails unless it exits 0.
func mustRunEnv(t *testing.T, s step, env []string, args ...string) result {
	t.Helper()
	r := runWithEnv(t, s, env, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit status %d\nstdout:\n%s\nstderr:\n%s", s.name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}
