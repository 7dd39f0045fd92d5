/*
 * The loop every native driver shares with bench/lib/native.mjs.
 *
 * Protocol (one line per message, on stdin/stdout):
 *   driver -> node   "ready"            after setup (files created, keys loaded, synced)
 *   node -> driver   "<n>"              perform n operations of the workload
 *   driver -> node   "<n> <ns>"         done: n operations in ns nanoseconds (CLOCK_MONOTONIC)
 *   node -> driver   "q" or end of input  clean up and exit 0
 * Errors go to stderr with exit status 1; node reports them as the row's failure.
 *
 * A driver defines setup(argc, argv), op() (one operation) and finish().
 * Random numbers: xorshift64*, seeded from the clock, the same cost order as the
 * Math.random() calls the JavaScript rows make.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void setup(int argc, char **argv);
static void op(void);
static void finish(void);

static uint64_t rng_state = 88172645463325252ULL;

static inline uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

/* A uniform index in [0, n). */
static inline uint32_t rnd_below(uint32_t n) { return (uint32_t)((rnd() >> 32) * (uint64_t)n >> 32); }

/* A uniform double in [0, 1). */
static inline double rnd_double(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

/* Fill `len` bytes with random data. */
static void rnd_fill(unsigned char *p, size_t len) {
  while (len >= 8) { uint64_t r = rnd(); memcpy(p, &r, 8); p += 8; len -= 8; }
  if (len > 0) { uint64_t r = rnd(); memcpy(p, &r, len); }
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "%s: %s\n", what, why);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Parse a positive integer argument or die with its name. */
static long arg_long(const char *name, const char *text) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v <= 0) die(name, "must be a positive integer");
  return v;
}

int main(int argc, char **argv) {
  rng_state ^= now_ns();
  setup(argc, argv);
  printf("ready\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (line[0] == 'q') break;
    long n = strtol(line, NULL, 10);
    if (n <= 0) die("command", "expected a positive operation count or q");
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) op();
    uint64_t t1 = now_ns();
    printf("%ld %llu\n", n, (unsigned long long)(t1 - t0));
    fflush(stdout);
  }
  finish();
  return 0;
}
