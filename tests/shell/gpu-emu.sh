# the CUDA backend compiled for the CPU (tests/gpu/emu): the kernels'
# arithmetic and indexing, the network's buffers and the programs' use of
# them, tested where there is no GPU.  Races and device faults need gpu.sh.
. "$TOP/tests/lib.sh"
"$TOP/build/emu/gpu-check" || fail "kernels against the CPU (emulated)"
GPU_BIN=$TOP/build/emu/bin
. "$TOP/tests/gpu/programs.sh"
