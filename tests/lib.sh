# Helpers the shell tests source.  Each test runs under bash -eu -o pipefail.

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status N cmd...: run cmd, insist on exit status N
expect_status() {
	local want=$1 got=0
	shift
	"$@" || got=$?
	[ "$got" = "$want" ] || fail "'$*' exited $got, expected $want"
}

# the values of a plain or raw PNM as osteo's planar [C,H,W] JSON array;
# with scale, samples are stretched to 0..255 as PNG's 1/2/4-bit gray is
pnm_planar() {
	pnmtopnm -plain 2>/dev/null | awk -v scale="${1:-}" '
	{ sub(/#.*/, ""); for (i = 1; i <= NF; i++) tok[n++] = $i }
	END {
		c = tok[0] == "P3" ? 3 : 1; w = tok[1]; h = tok[2]; mx = tok[3]
		printf "["
		for (k = 0; k < c; k++)
			for (p = 0; p < w * h; p++) {
				v = tok[4 + p * c + k]
				if (scale != "") v = v * 255 / mx
				printf "%s%d", (k || p) ? "," : "", v
			}
		print "]"
	}'
}

# the image tensor's values as osteo-decode | osteo-dump --data print them
decoded() {
	osteo-decode -q "$@" | osteo-dump --data | jq -c '.tensors.image.data'
}

# grep that reads all its input: `producer | grep -q` can stop early, and
# under pipefail the producer's broken pipe would fail the test
contains() { grep "$@" >/dev/null; }

# a small cohort for error tests: syn.rec, clin.csv, norm.rec (1x4x4),
# enc.rec, fused.rec (two clinical features), model.rec, pred.rec
small_cohort() {
	osteo-synth -q -n "${1:-8}" --images 1 --size 8x8 --records --clinical clin.csv >syn.rec
	osteo-normalize --size 4x4 --method zscore syn.rec >norm.rec
	osteo-fuse -q --clinical clin.csv --columns age,bmd_tscore --missing impute --fit-encoding enc.rec \
		norm.rec >fused.rec
	osteo-train -q -o model.rec --arch dense:4 --epochs 1 fused.rec
	osteo-infer -q -m model.rec fused.rec >pred.rec
}

# true when a program's memory and time are its own: not built with AddressSanitizer (make
# check-asan: shadow memory, and GDCM's worker unlimited) nor run under a wrapper (valgrind)
costs_measurable() {
	[ -z "${OSTEO_WRAP:-}" ] && ! grep -q -a __asan_init "$(command -v osteo-decode)"
}

# kill_rank CKPT VAR=VALUE: once checkpoint CKPT is written (a training under way), SIGKILL the
# osteo-train whose environment holds VAR=VALUE (mpirun's OMPI_COMM_WORLD_RANK, srun's SLURM_PROCID)
kill_rank() {
	local p killed=
	for _ in $(seq 300); do [ -s "$1" ] && break; sleep 0.1; done
	for p in $(pgrep -x osteo-train); do
		if tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "$2"; then
			kill -KILL "$p" && killed=$p
		fi
	done
	[ -n "$killed" ] || fail "no osteo-train with $2 to kill"
}
