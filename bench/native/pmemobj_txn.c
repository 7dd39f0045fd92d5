/*
 * PMDK libpmemobj: the txn workload in TX_BEGIN / pmemobj_tx_add_range transactions.
 *
 * usage: pmemobj_txn <pool file> <slots> <writes per tx> <value bytes>
 *
 * The pool's root object is an array of <slots> values of <value bytes> each (slots
 * 1000, value 8: the 1000-element f64 array of bench/txn.mjs). One operation is one
 * transaction that snapshots (pmemobj_tx_add_range) and overwrites <writes per tx>
 * random slots. On an ordinary file pmem_is_pmem() is false and libpmemobj persists
 * with msync(MS_SYNC) (pmem_msync), so each commit is durable on disk. With
 * PMEM_IS_PMEM_FORCE=1 it believes the file is persistent memory and persists with
 * cache-line flushes only: nothing reaches the disk, not durable (the row says so).
 */
#include <libpmemobj.h>
#include "driver.h"

static PMEMobjpool *pop;
static PMEMoid root;
static unsigned char *base;
static uint32_t slots, writes, vsize;
static unsigned char value[65536];

static void setup(int argc, char **argv) {
  if (argc != 5) die("usage", "pmemobj_txn <pool file> <slots> <writes per tx> <value bytes>");
  slots = (uint32_t)arg_long("slots", argv[2]);
  writes = (uint32_t)arg_long("writes", argv[3]);
  vsize = (uint32_t)arg_long("value bytes", argv[4]);
  if (vsize > sizeof value) die("value bytes", "at most 65536");
  size_t rootsize = (size_t)slots * vsize;
  size_t poolsize = rootsize * 4 + 16 * 1024 * 1024;
  if (poolsize < PMEMOBJ_MIN_POOL) poolsize = PMEMOBJ_MIN_POOL;
  pop = pmemobj_create(argv[1], "pm-bench", poolsize, 0600);
  if (pop == NULL) die("pmemobj_create", pmemobj_errormsg());
  root = pmemobj_root(pop, rootsize);
  if (OID_IS_NULL(root)) die("pmemobj_root", pmemobj_errormsg());
  base = pmemobj_direct(root);
  pmemobj_memset_persist(pop, base, 0, rootsize);
}

static void op(void) {
  TX_BEGIN(pop) {
    for (uint32_t k = 0; k < writes; k++) {
      uint64_t at = (uint64_t)rnd_below(slots) * vsize;
      pmemobj_tx_add_range(root, at, vsize);
      if (vsize == 8) {
        double d = rnd_double();
        memcpy(base + at, &d, 8);
      } else {
        rnd_fill(value, vsize);
        memcpy(base + at, value, vsize);
      }
    }
  } TX_ONABORT {
    die("transaction", pmemobj_errormsg());
  } TX_END
}

static void finish(void) { pmemobj_close(pop); }
