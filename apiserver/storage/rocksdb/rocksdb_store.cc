#include "apiserver/storage/rocksdb/rocksdb_store.h"

#include <chrono>
#include <cstring>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/options_util.h"
#include "rocksdb/write_batch.h"
#include "core/strings/strings.h"
#include "core/concurrency/thread_name.h"

namespace berth::apiserver::storage {
namespace {

// Key layout: objects under "o", the change log under "l" + big-endian revision (so iteration
// order is revision order), counters under "m".
constexpr char kObjectPrefix = 'o';
constexpr char kLogPrefix = 'l';
const std::string kRevisionKey = "m/revision";
const std::string kCompactedKey = "m/compacted";

std::string ObjectKey(std::string_view key) { return StrCat(std::string(1, kObjectPrefix), key); }

void PutBigEndian(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}
std::string LogKey(uint64_t rev) {
  std::string k(1, kLogPrefix);
  PutBigEndian(k, rev);
  return k;
}
std::string EncodeU64(uint64_t v) {
  std::string s;
  PutBigEndian(s, v);
  return s;
}

// Object value: revision(8) + bytes.
std::string EncodeObject(uint64_t rev, std::string_view value) {
  std::string s;
  s.reserve(8 + value.size());
  PutBigEndian(s, rev);
  s.append(value);
  return s;
}

// Log value: type(1) + unix micros(8) + key length(8) + key + value.
std::string EncodeLog(const ChangeEvent& e, absl::Time at) {
  std::string s;
  s.reserve(17 + e.key.size() + e.value.size());
  s.push_back(static_cast<char>(e.type));
  PutBigEndian(s, static_cast<uint64_t>(absl::ToUnixMicros(at)));
  PutBigEndian(s, e.key.size());
  s.append(e.key);
  s.append(e.value);
  return s;
}

bool DecodeLog(uint64_t rev, std::string_view s, ChangeEvent& e, absl::Time* at) {
  if (s.size() < 17) return false;
  e.type = static_cast<ChangeEvent::Type>(s[0]);
  if (at != nullptr) *at = absl::FromUnixMicros(static_cast<int64_t>(GetBigEndian(s.substr(1, 8))));
  uint64_t klen = GetBigEndian(s.substr(9, 8));
  if (17 + klen > s.size()) return false;
  e.key = std::string(s.substr(17, klen));
  e.value = std::string(s.substr(17 + klen));
  e.revision = rev;
  return true;
}

// The one translation of RocksDB codes.
absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = StrCat(what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return absl::UnavailableError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

}  // namespace

struct RocksDbStore::Op {
  enum class Kind { kCreate, kUpdate, kDelete } kind;
  std::string key;
  Encoder encode;
  std::optional<uint64_t> expected;
  // Exactly one of these answers the caller.
  std::promise<absl::StatusOr<uint64_t>> done;
  std::function<void(absl::StatusOr<uint64_t>)> callback;
};

absl::StatusOr<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const std::string& path,
                                                                 const Clock& clock,
                                                                 RocksDbOptions options) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.IncreaseParallelism(2);
  opts.max_open_files = 512;
  // Our own commit thread batches; RocksDB's pipelined writes would only add a handoff.
  opts.enable_pipelined_write = false;
  // Most point reads miss: a create checks that its key is free, and admission looks up
  // objects that usually do not exist. Without a filter each miss reads an index and a data
  // block of every L0 file and level; a 10-bit Bloom filter per key (~1% false positives)
  // answers most of them from memory. The memtable gets one too, for the same misses before a
  // flush.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  opts.memtable_whole_key_filtering = true;
  opts.memtable_prefix_bloom_size_ratio = 0.02;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, path, &raw);
  if (!s.ok()) return FromRocks(s, StrCat("opening RocksDB at ", path));
  std::unique_ptr<rocksdb::DB> db(raw);
  auto store = std::unique_ptr<RocksDbStore>(new RocksDbStore(std::move(db), clock, options));
  return store;
}

RocksDbStore::RocksDbStore(std::unique_ptr<rocksdb::DB> db, const Clock& clock, RocksDbOptions options)
    : db_(std::move(db)), clock_(clock), options_(options),
      snapshots_(std::chrono::seconds(120), 64), read_cache_(options.read_cache_bytes) {
  std::string v;
  if (db_->Get(rocksdb::ReadOptions(), kRevisionKey, &v).ok()) revision_ = GetBigEndian(v);
  if (db_->Get(rocksdb::ReadOptions(), kCompactedKey, &v).ok()) compacted_ = GetBigEndian(v);
  commit_thread_ = std::thread([this] {
    NameThisThread("rocksdb-commit");
    CommitLoop();
  });
  compactor_ = std::make_unique<Periodic>(options_.compaction_interval, [this] {
    (void)CompactNow();
  });
}

RocksDbStore::~RocksDbStore() {
  compactor_.reset();
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  commit_thread_.join();
  db_->FlushWAL(true).PermitUncheckedError();
}

absl::StatusOr<KeyValue> RocksDbStore::Get(std::string_view key) const {
  if (auto hit = read_cache_.Find(key)) return KeyValue{std::string(key), std::move(hit->value), hit->revision};
  uint64_t epoch = read_cache_.Epoch();
  std::string raw;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ObjectKey(key), &raw);
  if (s.IsNotFound()) return absl::NotFoundError(StrCat("key ", key, " not found"));
  if (!s.ok()) return FromRocks(s, "get");
  KeyValue kv{std::string(key), raw.substr(8), GetBigEndian(raw)};
  read_cache_.Fill(key, kv.value, kv.revision, epoch);
  return kv;
}

absl::StatusOr<ListResult> RocksDbStore::List(std::string_view prefix,
                                              const ListOptions& options) const {
  std::shared_ptr<const rocksdb::Snapshot> snap;
  if (options.at_revision != 0) {
    auto cached = snapshots_.Get(options.at_revision, clock_.MonotonicNow());
    if (!cached.has_value()) {
      return absl::OutOfRangeError(
          StrCat("the snapshot at revision ", options.at_revision, " has expired"));
    }
    snap = *cached;
  } else {
    rocksdb::DB* db = db_.get();
    snap = std::shared_ptr<const rocksdb::Snapshot>(
        db->GetSnapshot(), [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.get();
  ListResult result;
  std::string v;
  if (db_->Get(ro, kRevisionKey, &v).ok()) result.revision = GetBigEndian(v);
  std::string full_prefix = ObjectKey(prefix);
  std::string upper = full_prefix;
  upper.push_back('\xff');
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  if (options.start_after.empty()) {
    it->Seek(full_prefix);
  } else {
    std::string start = ObjectKey(options.start_after);
    it->Seek(start);
    if (it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(full_prefix)) break;
    if (options.limit != 0 && result.items.size() == options.limit) {
      result.more = true;
      break;
    }
    rocksdb::Slice val = it->value();
    result.items.push_back({std::string(k.data() + 1, k.size() - 1),
                            std::string(val.data() + 8, val.size() - 8),
                            GetBigEndian(std::string_view(val.data(), 8))});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "list");
  if ((result.more || options.keep_snapshot) && options.at_revision == 0) {
    snapshots_.Put(result.revision, snap, clock_.MonotonicNow());
  }
  return result;
}

absl::StatusOr<uint64_t> RocksDbStore::Submit(std::unique_ptr<Op> op) {
  std::future<absl::StatusOr<uint64_t>> f = op->done.get_future();
  Enqueue(std::move(op));
  return f.get();
}

void RocksDbStore::Enqueue(std::unique_ptr<Op> op) {
  bool inline_commit = false;
  {
    absl::MutexLock lock(&queue_mu_);
    if (!stopping_ && options_.commit_idle_writes_inline && queue_.empty() && !committing_ &&
        last_batch_size_ <= 1) {
      committing_ = true;
      inline_commit = true;
    } else if (!stopping_) {
      queue_.push_back(std::move(op));
      return;
    }
  }
  if (inline_commit) {
    std::vector<std::unique_ptr<Op>> ops;
    ops.push_back(std::move(op));
    CommitBatch(ops);
    absl::MutexLock lock(&queue_mu_);
    committing_ = false;  // what queued meanwhile is the commit thread's
    return;
  }
  absl::Status down = absl::UnavailableError("store is shutting down");
  if (op->callback) {
    op->callback(down);
  } else {
    op->done.set_value(down);
  }
}

void RocksDbStore::CreateAsync(std::string_view key, Encoder encode,
                               std::function<void(absl::StatusOr<uint64_t>)> done) {
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kCreate;
  op->key = std::string(key);
  op->encode = std::move(encode);
  op->callback = std::move(done);
  Enqueue(std::move(op));
}

absl::StatusOr<uint64_t> RocksDbStore::Create(std::string_view key, Encoder encode) {
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kCreate;
  op->key = std::string(key);
  op->encode = std::move(encode);
  return Submit(std::move(op));
}

absl::StatusOr<uint64_t> RocksDbStore::Update(std::string_view key, Encoder encode,
                                              uint64_t expected) {
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kUpdate;
  op->key = std::string(key);
  op->encode = std::move(encode);
  op->expected = expected;
  return Submit(std::move(op));
}

absl::StatusOr<uint64_t> RocksDbStore::Delete(std::string_view key, Encoder final_state,
                                              std::optional<uint64_t> expected) {
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kDelete;
  op->key = std::string(key);
  op->encode = std::move(final_state);
  op->expected = expected;
  return Submit(std::move(op));
}

void RocksDbStore::CommitLoop() {
  std::vector<std::unique_ptr<Op>> ops;
  while (true) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](RocksDbStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue_mu_) {
            return !s->committing_ && (s->stopping_ || !s->queue_.empty());
          },
          this));
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && ops.size() < options_.max_batch) {
        ops.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      committing_ = true;
    }
    CommitBatch(ops);
    absl::MutexLock lock(&queue_mu_);
    committing_ = false;
    last_batch_size_ = ops.size();
    ops.clear();
  }
}

void RocksDbStore::CommitBatch(std::vector<std::unique_ptr<Op>>& ops) {
  // Objects written earlier in this batch shadow the database for later operations in it.
  struct Current {
    bool exists;
    uint64_t revision;
    std::string value;
  };
  std::unordered_map<std::string, Current> overlay;
  auto current = [&](const std::string& key) -> absl::StatusOr<Current> {
    if (auto it = overlay.find(key); it != overlay.end()) return it->second;
    // The cache holds what every batch before this one wrote: batches are committed one at a
    // time, and each applied its own before the next began.
    if (auto hit = read_cache_.Find(key)) return Current{true, hit->revision, std::move(hit->value)};
    std::string raw;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ObjectKey(key), &raw);
    if (s.IsNotFound()) return Current{false, 0, ""};
    if (!s.ok()) return FromRocks(s, "read before write");
    return Current{true, GetBigEndian(raw), raw.substr(8)};
  };

  rocksdb::WriteBatch batch;
  std::vector<absl::StatusOr<uint64_t>> results(ops.size(), absl::UnknownError("not committed"));
  std::vector<ChangeEvent> events;
  uint64_t rev = revision_.load();
  absl::Time now = clock_.Now();
  for (size_t i = 0; i < ops.size(); ++i) {
    Op& op = *ops[i];
    auto cur = current(op.key);
    if (!cur.ok()) {
      results[i] = cur.status();
      continue;
    }
    if (op.kind == Op::Kind::kCreate && cur->exists) {
      results[i] = absl::AlreadyExistsError(StrCat("key ", op.key, " exists"));
      continue;
    }
    if (op.kind != Op::Kind::kCreate && !cur->exists) {
      results[i] = absl::NotFoundError(StrCat("key ", op.key, " not found"));
      continue;
    }
    if (op.expected.has_value() && cur->revision != *op.expected) {
      results[i] = absl::AbortedError(StrCat("key ", op.key, " is at revision ",
                                                   cur->revision, ", not ", *op.expected));
      continue;
    }
    uint64_t next = rev + 1;
    ChangeEvent e;
    e.key = op.key;
    e.revision = next;
    e.value = op.encode(next);
    e.prev_value = cur->exists ? cur->value : "";
    if (op.kind == Op::Kind::kDelete) {
      e.type = ChangeEvent::Type::kDeleted;
      batch.Delete(ObjectKey(op.key));
      overlay[op.key] = Current{false, 0, ""};
    } else {
      e.type = op.kind == Op::Kind::kCreate ? ChangeEvent::Type::kAdded : ChangeEvent::Type::kModified;
      batch.Put(ObjectKey(op.key), EncodeObject(next, e.value));
      overlay[op.key] = Current{true, next, e.value};
    }
    batch.Put(LogKey(next), EncodeLog(e, now));
    rev = next;
    results[i] = next;
    events.push_back(std::move(e));
  }

  if (!events.empty()) {
    batch.Put(kRevisionKey, EncodeU64(rev));
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    auto start = clock_.MonotonicNow();
    rocksdb::Status s = db_->Write(wo, &batch);
    double seconds = std::chrono::duration<double>(clock_.MonotonicNow() - start).count();
    if (!s.ok()) {
      absl::Status failure = FromRocks(s, "commit");
      for (auto& r : results) {
        if (r.ok()) r = failure;
      }
    } else {
      read_cache_.Apply(events);  // before anyone can learn of the batch
      revision_.store(rev);
      for (const ChangeEvent& e : events) subscribers_.Publish(e);
      std::function<void(size_t, double)> observer;
      {
        absl::MutexLock lock(&stats_mu_);
        stats_.batches++;
        stats_.mutations += events.size();
        stats_.total_sync_seconds += seconds;
        observer = observer_;
      }
      if (observer) observer(events.size(), seconds);
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i]->callback) {
      ops[i]->callback(std::move(results[i]));
    } else {
      ops[i]->done.set_value(std::move(results[i]));
    }
  }
}

uint64_t RocksDbStore::CurrentRevision() const { return revision_.load(); }
uint64_t RocksDbStore::CompactedRevision() const { return compacted_.load(); }

absl::StatusOr<std::vector<ChangeEvent>> RocksDbStore::ReadLog(uint64_t after, size_t limit) const {
  absl::MutexLock lock(&compact_mu_);  // no compaction while we read past the check
  uint64_t compacted = compacted_.load();
  if (after < compacted) {
    return absl::OutOfRangeError(
        StrCat("too old resource version: ", after, " (", compacted, ")"));
  }
  std::vector<ChangeEvent> out;
  std::string upper(1, kLogPrefix + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(LogKey(after + 1)); it->Valid(); it->Next()) {
    if (limit != 0 && out.size() == limit) break;
    rocksdb::Slice k = it->key();
    uint64_t rev = GetBigEndian(std::string_view(k.data() + 1, k.size() - 1));
    ChangeEvent e;
    if (!DecodeLog(rev, std::string_view(it->value().data(), it->value().size()), e, nullptr)) {
      return absl::DataLossError(StrCat("corrupt change-log entry at revision ", rev));
    }
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read log");
  return out;
}

std::unique_ptr<Subscription> RocksDbStore::Subscribe(std::function<void(const ChangeEvent&)> sink) {
  return subscribers_.Add(std::move(sink));
}

absl::StatusOr<uint64_t> RocksDbStore::CompactNow() {
  absl::MutexLock lock(&compact_mu_);
  uint64_t current = revision_.load();
  uint64_t compacted = compacted_.load();
  if (current <= options_.retention.min_events) return compacted;
  // Events at or below `event_floor` are outside the newest min_events.
  uint64_t event_floor = current - options_.retention.min_events;
  absl::Time cutoff = clock_.Now() - options_.retention.min_age;
  uint64_t cut = compacted;
  std::string upper = LogKey(event_floor + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(LogKey(compacted + 1)); it->Valid(); it->Next()) {
    ChangeEvent e;
    absl::Time at;
    uint64_t rev = GetBigEndian(std::string_view(it->key().data() + 1, it->key().size() - 1));
    if (!DecodeLog(rev, std::string_view(it->value().data(), it->value().size()), e, &at)) break;
    if (at >= cutoff) break;
    cut = rev;
  }
  if (cut == compacted) return compacted;
  rocksdb::WriteBatch batch;
  batch.DeleteRange(LogKey(compacted + 1), LogKey(cut + 1));
  batch.Put(kCompactedKey, EncodeU64(cut));
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return FromRocks(s, "compact");
  compacted_.store(cut);
  return cut;
}

absl::Status RocksDbStore::CompactFiles() {
  rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
  if (s.ok()) s = db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
  if (!s.ok()) return FromRocks(s, "compact files");
  return absl::OkStatus();
}

void RocksDbStore::SetCommitObserver(std::function<void(size_t, double)> observer) {
  absl::MutexLock lock(&stats_mu_);
  observer_ = std::move(observer);
}

CommitStats RocksDbStore::Stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace berth::apiserver::storage
