#!/usr/bin/env bash
# Builds the Lambda layer of Python dependencies in .build/layer/python from requirements-lambda.txt:
# manylinux x86_64 wheels for CPython 3.12 (the functions' runtime), whatever machine this runs on, and
# their bytecode compiled by a CPython 3.12 (PYC_PYTHON, default python3.12) as unchecked-hash .pyc files:
# the runtime loads them without comparing them to their sources, and without them it would compile
# every module it imports at each cold start (/opt is read-only, so nothing it compiles is kept).
# Skips the work when the layer is newer than the requirements (and this script); FORCE=1 rebuilds anyway.
# Compiles the functions' own modules too, every time, as checked-hash .pyc files next to their sources
# (serverless.yml packages them): the runtime hashes a source instead of compiling it, and a source
# edited since is compiled again, never run stale, on a laptop's CPython 3.12 as well.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=requirements-lambda.txt
layer_root=.build/layer
target=$layer_root/python

runtime_version=3.12
runtime_version_tag=${runtime_version/./}
# The first CPython 3.12 found: PYC_PYTHON, python3.12 on the PATH, or one that pyenv installed.
pyc_python=
for candidate in ${PYC_PYTHON:-} "python$runtime_version" \
  "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"$runtime_version".*/bin/python"$runtime_version"; do
  if [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == "$runtime_version" ]]
  then
    pyc_python=$candidate
    break
  fi
done
if [[ -z $pyc_python ]]; then
  echo "build_layer: no CPython $runtime_version to compile the layer's bytecode with (set PYC_PYTHON)" >&2
  exit 1
fi

find functions -name "*.cpython-$runtime_version_tag.pyc" -delete
"$pyc_python" -m compileall -q -j0 --invalidation-mode checked-hash functions >/dev/null
echo "build_layer: compiled functions/ for CPython $runtime_version (checked-hash)"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

if [[ "${FORCE:-0}" != 1 && -d $target && $target -nt $requirements && $target -nt "$0" ]]; then
  echo "build_layer: $target is up to date with $requirements, skipping"
  exit 0
fi

echo "build_layer: installing $requirements into $target (manylinux2014_x86_64, cp$runtime_version_tag)"
mkdir -p "$layer_root"
staging=$(mktemp -d "$layer_root/.python.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
  --target "$staging" \
  --platform manylinux2014_x86_64 --implementation cp --python-version "$runtime_version" \
  --only-binary=:all: -r "$requirements"
find "$staging" -depth -type d -name __pycache__ -exec rm -rf {} +
rm -rf "$staging/bin" # console scripts with this machine's interpreter in their shebang
# -q quiet, -j0 every core; vendored test files that do not parse as 3.12 are left as sources.
"$pyc_python" -m compileall -q -j0 --invalidation-mode unchecked-hash "$staging" >/dev/null || true
rm -rf "$target"
mv "$staging" "$target"
chmod 755 "$target"
touch "$target"
echo "build_layer: $(du -sh "$target" | cut -f1) in $target"
