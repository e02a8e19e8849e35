#!/bin/sh
# tools/device-bundle.sh - put what the GPU tests and make bench need on a
# lent GPU machine (which has CUDA and PyTorch but none of our Debian
# packages and no package registry) into .devbundle.tar.xz (about 16 MB),
# for the device tool to carry: the shared libraries our programs and test
# tools link, and the tools the tests call (jq, bc).
#   make all build/tests/gpu-check build/tests/gpu-bench build/tests/mkrec
#   tools/device-bundle.sh
# then, in the device's command (carry .devbundle.tar.xz, bin, build/tests):
#   mkdir -p /tmp/b && tar -xJf .devbundle.tar.xz -C /tmp/b &&
#   export LD_LIBRARY_PATH=/tmp/b/lib PATH=/tmp/b/bin:$PATH &&
#   tests/run-shell.sh gpu && bench/run.sh 3 gpu
# The CUDA runtime and cuBLAS are the device's own (its driver must match).
set -eu
cd "$(dirname "$0")/.."
out=.devbundle
rm -rf $out
mkdir -p $out/lib $out/bin
tools="jq bc"
for t in $tools; do cp "$(command -v "$t")" $out/bin/; done
for f in bin/* build/tests/* $out/bin/*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'
done | sort -u | while read -r lib; do
	case $(basename "$lib") in
	# the C library, and CUDA's, come from the machine itself
	libc.so*|libm.so*|ld-linux*|libpthread.so*|libdl.so*|librt.so*|libcud*|libcublas*|libnvidia*) ;;
	*) cp -L "$lib" $out/lib/ ;;
	esac
done
tar -cJf $out.tar.xz -C $out .
rm -rf $out
ls -l $out.tar.xz
