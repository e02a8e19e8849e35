# the CUDA backend compiled for the CPU (tests/gpu/emu): the kernels'
# arithmetic and indexing, the network's buffers and the programs' use of
# them, tested where there is no GPU.  Races and device faults need gpu.sh.
. "$TOP/tests/lib.sh"
"$TOP/build/emu/gpu-check" || fail "kernels against the CPU (emulated)"
# threads in the other order: a race between a launch's threads would show
EMU_REVERSE=1 "$TOP/build/emu/gpu-check" || fail "kernels against the CPU (emulated, threads reversed)"
GPU_BIN=$TOP/build/emu/bin
. "$TOP/tests/gpu/programs.sh"
