#!/bin/sh
# Install the Debian packages osteo builds, tests and runs with, when any
# is missing.  As root it runs apt-get; otherwise it prints the exact line
# to run and fails, so `make check` and `make demo` never half-work.
#   tools/deps.sh [build|check|demo|fuzz|valgrind|bench]
set -eu
build="build-essential pkg-config libpng-dev libjpeg62-turbo-dev libarchive-dev libgdcm-dev libssl-dev libxgboost-dev
libmsgpack-dev libcsv-dev libdnnl-dev libsvm-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libdcmtk-dev"
check="check mandoc man-db zstd zip unzip strace netpbm libjpeg-turbo-progs jq bc time gnuplot-nox parallel dcmtk libgdcm-tools openssl
python3-onnx python3-opencv python3-numpy python3-torchvision python3-pydicom dicom3tools orthanc curl
libopenmpi-dev openmpi-bin munge slurmctld slurmd slurm-client"
demo="gnuplot-nox jq"
fuzz="clang libclang-rt-14-dev"
valgrind="valgrind"
# make bench's reference: PyTorch with an optimised BLAS behind libblas.so.3;
# scikit-learn and scikit-image hold the real images bench/auto.sh trains on
bench="python3-torch libopenblas0-pthread python3-sklearn python3-skimage"
case "${1:-build}" in
build) want=$build ;;
check) want="$build $check" ;;
demo) want="$build $demo" ;;
fuzz) want="$build $check $fuzz" ;;
valgrind) want="$build $check $valgrind" ;;
bench) want="$build $check $bench" ;;
*) echo "usage: tools/deps.sh [build|check|demo|fuzz|valgrind|bench]" >&2; exit 64 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "osteo: missing Debian packages; as root, run:" >&2
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "osteo: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# daemons the packages bring (Orthanc's, munge's, Slurm's) are not started: the tests start
# their own, on 127.0.0.1 and ports of their own, and stop them
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q >&2
apt-get install -y -q --no-install-recommends $missing >&2
