#!/usr/bin/env bash
# Push the demo to a Hugging Face Space: this folder (README with the Space metadata, requirements.txt, app.py) plus
# the afmatting package (with its bundled weights and example photos), in one commit.
#
#   space/deploy.sh USER/SPACE_NAME        # needs `hf auth login` (or HF_TOKEN) with write access
#   space/deploy.sh USER/SPACE_NAME --dry-run   # only build the folder that would be uploaded, and print its path
set -euo pipefail

repo="${1:?usage: space/deploy.sh USER/SPACE_NAME [--dry-run]}"
root="$(cd "$(dirname "$0")/.." && pwd)"
stage="$(mktemp -d)"

cp "$root/space/README.md" "$root/space/requirements.txt" "$root/space/app.py" "$stage/"
cp -r "$root/afmatting" "$stage/afmatting"
find "$stage" \( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +

if [ "${2:-}" = "--dry-run" ]; then
    echo "$stage"
    exit 0
fi
trap 'rm -rf "$stage"' EXIT
hf repos create "$repo" --type space --sdk gradio --exist-ok
hf upload "$repo" "$stage" . --type space --commit-message "Deploy afmatting demo"
echo "https://huggingface.co/spaces/$repo"
