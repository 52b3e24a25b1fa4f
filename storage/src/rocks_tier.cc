// SPDX-License-Identifier: Apache-2.0
// Key layout in the default column family (keys are big-endian so chunks sort):
//   'o' key(16)            -> Header (32 B) [+ the bytes, when inline]
//   'c' key(16) index(4)   -> chunk bytes (objects larger than `chunk`)
// Column family "catalog": name -> CatalogEntry::Encode().
// Column family "journal": 'j' key(16) -> JournalOp (1 B).
#include "overlay/storage/rocks_tier.h"

#include <dirent.h>
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "overlay/private_file.h"
#include "rocks_tier_internal.h"

namespace overlay::storage {
namespace {

constexpr uint32_t kHeaderMagic = 0x324c564f;  // "OVL2" little-endian
constexpr size_t kHeaderBytes = 32;
constexpr uint32_t kFlagChunked = 1;
constexpr uint64_t kBatchBytes = 64ull << 20;  // bound on one WriteBatch of chunks
// XXH3 per entry from the caller's buffer to the WAL and memtable (8 is the
// only size 7.x supports in batches).
constexpr size_t kProtectionBytes = 8;

struct Header {
  uint32_t flags = 0;
  uint64_t size = 0;
  uint64_t ctime_ms = 0;
  uint64_t expiry_ms = 0;
};

void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string EncodeHeader(const Header& h) {
  std::string out(kHeaderBytes, '\0');
  Put32(out.data(), kHeaderMagic);
  Put32(out.data() + 4, h.flags);
  Put64(out.data() + 8, h.size);
  Put64(out.data() + 16, h.ctime_ms);
  Put64(out.data() + 24, h.expiry_ms);
  return out;
}

bool DecodeHeader(std::string_view v, Header* h) {
  if (v.size() < kHeaderBytes || Get32(v.data()) != kHeaderMagic) return false;
  h->flags = Get32(v.data() + 4);
  h->size = Get64(v.data() + 8);
  h->ctime_ms = Get64(v.data() + 16);
  h->expiry_ms = Get64(v.data() + 24);
  return true;
}

void PutBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string KeyBytes(char tag, const ObjectKey& k) {
  std::string out(1, tag);
  PutBE64(&out, k.hi);
  PutBE64(&out, k.lo);
  return out;
}

// KeyBytes('o', k) without a heap allocation, for the get path.
struct ObjectKeySlot {
  explicit ObjectKeySlot(const ObjectKey& k) {
    bytes[0] = 'o';
    for (int i = 0; i < 8; ++i) {
      bytes[1 + i] = static_cast<char>((k.hi >> (8 * (7 - i))) & 0xff);
      bytes[9 + i] = static_cast<char>((k.lo >> (8 * (7 - i))) & 0xff);
    }
  }
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes, sizeof(bytes)); }
  char bytes[17];
};

ObjectKey ParseKeyBytes(std::string_view s) {
  return ObjectKey{GetBE64(s.data() + 1), GetBE64(s.data() + 9)};
}

std::string ChunkKey(const ObjectKey& k, uint32_t index) {
  std::string out = KeyBytes('c', k);
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((index >> (8 * i)) & 0xff));
  return out;
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// How the store was opened: to write; read-only because the disk was full
// when it opened; or read-only beside the process that owns it.
enum class Access { kWrite, kFullDisk, kReader };

class RocksTierImpl final : public RocksTier {
 public:
  RocksTierImpl(std::string path, uint64_t chunk, rocksdb::DB* db,
                std::vector<rocksdb::ColumnFamilyHandle*> cfs, Access access)
      : path_(std::move(path)), chunk_(chunk), db_(db), cfs_(std::move(cfs)), access_(access) {}

  ~RocksTierImpl() override {
    for (auto* cf : cfs_) db_->DestroyColumnFamilyHandle(cf);
    delete db_;
  }

  Status Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta) override {
    return PutImpl(key, bytes, meta, false);
  }

  Status PutJournaled(const ObjectKey& key, std::string_view bytes,
                      const ObjectMeta& meta) override {
    return PutImpl(key, bytes, meta, true);
  }

  // RocksDB verifies what it reads (see NewRocksTier); here only that the
  // header and the pieces add up to the object it describes.
  Result<Blob> Get(const ObjectKey& key) override {
    auto value = std::make_shared<rocksdb::PinnableSlice>();
    rocksdb::Status s = db_->Get(Verified(), cfs_[0], ObjectKeySlot(key).slice(), value.get());
    if (s.IsNotFound()) return Status::NotFound("L2 miss: " + key.ToHex());
    if (!s.ok()) return Error("get", s);
    Header h;
    if (!DecodeHeader(View(*value), &h)) return Status::Corruption("L2 header of " + key.ToHex());
    if (h.expiry_ms != 0 && NowUnixMs() >= h.expiry_ms)
      return Status::NotFound("L2: expired: " + key.ToHex());
    if (!(h.flags & kFlagChunked)) {
      std::string_view bytes = View(*value).substr(kHeaderBytes);
      if (bytes.size() != h.size)
        return Status::Corruption("L2 copy of " + key.ToHex() + " has " +
                                  std::to_string(bytes.size()) + " bytes, its header says " +
                                  std::to_string(h.size));
      return Blob(std::move(value), bytes);
    }
    std::string out;
    out.reserve(h.size);
    const uint32_t chunks = static_cast<uint32_t>((h.size + chunk_ - 1) / chunk_);
    rocksdb::PinnableSlice piece;
    rocksdb::ReadOptions bulk = Verified();
    bulk.fill_cache = false;  // a large object read once must not flush the block cache
    for (uint32_t i = 0; i < chunks; ++i) {
      piece.Reset();
      s = db_->Get(bulk, cfs_[0], ChunkKey(key, i), &piece);
      if (s.IsNotFound())
        return Status::Corruption("L2 copy of " + key.ToHex() + " lacks chunk " +
                                  std::to_string(i));
      if (!s.ok()) return Error("get", s);
      // Every chunk but the last is full; a short one would shift the rest.
      if (piece.size() != std::min<uint64_t>(chunk_, h.size - out.size()))
        return Status::Corruption("L2 copy of " + key.ToHex() + ": chunk " + std::to_string(i) +
                                  " has " + std::to_string(piece.size()) + " bytes");
      out.append(piece.data(), piece.size());
    }
    return Blob::FromString(std::move(out));
  }

  Result<ObjectMeta> Head(const ObjectKey& key) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[0], KeyBytes('o', key), &value);
    if (s.IsNotFound()) return Status::NotFound("L2 miss: " + key.ToHex());
    if (!s.ok()) return Error("get", s);
    Header h;
    if (!DecodeHeader(View(value), &h)) return Status::Corruption("L2 header of " + key.ToHex());
    return ObjectMeta{h.size, h.ctime_ms, h.expiry_ms};
  }

  Status Erase(const ObjectKey& key) override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[0], KeyBytes('o', key), &value);
    if (s.IsNotFound()) return Status::OK();
    if (!s.ok() && !s.IsCorruption()) return Error("get", s);
    Header h;
    rocksdb::WriteBatch batch = NewBatch();
    batch.Delete(cfs_[0], KeyBytes('o', key));
    if (s.IsCorruption()) {
      // The header is unreadable: drop every chunk the object could have.
      batch.DeleteRange(cfs_[0], ChunkKey(key, 0), ChunkKey(key, UINT32_MAX));
    } else if (DecodeHeader(View(value), &h) && (h.flags & kFlagChunked)) {
      const uint32_t chunks = static_cast<uint32_t>((h.size + chunk_ - 1) / chunk_);
      batch.DeleteRange(cfs_[0], ChunkKey(key, 0), ChunkKey(key, chunks));
    }
    return Write(&batch);
  }

  Status JournalAdd(const ObjectKey& key, JournalOp op) override {
    rocksdb::WriteBatch batch = NewBatch();
    batch.Put(cfs_[2], KeyBytes('j', key), std::string(1, static_cast<char>(op)));
    return Write(&batch);
  }

  Status JournalRemove(const ObjectKey& key) override {
    rocksdb::WriteBatch batch = NewBatch();
    batch.Delete(cfs_[2], KeyBytes('j', key));
    return Write(&batch);
  }

  Result<std::vector<std::pair<ObjectKey, JournalOp>>> JournalList(size_t max) override {
    std::vector<std::pair<ObjectKey, JournalOp>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[2]));
    for (it->SeekToFirst(); it->Valid() && out.size() < max; it->Next()) {
      if (it->key().size() != 17 || it->value().size() != 1) continue;
      out.emplace_back(ParseKeyBytes(View(it->key())), static_cast<JournalOp>(it->value()[0]));
    }
    if (!it->status().ok()) return Error("journal scan", it->status());
    return out;
  }

  Result<std::optional<JournalOp>> JournalPending(const ObjectKey& key) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[2], KeyBytes('j', key), &value);
    if (s.IsNotFound()) return std::optional<JournalOp>();
    if (!s.ok() || value.size() != 1) return Error("journal get", s);
    return std::optional<JournalOp>(static_cast<JournalOp>(value[0]));
  }

  Result<uint64_t> JournalSize() override {
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[2]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    if (!it->status().ok()) return Error("journal scan", it->status());
    return n;
  }

  Status PutName(const CatalogEntry& entry) override {
    rocksdb::WriteBatch batch = NewBatch();
    batch.Put(cfs_[1], entry.name, entry.Encode());
    return Write(&batch);
  }

  Result<CatalogEntry> GetName(std::string_view name) override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), cfs_[1], rocksdb::Slice(name.data(), name.size()), &value);
    if (s.IsNotFound()) return Status::NotFound("no object named '" + std::string(name) + "'");
    if (!s.ok()) return Error("catalog get", s);
    std::optional<CatalogEntry> e = CatalogEntry::Decode(value);
    if (!e) return Status::Corruption("catalog record of '" + std::string(name) + "'");
    return *e;
  }

  Status EraseName(std::string_view name) override {
    rocksdb::WriteBatch batch = NewBatch();
    batch.Delete(cfs_[1], rocksdb::Slice(name.data(), name.size()));
    return Write(&batch);
  }

  Result<std::vector<CatalogEntry>> ListNames() override {
    std::vector<CatalogEntry> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::optional<CatalogEntry> e = CatalogEntry::Decode(View(it->value()));
      if (e) out.push_back(std::move(*e));
    }
    if (!it->status().ok()) return Error("catalog scan", it->status());
    return out;
  }

  Result<std::vector<ObjectKey>> ExpireNow(uint64_t now_ms) override {
    std::vector<ObjectKey> out;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[0]));
      for (it->Seek("o"); it->Valid() && it->key().starts_with("o"); it->Next()) {
        Header h;
        if (it->key().size() != 17 || !DecodeHeader(View(it->value()), &h)) continue;
        if (h.expiry_ms != 0 && h.expiry_ms <= now_ms)
          out.push_back(ParseKeyBytes(View(it->key())));
      }
      if (!it->status().ok()) return Error("expiry scan", it->status());
    }
    for (const ObjectKey& k : out) OVERLAY_RETURN_IF_ERROR(Erase(k));
    return out;
  }

  uint64_t ApproximateBytes() override {
    // Objects and their chunks are the default family: its memtables and SST
    // files, plus the blob files RocksDB moved large values to.
    const std::string limit(64, '\xff');
    const rocksdb::Range all("", limit);
    rocksdb::SizeApproximationOptions o;
    o.include_memtables = true;
    uint64_t bytes = 0, blobs = 0;
    if (!db_->GetApproximateSizes(o, cfs_[0], &all, 1, &bytes).ok()) bytes = 0;
    if (db_->GetIntProperty(cfs_[0], rocksdb::DB::Properties::kLiveBlobFileSize, &blobs))
      bytes += blobs;
    return bytes;
  }

  Status Flush() override {
    if (access_ != Access::kWrite) return ReadOnlyError();
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), cfs_);
    return s.ok() ? Status::OK() : Error("flush", s);
  }

 private:
  Status PutImpl(const ObjectKey& key, std::string_view bytes, const ObjectMeta& meta,
                 bool journal) {
    Header h{0, bytes.size(), meta.ctime_ms ? meta.ctime_ms : NowUnixMs(), meta.expiry_ms};
    rocksdb::WriteBatch batch = NewBatch();
    std::string value = EncodeHeader(h);
    if (bytes.size() <= chunk_) {
      value.append(bytes);
    } else {
      // Chunks first, in bounded batches; the header written last publishes them.
      h.flags = kFlagChunked;
      value = EncodeHeader(h);
      uint64_t pending = 0;
      for (uint64_t off = 0, i = 0; off < bytes.size(); off += chunk_, ++i) {
        std::string_view piece = bytes.substr(off, chunk_);
        batch.Put(cfs_[0], ChunkKey(key, static_cast<uint32_t>(i)),
                  rocksdb::Slice(piece.data(), piece.size()));
        pending += piece.size();
        if (pending >= kBatchBytes) {
          OVERLAY_RETURN_IF_ERROR(Write(&batch));
          batch.Clear();
          pending = 0;
        }
      }
    }
    batch.Put(cfs_[0], KeyBytes('o', key), value);
    if (journal)
      batch.Put(cfs_[2], KeyBytes('j', key), std::string(1, static_cast<char>(JournalOp::kPush)));
    return Write(&batch);
  }

  static rocksdb::WriteBatch NewBatch() { return rocksdb::WriteBatch(0, 0, kProtectionBytes, 0); }

  static rocksdb::ReadOptions Verified() {
    rocksdb::ReadOptions o;
    o.verify_checksums = true;
    return o;
  }

  Status Write(rocksdb::WriteBatch* batch) {
    if (access_ != Access::kWrite) return ReadOnlyError();
    rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), batch);
    return s.ok() ? Status::OK() : Error("write", s);
  }

  Status Error(std::string_view what, const rocksdb::Status& s) const {
    std::string msg = "L2 (" + path_ + ") " + std::string(what) + ": " + s.ToString();
    if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos)
      return Status::IOError("No space left on device in " + msg);
    if (s.IsCorruption()) return Status::Corruption(msg);
    return Status::IOError(msg);
  }

  Status ReadOnlyError() const {
    if (access_ == Access::kReader)
      return Status::Busy("L2 (" + path_ + ") belongs to another process; this one only reads it");
    return Status::IOError("No space left on device in L2 (" + path_ +
                           "): it was opened read-only; free space and reopen it to write");
  }

  const std::string path_;
  const uint64_t chunk_;
  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // default, catalog, journal
  const Access access_;
};

// RocksDB's info LOG lives on the store's own disk, and Debian's build asserts
// (sync_without_flush_called_) when it appends to that file after a failed
// write, i.e. once the disk is full: its errors go to stderr instead.
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    std::fputs("L2 (RocksDB): ", stderr);
    std::vfprintf(stderr, format, ap);
    std::fputc('\n', stderr);
  }
};

// RocksDB creates its files (SSTs, blobs, WAL, MANIFEST, ...) with the
// process umask, typically 0644: this file system makes each 0600 as it is
// created, without changing the umask of the whole process.
class PrivateFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  PrivateFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "OverlayPrivateFiles"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    return Private(f, target()->NewWritableFile(f, o, r, d));
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    return Private(f, target()->ReopenWritableFile(f, o, r, d));
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    return Private(f, target()->ReuseWritableFile(f, old, o, r, d));
  }
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* d) override {
    return Private(f, target()->NewRandomRWFile(f, o, r, d));
  }

 private:
  static rocksdb::IOStatus Private(const std::string& file, rocksdb::IOStatus s) {
    if (s.ok() && ::chmod(file.c_str(), 0600) != 0)
      return rocksdb::IOStatus::IOError("chmod 0600 " + file, std::strerror(errno));
    return s;
  }
};

// One for the process: RocksDB keeps using the Env after Open.
rocksdb::Env* PrivateEnv() {
  static rocksdb::Env* env =
      rocksdb::NewCompositeEnv(std::make_shared<PrivateFileSystem>()).release();
  return env;
}

// Makes `path` a directory only this user can enter: created 0700, an existing
// one of ours tightened to 0700 (its files to 0600), another user's refused.
Status MakePrivateDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::FromErrno("L2 directory " + path, errno);
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("L2 directory " + path, errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return Status::FromErrno("L2 directory " + path, errno);
  }
  struct stat st {};
  Status s;
  if (::fstat(fd, &st) != 0) {
    s = Status::FromErrno("L2 directory " + path, errno);
  } else if (st.st_uid != ::geteuid()) {
    s = CheckPrivate(fd, "L2 directory " + path, 0700);
  } else if ((st.st_mode & 07777) != 0700 && ::fchmod(fd, 0700) != 0) {
    s = Status::FromErrno("chmod 0700 L2 directory " + path, errno);
  }
  // Files an earlier version left readable by others.
  while (s.ok()) {
    const dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    struct stat fst {};
    if (::fstatat(fd, e->d_name, &fst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(fst.st_mode) &&
        (fst.st_mode & 077) != 0 && ::fchmodat(fd, e->d_name, 0600, 0) != 0)
      s = Status::FromErrno("chmod 0600 " + path + "/" + e->d_name, errno);
  }
  ::closedir(dir);
  return s;
}

// The store's options and column families, shared by the owner and readers.
struct StoreLayout {
  rocksdb::Options db;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
};

StoreLayout Layout(const RocksTierOptions& options) {
  StoreLayout l;
  l.db.create_if_missing = true;
  l.db.env = PrivateEnv();
  l.db.info_log = std::make_shared<StderrLogger>();
  l.db.create_missing_column_families = true;
  // Whatever comes from disk is verified by RocksDB, not by re-hashing each
  // value: an XXH3 checksum per SST block (checked when the block is read from
  // its file), a CRC32c per blob record and WAL fragment. Copies in RAM (block
  // cache, memtable) are not re-verified on read, like L1: memtable protection
  // re-hashes every value read from the memtable, with Debian's portable
  // XXH3 build at ~3x the cost of copying it, so objects go without it; the
  // small catalog and journal records keep it.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache);
  table.checksum = rocksdb::kXXH3;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Chunks and large inline values go to blob files: compaction then moves
  // pointers, not megabytes.
  cf_options.enable_blob_files = true;
  cf_options.min_blob_size = 64 << 10;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.memtable_protection_bytes_per_key = kProtectionBytes;
  l.families = {{rocksdb::kDefaultColumnFamilyName, cf_options},
                {"catalog", small_options},
                {"journal", small_options}};
  return l;
}

}  // namespace

Result<std::unique_ptr<RocksTier>> NewRocksTier(const RocksTierOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("L2 needs a directory (STORAGE.disk)");
  OVERLAY_RETURN_IF_ERROR(MakePrivateDirectory(options.path));
  StoreLayout l = Layout(options);
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(l.db), options.path, l.families, &cfs, &db);
  // Opening writes (the WAL replayed into new files): on a full disk what is
  // stored can still be read.
  const bool full =
      !s.ok() && (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos);
  if (full) {
    cfs.clear();
    s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(l.db), options.path, l.families, &cfs,
                                     &db);
  }
  if (!s.ok()) {
    std::string msg = "L2 (" + options.path + ") open: " + s.ToString();
    if (s.ToString().find("lock") != std::string::npos)
      return Status::Busy(msg + " (another process has this disk store open)");
    return Status::IOError(msg);
  }
  return std::unique_ptr<RocksTier>(new RocksTierImpl(options.path, options.chunk, db,
                                                      std::move(cfs),
                                                      full ? Access::kFullDisk : Access::kWrite));
}

Result<std::unique_ptr<RocksTier>> OpenRocksSnapshot(const RocksTierOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("L2 needs a directory (STORAGE.disk)");
  OVERLAY_RETURN_IF_ERROR(MakePrivateDirectory(options.path));
  StoreLayout l = Layout(options);
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(l.db), options.path,
                                                   l.families, &cfs, &db);
  if (!s.ok()) return Status::IOError("L2 (" + options.path + ") open to read: " + s.ToString());
  return std::unique_ptr<RocksTier>(
      new RocksTierImpl(options.path, options.chunk, db, std::move(cfs), Access::kReader));
}

}  // namespace overlay::storage
