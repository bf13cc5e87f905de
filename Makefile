# minidocker: the steps are run with "sudo go run ./stepNN-..."; these
# targets run the tests. Both need root.

.PHONY: test test-v2 docs vet lab-check lab-walk bench grade grade-sums slides

# The behaviour suite, the drift check and the docs check, on this kernel.
test:
	go test -count=1 ./...

# The same root tests inside a real cgroup v2 kernel under QEMU (tests/vm/README.md).
test-v2:
	bash tests/vm/run-tests.sh

# Regenerate the diffs and program output that the chapters in docs/ show.
docs:
	go test -count=1 ./tests -run 'TestDocs' -update
	go run ./lab/labgen -sums

vet:
	gofmt -l $$(git ls-files '*.go' | grep -v '^vendor/') | (! grep .)
	go vet ./...

# The lab VM's Vagrantfile and lab/provision.sh, checked here without a VM (lab/README.md). Needs root.
lab-check:
	bash lab/check-provision.sh

# The lab VM booted for real: a systemd Debian under QEMU, provisioned as
# Vagrant would, the learner's path walked with sudo (docs/labs/lab-walk.md),
# the chapters' run-v2 blocks checked against what the VM prints; with
# UPDATE_DOCS=1 they are rewritten from it instead. Needs root; about 8
# minutes, plus about 6 the first time (the image).
lab-walk:
	MINIDOCKER_WALK_UPDATE_DOCS=$(UPDATE_DOCS) bash lab/walk/run.sh

# minidocker against runc, crun and podman (installs them from Debian; several
# minutes; not part of test). Rewrites docs/benchmarks.md's results and plot.
bench:
	bash bench/run.sh

# The teacher's slides, one self-contained HTML file per deck next to its
# Markdown in docs/labs/slides/ (needs pandoc; docs/labs/slides/README.md).
slides:
	bash docs/labs/slides/render.sh

# Grade a student's copies of the steps (docs/labs/grading.md): a score per
# step and a JSON report. LABS is the directory of copies (default ~/lab),
# REPORT the report's path (default LABS/grade-HOST.json). Needs root.
# (Built first, so that a refusal is one line, without go run's "exit status".)
grade:
	@labgen=$$(mktemp -d)/labgen && go build -o $$labgen ./lab/labgen && \
	$$labgen -grade -o "$(LABS)" $(if $(REPORT),-report "$(REPORT)"); rc=$$?; rm -rf $$(dirname $$labgen); exit $$rc

# Rewrite lab/tests.sha256 after changing tests/ (make grade refuses to run
# on a tests/ that differs from it; TestLabsGradeSumsAreCurrent checks it).
grade-sums:
	go run ./lab/labgen -sums
