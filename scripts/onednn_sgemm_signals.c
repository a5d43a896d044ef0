/*
 * Reproduces oneDNN 3.11's dnnl_sgemm corrupting the heap when a signal interrupts it
 * (docs/performance.md, "oneDNN's sgemm corrupts memory under signals"). hbp therefore runs its
 * float32 products on oneDNN's matmul primitive, never on dnnl_sgemm.
 *
 *   D=$(dirname "$(find ~/.javacpp/cache -name 'libdnnl.so.3' | head -1)")
 *   gcc -O1 scripts/onednn_sgemm_signals.c -o /tmp/sgemm-signals -L"$D" -l:libdnnl.so.3 -Wl,-rpath,"$D"
 *   /tmp/sgemm-signals 512 500 1024 30        # aborts: "corrupted size vs. prev_size ..."
 *   /tmp/sgemm-signals 512 500 1024 30 quiet  # no timer: runs clean
 *
 * (The JavaCPP cache holds libdnnl once an hbp float32 command has run.) Arguments: m n k
 * (column-major C = A B, m x n, inner k), repetitions, and "quiet" to leave the timer off.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

extern int dnnl_sgemm(char transa, char transb, long M, long N, long K, float alpha, const float *A, long lda,
                      const float *B, long ldb, float beta, float *C, long ldc);

static void ignore(int signal) { (void) signal; }

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s m n k repetitions [quiet]\n", argv[0]);
    return 2;
  }
  long m = atol(argv[1]), n = atol(argv[2]), k = atol(argv[3]);
  int reps = atoi(argv[4]);
  if (argc < 6 || strcmp(argv[5], "quiet") != 0) {
    struct sigaction sa = {0};
    sa.sa_handler = ignore;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, 0);
    struct itimerval every200us = {{0, 200}, {0, 200}};
    setitimer(ITIMER_PROF, &every200us, 0);
  }
  for (int r = 0; r < reps; r++) {
    float *a = calloc((size_t) (m * k), 4), *b = calloc((size_t) (k * n), 4), *c = calloc((size_t) (m * n), 4);
    /* oneDNN's sgemm is row-major: the column-major C = A B is the row-major C' = B' A' */
    int status = dnnl_sgemm('N', 'N', n, m, k, 1.f, b, k, a, m, 0.f, c, m);
    if (status != 0) {
      printf("dnnl_sgemm: status %d\n", status);
      return 1;
    }
    free(a);
    free(b);
    free(c);
  }
  printf("ok\n");
  return 0;
}
