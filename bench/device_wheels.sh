#!/bin/sh
# The packages of ours that the `device` tool's GPU image lacks (it has JAX with CUDA, Flax,
# Optax, Orbax, NumPy, SciPy, pandas, scikit-learn, h5py, Pillow, ...; no network there), as
# CPython 3.12 x86-64 wheels in .whl/ (git-ignored), for `carry: [".whl"]` (bench/bench_gpu.py
# has the device command). About 20 MB; the carried tree's limit is 64 MiB.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-python3}
mkdir -p .whl
for spec in ml_collections==1.1.0 tensorboardX==2.6.5 nilearn==0.14.1 nibabel==5.4.2 PyWavelets==1.9.0 \
            importlib_resources==6.5.2; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$spec"
done
ls -la .whl
