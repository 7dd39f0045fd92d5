/*
 * Kyoto Cabinet (C API, kclangc.h): transactions of sets into a hash or tree database.
 *
 * usage: kc_kv <db file: .kch hash | .kct B+ tree> <keys> <sets per tx> <value bytes> sync|nosync
 *
 * The database is loaded with <keys> keys ("k" and 8 decimal digits) of <value bytes>
 * each and synchronized. One operation is one transaction (kcdbbegintran) of
 * <sets per tx> sets of random keys to new random values. `sync`: a hard transaction,
 * the commit synchronizes the file and its write-ahead log with the device (fsync)
 * before it returns, durable. `nosync`: a soft transaction, atomic against a crash
 * of the process only (the commit writes the file without fsync).
 */
#include <kclangc.h>
#include "driver.h"

static KCDB *db;
static uint32_t keys, sets, vsize;
static int hard;
static unsigned char value[65536];

static void setup(int argc, char **argv) {
  if (argc != 6) die("usage", "kc_kv <db file .kch|.kct> <keys> <sets per tx> <value bytes> sync|nosync");
  keys = (uint32_t)arg_long("keys", argv[2]);
  sets = (uint32_t)arg_long("sets", argv[3]);
  vsize = (uint32_t)arg_long("value bytes", argv[4]);
  if (vsize > sizeof value) die("value bytes", "at most 65536");
  hard = strcmp(argv[5], "sync") == 0;
  if (!hard && strcmp(argv[5], "nosync") != 0) die("mode", "must be sync or nosync");
  db = kcdbnew();
  if (!kcdbopen(db, argv[1], KCOWRITER | KCOCREATE | KCOTRUNCATE)) die("kcdbopen", kcecodename(kcdbecode(db)));
  char key[16];
  memset(value, 0, sizeof value);
  for (uint32_t k = 0; k < keys; k++) {
    snprintf(key, sizeof key, "k%08u", k);
    if (!kcdbset(db, key, 9, (const char *)value, vsize)) die("kcdbset (load)", kcecodename(kcdbecode(db)));
  }
  if (!kcdbsync(db, 1, NULL, NULL)) die("kcdbsync", kcecodename(kcdbecode(db)));
}

static void op(void) {
  char key[16];
  if (!kcdbbegintran(db, hard)) die("kcdbbegintran", kcecodename(kcdbecode(db)));
  for (uint32_t k = 0; k < sets; k++) {
    snprintf(key, sizeof key, "k%08u", rnd_below(keys));
    rnd_fill(value, vsize);
    if (!kcdbset(db, key, 9, (const char *)value, vsize)) die("kcdbset", kcecodename(kcdbecode(db)));
  }
  if (!kcdbendtran(db, 1)) die("kcdbendtran", kcecodename(kcdbecode(db)));
}

static void finish(void) {
  kcdbclose(db);
  kcdbdel(db);
}
