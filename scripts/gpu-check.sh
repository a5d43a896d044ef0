#!/usr/bin/env bash
# GPU check of the OpenCL backend on an NVIDIA machine that has no network and no Java.
#
#   scripts/gpu-check.sh prepare [PAYLOAD]        here: build everything the GPU machine needs into
#                                                 PAYLOAD (default target/gpu-payload, at most 64 MiB)
#   scripts/gpu-check.sh run [PAYLOAD] [OUT]      there, from the repository root: the OpenCL
#                                                 correctness suite and the benchmarks, results in OUT
#
# The payload holds a Java runtime made with jlink from the installed JDK (no javac, no AWT: the
# check needs neither), the hbp jar without the natives it does not use, the compiled tests with
# JUnit's console launcher, and the OpenCL ICD loader unpacked from Debian's ocl-icd-libopencl1 .deb.
# On the GPU machine the loader is pointed at NVIDIA's driver with OCL_ICD_FILENAMES (that machine
# has no /etc/OpenCL/vendors/nvidia.icd). The run takes about 5 minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:-}"
payload="${2:-target/gpu-payload}"

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
    'lib/libJOCL_2_0_6-linux-arm64.so' 'org/knowm/*' 'org/apache/*' 'de/*' 'com/madgag/*' \
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

run() {
  local out="${3:-${OUT:-gpu-results}}"
  mkdir -p "$out"
  export LD_LIBRARY_PATH="$PWD/$payload/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OCL_ICD_FILENAMES="${OCL_ICD_FILENAMES:-libnvidia-opencl.so.1}"
  export OPENBLAS_THREAD_TIMEOUT=4
  local java="$payload/jre/bin/java" jar="$payload/hbp.jar"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/nvidia-smi.txt" || true
  "$java" -jar "$jar" devices | tee "$out/devices.txt"
  # correctness: the backend contract in float32 and float64, the OpenCL-specific tests (generated
  # operators, a network pass) and every curvature test on the device in float64
  "$java" -Dhbp.test.backend=opencl-f64 -jar "$payload/junit-console.jar" execute --disable-banner --details=summary \
    -cp "$jar:$payload/test-classes" --select-class org.hbp.backend.OpenClF32BackendTest --select-class org.hbp.backend.OpenClF64BackendTest \
    --select-package org.hbp.backend.opencl --select-class org.hbp.network.NetworkCurvatureTest --reports-dir "$out/junit" \
    2>&1 | tee "$out/tests.txt"
  # matrix-product throughput of the kernels
  "$java" -cp "$jar:$payload/test-classes" org.hbp.backend.opencl.OpenClThroughput 2>&1 | tee "$out/throughput.txt" || true
  # benchmarks on the paper's nets: the device against this machine's CPUs (float32)
  for dev in opencl cpu; do
    "$java" -jar "$jar" bench --net networks/fc.hbp --batch 500 --backend blas-f32 --device "$dev" --repeat 5 --warmup 3 \
      --strategies exact,kfra,bda --directions 1 --out "$out/bench-fc-$dev-f32.json" 2>&1 | tee -a "$out/bench.txt"
    "$java" -jar "$jar" bench --net networks/c4d3.hbp --batch 100 --backend blas-f32 --device "$dev" --repeat 5 --warmup 2 \
      --strategies exact --directions 1 --out "$out/bench-c4d3-$dev-f32.json" 2>&1 | tee -a "$out/bench.txt"
  done
}

case "$mode" in
  prepare) prepare ;;
  run) run "$@" ;;
  *) echo "usage: $0 prepare [PAYLOAD] | run [PAYLOAD] [OUT]" >&2; exit 2 ;;
esac
