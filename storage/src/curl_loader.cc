// SPDX-License-Identifier: Apache-2.0
// The libcurl entry points the CDN tier calls, loaded with dlopen on first use
// instead of linked (as transport/src/fabric_loader.cc does for libfabric).
// Linking libcurl loads and relocates some 27 libraries (TLS, Kerberos, LDAP,
// SSH, IDN, ...) at every start-up: most of the start-up time of every
// `overlay` command, also of those whose data container has no CDN.
#define CURL_DISABLE_TYPECHECK  // setopt/getinfo are functions here, not checking macros
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace {

constexpr const char* kLibrary = "libcurl.so.4";

struct Api {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_reset) easy_reset = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

template <typename F>
void Bind(void* h, const char* name, F* fn, bool* ok) {
  *fn = reinterpret_cast<F>(dlsym(h, name));
  *ok = *ok && *fn != nullptr;
}

// Thread-safety: loaded once, then read-only. All or nothing: a partial
// library leaves every entry null, so curl_easy_init fails cleanly.
const Api& Load() {
  static Api api;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return;
    Api a;
    bool ok = true;
    Bind(h, "curl_global_init", &a.global_init, &ok);
    Bind(h, "curl_easy_init", &a.easy_init, &ok);
    Bind(h, "curl_easy_setopt", &a.easy_setopt, &ok);
    Bind(h, "curl_easy_getinfo", &a.easy_getinfo, &ok);
    Bind(h, "curl_easy_perform", &a.easy_perform, &ok);
    Bind(h, "curl_easy_reset", &a.easy_reset, &ok);
    Bind(h, "curl_easy_cleanup", &a.easy_cleanup, &ok);
    Bind(h, "curl_easy_strerror", &a.easy_strerror, &ok);
    Bind(h, "curl_slist_append", &a.slist_append, &ok);
    Bind(h, "curl_slist_free_all", &a.slist_free_all, &ok);
    if (ok) api = a;
  });
  return api;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  const Api& api = Load();
  return api.global_init != nullptr ? api.global_init(flags) : CURLE_FAILED_INIT;
}

CURL* curl_easy_init() {
  const Api& api = Load();
  return api.easy_init != nullptr ? api.easy_init() : nullptr;
}

// The one argument after `option` is passed on with the type its option
// number says (curl.h: CURLOPTTYPE_*).
CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
  const Api& api = Load();
  if (api.easy_setopt == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  switch (option / 10000 * 10000) {
    case CURLOPTTYPE_LONG:
      rc = api.easy_setopt(curl, option, va_arg(ap, long));
      break;
    case CURLOPTTYPE_FUNCTIONPOINT:
      rc = api.easy_setopt(curl, option, va_arg(ap, void (*)()));
      break;
    case CURLOPTTYPE_OFF_T:
      rc = api.easy_setopt(curl, option, va_arg(ap, curl_off_t));
      break;
    default:  // object pointers, strings, blobs
      rc = api.easy_setopt(curl, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

// Every CURLINFO takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
  const Api& api = Load();
  if (api.easy_getinfo == nullptr) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  CURLcode rc = api.easy_getinfo(curl, info, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

CURLcode curl_easy_perform(CURL* curl) {
  const Api& api = Load();
  return api.easy_perform != nullptr ? api.easy_perform(curl) : CURLE_FAILED_INIT;
}

void curl_easy_reset(CURL* curl) {
  const Api& api = Load();
  if (api.easy_reset != nullptr) api.easy_reset(curl);
}

void curl_easy_cleanup(CURL* curl) {
  const Api& api = Load();
  if (api.easy_cleanup != nullptr) api.easy_cleanup(curl);
}

const char* curl_easy_strerror(CURLcode code) {
  const Api& api = Load();
  return api.easy_strerror != nullptr ? api.easy_strerror(code)
                                      : "libcurl.so.4 could not be loaded";
}

struct curl_slist* curl_slist_append(struct curl_slist* list, const char* s) {
  const Api& api = Load();
  return api.slist_append != nullptr ? api.slist_append(list, s) : nullptr;
}

void curl_slist_free_all(struct curl_slist* list) {
  const Api& api = Load();
  if (api.slist_free_all != nullptr) api.slist_free_all(list);
}

}  // extern "C"
