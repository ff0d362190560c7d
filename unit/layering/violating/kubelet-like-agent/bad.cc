// Fixture for the layering check: only the storage adapter may include RocksDB.
#include <rocksdb/db.h>
