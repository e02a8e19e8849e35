# the CUDA backend on a device: each kernel and whole training steps against
# the CPU's layers (build/tests/gpu-check), then the programs (tests/gpu/programs.sh)
. "$TOP/tests/lib.sh"
if ! osteo-gpuinfo -q; then
	why=$(osteo-gpuinfo 2>&1 || true)
	echo "no CUDA device (${why#osteo-gpuinfo: }); gpu-emu runs these tests on the CPU stand-in"
	exit 77
fi
osteo-gpuinfo
"$TOP/build/tests/gpu-check" || fail "kernels against the CPU"
GPU_BIN=$TOP/bin
. "$TOP/tests/gpu/programs.sh"
