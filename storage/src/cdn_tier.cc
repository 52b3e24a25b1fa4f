// SPDX-License-Identifier: Apache-2.0
#include "overlay/storage/cdn_tier.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace overlay::storage {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Upload {
  std::string_view bytes;
  size_t pos = 0;
};

size_t ReadCb(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  size_t len = std::min(size * n, up->bytes.size() - up->pos);
  std::memcpy(buf, up->bytes.data() + up->pos, len);
  up->pos += len;
  return len;
}

struct Download {
  CURL* curl = nullptr;
  std::string body;
  bool reserved = false;
};

size_t WriteCb(char* data, size_t size, size_t n, void* user) {
  auto* d = static_cast<Download*>(user);
  if (!d->reserved) {
    d->reserved = true;
    curl_off_t len = -1;
    if (curl_easy_getinfo(d->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len > 0)
      d->body.reserve(static_cast<size_t>(len));
  }
  d->body.append(data, size * n);
  return size * n;
}

size_t DiscardCb(char*, size_t size, size_t n, void*) { return size * n; }

class CdnTierImpl final : public CdnTier {
 public:
  explicit CdnTierImpl(CdnTierOptions options) : options_(std::move(options)) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/')
      options_.base_url.pop_back();
    headers_ = curl_slist_append(nullptr, "Expect:");  // no 100-continue round trip
  }

  ~CdnTierImpl() override {
    for (const auto& e : pool_) curl_easy_cleanup(e->curl);
    curl_slist_free_all(headers_);
  }

  std::string UrlOf(const ObjectKey& key) const override {
    return options_.base_url + "/" + key.ToHex();
  }

  Status Put(const ObjectKey& key, std::string_view bytes, const ObjectMeta&) override {
    Handle h(this);
    if (h.curl == nullptr) return InitFailed();
    Prepare(h.e.get(), Mode::kOther);
    Upload up{bytes};
    curl_easy_setopt(h.curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h.curl, CURLOPT_READFUNCTION, ReadCb);
    curl_easy_setopt(h.curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(h.curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, DiscardCb);
    long code = 0;
    OVERLAY_RETURN_IF_ERROR(Perform(h.e.get(), "PUT", key, &code));
    if (code >= 200 && code < 300) return Status::OK();
    return HttpError("PUT", key, code);
  }

  // The hot path: a handle left configured for GET by the previous one gets
  // only its URL and write target.
  Result<Blob> Get(const ObjectKey& key) override {
    Handle h(this);
    if (h.curl == nullptr) return InitFailed();
    Prepare(h.e.get(), Mode::kGet);
    Download d{h.curl, {}};
    curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &d);
    long code = 0;
    OVERLAY_RETURN_IF_ERROR(Perform(h.e.get(), "GET", key, &code));
    if (code != 200) return HttpError("GET", key, code);
    if (!(ObjectKey::Of(d.body) == key))
      return Status::Corruption("L3 copy of " + key.ToHex() + " fails its checksum");
    return Blob::FromString(std::move(d.body));
  }

  Result<ObjectMeta> Head(const ObjectKey& key) override {
    Handle h(this);
    if (h.curl == nullptr) return InitFailed();
    Prepare(h.e.get(), Mode::kOther);
    curl_easy_setopt(h.curl, CURLOPT_NOBODY, 1L);
    long code = 0;
    OVERLAY_RETURN_IF_ERROR(Perform(h.e.get(), "HEAD", key, &code));
    if (code != 200) return HttpError("HEAD", key, code);
    curl_off_t len = 0;
    curl_easy_getinfo(h.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    return ObjectMeta{static_cast<uint64_t>(len < 0 ? 0 : len), 0, 0};
  }

  Status Erase(const ObjectKey& key) override {
    Handle h(this);
    if (h.curl == nullptr) return InitFailed();
    Prepare(h.e.get(), Mode::kOther);
    curl_easy_setopt(h.curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, DiscardCb);
    long code = 0;
    OVERLAY_RETURN_IF_ERROR(Perform(h.e.get(), "DELETE", key, &code));
    if ((code >= 200 && code < 300) || code == 404) return Status::OK();
    return HttpError("DELETE", key, code);
  }

 private:
  // What a pooled handle is configured for: a GET-ready handle serves the next
  // GET as is; any other request resets it first.
  enum class Mode { kFresh, kGet, kOther };

  struct Easy {
    CURL* curl = nullptr;
    Mode mode = Mode::kFresh;
    std::string url;  // reused buffer; curl copies it
    char err[CURL_ERROR_SIZE] = {0};
  };

  // A pooled easy handle; the connection cache survives between requests.
  struct Handle {
    explicit Handle(CdnTierImpl* t) : tier(t), e(t->Take()), curl(e ? e->curl : nullptr) {}
    ~Handle() { tier->Return(std::move(e)); }
    CdnTierImpl* tier;
    std::unique_ptr<Easy> e;
    CURL* curl;
  };

  std::unique_ptr<Easy> Take() {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (!pool_.empty()) {
        std::unique_ptr<Easy> e = std::move(pool_.back());
        pool_.pop_back();
        return e;
      }
    }
    GlobalInit();
    CURL* c = curl_easy_init();
    if (c == nullptr) return nullptr;
    auto e = std::make_unique<Easy>();
    e->curl = c;
    return e;
  }

  void Return(std::unique_ptr<Easy> e) {
    if (e == nullptr) return;
    std::lock_guard<std::mutex> g(mu_);
    pool_.push_back(std::move(e));
  }

  void Prepare(Easy* e, Mode mode) {
    if (mode == Mode::kGet && e->mode == Mode::kGet) return;
    if (e->mode != Mode::kFresh) curl_easy_reset(e->curl);
    curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->err);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
    curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout_ms));
    if (mode == Mode::kGet) curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, WriteCb);
    e->mode = mode;
  }

  static Status InitFailed() { return Status::IOError("curl_easy_init failed"); }

  Status Perform(Easy* e, std::string_view method, const ObjectKey& key, long* code) {
    e->url.assign(options_.base_url);
    e->url += '/';
    e->url += key.ToHex();
    e->err[0] = '\0';
    curl_easy_setopt(e->curl, CURLOPT_URL, e->url.c_str());
    CURLcode rc = curl_easy_perform(e->curl);
    if (rc != CURLE_OK)
      return Status::Unavailable("CDN " + options_.base_url + " unreachable (" +
                                 std::string(method) + " " + key.ToHex() +
                                 "): " + (e->err[0] ? e->err : curl_easy_strerror(rc)));
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, code);
    return Status::OK();
  }

  Status HttpError(std::string_view method, const ObjectKey& key, long code) const {
    std::string msg =
        "CDN " + std::string(method) + " " + UrlOf(key) + ": HTTP " + std::to_string(code);
    if (code == 404) return Status::NotFound(msg);
    if (code >= 500) return Status::Unavailable(msg);
    return Status::IOError(msg);
  }

  CdnTierOptions options_;
  curl_slist* headers_ = nullptr;
  std::mutex mu_;
  std::vector<std::unique_ptr<Easy>> pool_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<CdnTier>> NewCdnTier(const CdnTierOptions& options) {
  if (options.base_url.rfind("http://", 0) != 0 && options.base_url.rfind("https://", 0) != 0)
    return Status::InvalidArgument("CDN URL must start with http:// or https://: '" +
                                   options.base_url + "'");
  GlobalInit();
  return std::unique_ptr<CdnTier>(new CdnTierImpl(options));
}

}  // namespace overlay::storage
