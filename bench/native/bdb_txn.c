/*
 * Berkeley DB (5.3): the txn workload as transactions of puts into a B-tree.
 *
 * usage: bdb_txn <env dir> <keys> <puts per tx> <value bytes> sync|nosync
 *
 * The database holds <keys> keys (4-byte big-endian integers, so the B-tree keeps
 * them in numeric order) with a <value bytes> value each. One operation is one
 * transaction of <puts per tx> puts to random keys. `sync`: txn->commit flushes the
 * log (fdatasync) before it returns, durable. `nosync`: DB_TXN_NOSYNC, the log
 * record is written to the log buffer only, not durable (atomicity and isolation
 * kept, durability lost on a crash of the process or the machine).
 * The environment is private (DB_PRIVATE: its regions live in the heap) with a
 * 16 MiB cache, transactions, locking and logging on.
 */
#include <db.h>
#include "driver.h"

static DB_ENV *env;
static DB *db;
static uint32_t keys, nputs, vsize;
static unsigned char value[65536];

static void check(int rc, const char *what) {
  if (rc != 0) die(what, db_strerror(rc));
}

static void put(DB_TXN *txn, uint32_t k, unsigned char *v) {
  unsigned char kb[4] = { (unsigned char)(k >> 24), (unsigned char)(k >> 16), (unsigned char)(k >> 8), (unsigned char)k };
  DBT key, data;
  memset(&key, 0, sizeof key);
  memset(&data, 0, sizeof data);
  key.data = kb;
  key.size = 4;
  data.data = v;
  data.size = vsize;
  check(db->put(db, txn, &key, &data, 0), "DB->put");
}

static void setup(int argc, char **argv) {
  if (argc != 6) die("usage", "bdb_txn <env dir> <keys> <puts per tx> <value bytes> sync|nosync");
  keys = (uint32_t)arg_long("keys", argv[2]);
  nputs = (uint32_t)arg_long("puts", argv[3]);
  vsize = (uint32_t)arg_long("value bytes", argv[4]);
  if (vsize > sizeof value) die("value bytes", "at most 65536");
  int nosync = strcmp(argv[5], "nosync") == 0;
  if (!nosync && strcmp(argv[5], "sync") != 0) die("mode", "must be sync or nosync");
  check(db_env_create(&env, 0), "db_env_create");
  check(env->set_cachesize(env, 0, 16 * 1024 * 1024, 1), "set_cachesize");
  check(env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1), "log_set_config");
  if (nosync) check(env->set_flags(env, DB_TXN_NOSYNC, 1), "set_flags DB_TXN_NOSYNC");
  check(env->open(env, argv[1], DB_CREATE | DB_PRIVATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL, 0600), "DB_ENV->open");
  check(db_create(&db, env, 0), "db_create");
  check(db->open(db, NULL, "data.db", NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT, 0600), "DB->open");
  DB_TXN *txn;
  check(env->txn_begin(env, NULL, &txn, 0), "txn_begin");
  memset(value, 0, sizeof value);
  for (uint32_t k = 0; k < keys; k++) put(txn, k, value);
  check(txn->commit(txn, DB_TXN_SYNC), "commit (load)");
  check(env->txn_checkpoint(env, 0, 0, DB_FORCE), "txn_checkpoint");
}

static void op(void) {
  DB_TXN *txn;
  check(env->txn_begin(env, NULL, &txn, 0), "txn_begin");
  for (uint32_t k = 0; k < nputs; k++) {
    if (vsize == 8) {
      double d = rnd_double();
      memcpy(value, &d, 8);
    } else {
      rnd_fill(value, vsize);
    }
    put(txn, rnd_below(keys), value);
  }
  check(txn->commit(txn, 0), "commit");
}

static void finish(void) {
  db->close(db, 0);
  env->close(env, 0);
}
