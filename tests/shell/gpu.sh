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
# where CUDA's compute-sanitizer is, the same tests for bad accesses, races
# between a block's threads and reads of memory nothing wrote
if command -v compute-sanitizer >/dev/null; then
	for tool in memcheck racecheck initcheck synccheck; do
		compute-sanitizer --tool $tool --error-exitcode 1 -q "$TOP/build/tests/gpu-check" >san.log 2>&1 ||
			{ tail -n 30 san.log; fail "compute-sanitizer --tool $tool"; }
	done
fi
GPU_BIN=$TOP/bin
. "$TOP/tests/gpu/programs.sh"
