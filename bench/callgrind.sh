#!/usr/bin/env bash
# Instructions per call of one profiled part (bench/SharpGrad.Benchmarks `count`), measured with callgrind: immune to the
# load of a shared machine, unlike timings. Runs the part N1 and N2 times under valgrind and divides the difference of the
# instruction totals by N2 - N1 (start-up and JIT cancel out). Tiered compilation is off so that both runs execute the same
# fully optimised code. Valgrind does not emulate AVX-512: the counts are those of the Vector256 (AVX2) code paths.
# Usage: bench/callgrind.sh NAME [N1 N2] [--threads T]     e.g. bench/callgrind.sh gemm-fc1-fwd 10 30
set -euo pipefail
name="$1"; n1="${2:-5}"; n2="${3:-15}"; shift $(( $# >= 3 ? 3 : $# ))
dll="$(cd "$(dirname "$0")" && pwd)/SharpGrad.Benchmarks/bin/Release/net10.0/SharpGrad.Benchmarks.dll"
[ -f "$dll" ] || { echo "build first: dotnet build bench/SharpGrad.Benchmarks -c Release" >&2; exit 1; }
count() {
  local n="$1"; shift
  DOTNET_TieredCompilation=0 DOTNET_TieredPGO=0 DOTNET_ReadyToRun=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    dotnet "$dll" count "$name" "$n" "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
c1=$(count "$n1" "$@"); c2=$(count "$n2" "$@")
echo "$name: $(( (c2 - c1) / (n2 - n1) )) instructions per call ($n1 calls: $c1, $n2 calls: $c2)"
