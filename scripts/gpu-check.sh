#!/usr/bin/env bash
# GPU check of the OpenCL backend on an NVIDIA machine that has no network and no Java.
#
#   scripts/gpu-check.sh prepare [PAYLOAD]        here: build everything the GPU machine needs into
#                                                 PAYLOAD (default target/gpu-payload, at most 64 MiB)
#   scripts/gpu-check.sh run [--small] [--parts P,...] [PAYLOAD] [OUT]
#                                                 there, from the repository root: the parts, results
#                                                 in OUT (default $OUT, else gpu-results)
#
# Parts (default all, in this order; each writes its files and a line to OUT/timing.txt):
#   tests  the OpenCL correctness suite (backend contract f32/f64, org.hbp.backend.opencl with the
#          CLBlast tests, NetworkCurvatureTest on opencl-f64)
#   gemm   matrix-product throughput, CLBlast against the hand-written kernels, n = 1024, 2048, 4096,
#          float32 and float64 (hbp bench --gemm-sizes)
#   bench  FC and c4d3: gradient pass, kfra/bda curvature passes, exact/kfra/bda products, on the
#          device (CLBlast, then the kernels) and on this machine's CPUs (blas-f32)
# --small is the dry run for a CPU with PoCL: GEMM n = 64, 128; benches with --quick and small
# batches; the suite reduced to the CLBlast tests. It proves the script and the payload, not speed.
#
# The payload holds a Java runtime made with jlink from the installed JDK (no javac, no AWT: the
# check needs neither), the hbp jar without the natives it does not use, the compiled tests with
# JUnit's console launcher, and the OpenCL ICD loader unpacked from Debian's ocl-icd-libopencl1 .deb.
# On the GPU machine the loader is pointed at NVIDIA's driver with OCL_ICD_FILENAMES (that machine
# has no /etc/OpenCL/vendors/nvidia.icd; set OCL_ICD_FILENAMES to use another driver, e.g. PoCL's
# libpocl.so.2 for the dry run). Progress lines go to standard error (HBP_PROGRESS=lines).
# Not yet timed on a GPU machine (the dry run takes about 1.5 minutes on 2 CPU cores; the whole
# run before CLBlast took about 5 minutes on an H200 machine): where one call is limited to 10
# minutes, run the parts in separate calls (--parts tests, then --parts gemm,bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:-}"
[ $# -gt 0 ] && shift
small=0
parts="tests,gemm,bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small=1; shift ;;
    --parts) parts="$2"; shift 2 ;;
    *) break ;;
  esac
done
payload="${1:-target/gpu-payload}"

prepare() {
  rm -rf "$payload" && mkdir -p "$payload/lib"
  mvn -B -q package -DskipTests >&2
  mvn -B -q test-compile >&2
  # 1. a runtime with the modules hbp's jar and the tests use (jdeps), javac and AWT left out
  jlink --add-modules java.base,java.compiler,java.management,jdk.management,java.sql,java.logging,jdk.unsupported,jdk.zipfs \
    --strip-debug --no-man-pages --no-header-files --compress=2 --output "$payload/jre"
  # 2. the jar without what the check never loads: the LAPACK builds of OpenBLAS, headers, other
  #    platforms' JOCL, the plotting library with its PDF/SVG dependencies (no plots are drawn), and
#    oneDNN's natives (the float32 CPU backend then convolves by unfold and gemm, as it says)
  cp target/hbp.jar "$payload/hbp.jar"
  zip -q -d "$payload/hbp.jar" 'org/bytedeco/openblas/linux-x86_64/libjniopenblas_full.so' \
    'org/bytedeco/openblas/linux-x86_64/libjniopenblas.so' 'org/bytedeco/openblas/linux-x86_64/include/*' \
    'org/bytedeco/openblas/global/openblas_full*' 'lib/JOCL_2_0_6-windows-x86_64.dll' 'lib/libJOCL_2_0_6-apple-*' \
    'lib/libJOCL_2_0_6-linux-arm64.so' 'lib/apple/*' 'lib/windows/*' 'lib/*JOCLBlast*-apple-*' 'lib/*JOCLBlast*-windows-*' 'org/knowm/*' 'org/apache/*' 'de/*' 'com/madgag/*' \
    'org/bytedeco/dnnl/linux-x86_64/*' 'org/bytedeco/opencl/linux-x86_64/*' >/dev/null || true
  # 3. the tests and JUnit's console launcher (from the local Maven repository; fetched when missing)
  local console=~/.m2/repository/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar
  [ -f "$console" ] || mvn -B -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 >&2
  cp "$console" "$payload/junit-console.jar"
  (cd target && tar cf - test-classes) | (cd "$payload" && tar xf -)
  # 4. the OpenCL ICD loader from Debian's package
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download ocl-icd-libopencl1 >/dev/null 2>&1 && dpkg-deb -x ocl-icd-libopencl1_*.deb root)
  cp -a "$tmp"/root/usr/lib/x86_64-linux-gnu/libOpenCL.so* "$payload/lib/"
  rm -rf "$tmp"
  local size; size=$(du -sm "$payload" | cut -f1)
  echo "payload $payload: ${size} MiB" >&2
  if [ "$size" -gt 64 ]; then echo "payload is ${size} MiB, more than the 64 MiB a device call carries" >&2; exit 1; fi
}

# Runs a part's command, its output into OUT/FILE (and the terminal), its seconds into OUT/timing.txt.
part() {
  local name="$1" file="$2"; shift 2
  local t0; t0=$(date +%s)
  echo "== $name" >&2
  "$@" 2>&1 | tee -a "$out/$file" || true
  echo "$name: $(( $(date +%s) - t0 )) s" | tee -a "$out/timing.txt" >&2
}

run() {
  out="${2:-${OUT:-gpu-results}}"
  mkdir -p "$out"
  export LD_LIBRARY_PATH="$PWD/$payload/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OCL_ICD_FILENAMES="${OCL_ICD_FILENAMES:-libnvidia-opencl.so.1}"
  export OPENBLAS_THREAD_TIMEOUT=4 OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=30000 HBP_PROGRESS="${HBP_PROGRESS:-lines}"
  java="$payload/jre/bin/java"
  jar="$payload/hbp.jar"
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "(no nvidia-smi)"; } | tee "$out/nvidia-smi.txt"
  "$java" -jar "$jar" devices | tee "$out/devices.txt"
  case ",$parts," in *,tests,*) tests ;; esac
  case ",$parts," in *,gemm,*) gemm ;; esac
  case ",$parts," in *,bench,*) bench ;; esac
  cat "$out/timing.txt" >&2
}

# correctness: the backend contract in float32 and float64, the OpenCL-specific tests (CLBlast,
# generated operators, a network pass) and every curvature test on the device in float64
tests() {
  local select=(--select-class org.hbp.backend.OpenClF32BackendTest --select-class org.hbp.backend.OpenClF64BackendTest
    --select-package org.hbp.backend.opencl --select-class org.hbp.network.NetworkCurvatureTest)
  [ "$small" = 1 ] && select=(--select-class org.hbp.backend.opencl.OpenClBlastTest)
  part tests tests.txt "$java" -Dhbp.test.backend=opencl-f64 -jar "$payload/junit-console.jar" execute --disable-banner --details=summary \
    -cp "$jar:$payload/test-classes" "${select[@]}" --reports-dir "$out/junit"
}

# matrix-product throughput: CLBlast against the hand-written kernels, float32 and float64
gemm() {
  local sizes=1024,2048,4096 reps=5
  [ "$small" = 1 ] && sizes=64,128 reps=3
  for b in blas-f32 blas-f64; do
    part "gemm $b" gemm.txt "$java" -jar "$jar" bench --gemm-sizes "$sizes" --gemm clblast,kernels --backend "$b" --device opencl \
      --warmup 2 --repeat "$reps" --out "$out/gemm-opencl-${b#blas-}.json" --overwrite
  done
}

# the paper's nets: the device (CLBlast, then the kernels) against this machine's CPUs, float32
bench() {
  local fc=(--batch 500 --repeat 5 --warmup 3) c4d3=(--batch 100 --repeat 5 --warmup 2)
  [ "$small" = 1 ] && fc=(--batch 20 --quick) c4d3=(--batch 4 --quick)
  local r
  for r in opencl:clblast opencl:kernels cpu:; do
    local dev="${r%%:*}" impl="${r#*:}" tag="${r%%:*}" gemm=()
    [ -n "$impl" ] && gemm=(--gemm "$impl") tag="$dev-$impl"
    part "bench fc $tag" bench.txt "$java" -jar "$jar" bench --net networks/fc.hbp "${fc[@]}" --backend blas-f32 --device "$dev" "${gemm[@]}" \
      --strategies exact,kfra,bda --directions 1 --out "$out/bench-fc-$tag-f32.json" --overwrite
    part "bench c4d3 $tag" bench.txt "$java" -jar "$jar" bench --net networks/c4d3.hbp "${c4d3[@]}" --backend blas-f32 --device "$dev" \
      "${gemm[@]}" --strategies exact,kfra,bda --directions 1 --out "$out/bench-c4d3-$tag-f32.json" --overwrite
  done
}

case "$mode" in
  prepare) prepare ;;
  run) run "$payload" "${2:-}" ;;
  *) echo "usage: $0 prepare [PAYLOAD] | run [--small] [--parts tests,gemm,bench] [PAYLOAD] [OUT]" >&2; exit 2 ;;
esac
