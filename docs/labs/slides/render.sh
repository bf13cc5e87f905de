#!/usr/bin/env bash
# Render the slide decks, docs/labs/slides/NN-*.md, into one self-contained
# HTML file each (pandoc's dzslides: its CSS and script are inside the
# file, so a deck opens offline in any browser; arrow keys move).
#
#   bash docs/labs/slides/render.sh [OUTDIR]     (make slides; default: next to the sources)
#
# Any pandoc warning (a resource it cannot find, say) is an error.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-$src}
if ! command -v pandoc >/dev/null 2>&1; then
	echo "render.sh: pandoc is missing: sudo apt-get install pandoc" >&2
	exit 1
fi
# pandoc 2.19 renamed --self-contained to --embed-resources and warns on the old name.
if pandoc --help | grep -q -- '--embed-resources'; then
	embed=(--embed-resources --standalone)
else
	embed=(--self-contained)
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
for deck in "$src"/[0-9][0-9]-*.md; do
	name=$(basename "$deck" .md)
	(cd "$src" && pandoc --fail-if-warnings -f markdown -t dzslides "${embed[@]}" \
		--slide-level=2 -o "$out/$name.html" "$name.md")
	echo "$out/$name.html"
done
