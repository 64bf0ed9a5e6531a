#!/usr/bin/env bash
# Builds the Lambda layer of Python dependencies in .build/layer/python from requirements-lambda.txt:
# manylinux x86_64 wheels for CPython 3.11, whatever machine this runs on. Skips the work when the
# layer is newer than the requirements (and this script); FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=requirements-lambda.txt
layer_root=.build/layer
target=$layer_root/python

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if [[ "${FORCE:-0}" != 1 && -d $target && $target -nt $requirements && $target -nt "$0" ]]; then
  echo "build_layer: $target is up to date with $requirements, skipping"
  exit 0
fi

echo "build_layer: installing $requirements into $target (manylinux2014_x86_64, cp311)"
mkdir -p "$layer_root"
staging=$(mktemp -d "$layer_root/.python.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$staging" \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 \
  --only-binary=:all: -r "$requirements"
find "$staging" -depth -type d -name __pycache__ -exec rm -rf {} +
rm -rf "$staging/bin" # console scripts with this machine's interpreter in their shebang
rm -rf "$target"
mv "$staging" "$target"
chmod 755 "$target"
touch "$target"
echo "build_layer: $(du -sh "$target" | cut -f1) in $target"
