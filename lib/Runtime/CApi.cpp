//===- CApi.cpp - The runtime's C interface -------------------------------===//
//
// C outside, C++ inside: every entry point catches what the C++ side may
// throw (allocation failure) and turns it into an error code.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Runtime/lowbit_runtime.h"

#include "Library.h"
#include "Threads.h"

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

using lowbit::runtime::dtypeInfo;
using lowbit::runtime::Library;
using lowbit::runtime::TensorSpec;

struct lowbit_artifact {
  Library *library = nullptr;
  std::string path; ///< As this opener gave it.
};

namespace {
thread_local std::string lastError;

int fail(int code, const std::string &message) {
  try {
    lastError = message;
  } catch (...) {
    lastError.clear();
  }
  return code;
}

int succeed() {
  lastError.clear();
  return LOWBIT_RT_OK;
}

/// Runs `body`, turning exceptions into LOWBIT_RT_ERROR_OUT_OF_MEMORY.
template <typename F> int guarded(F &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail(LOWBIT_RT_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return fail(LOWBIT_RT_ERROR_OUT_OF_MEMORY, e.what());
  } catch (...) {
    return fail(LOWBIT_RT_ERROR_OUT_OF_MEMORY, "unexpected exception");
  }
}

const lowbit::runtime::EntrySpec *entryOf(const lowbit_artifact *a,
                                          int64_t entry, const char *what) {
  if (!a) {
    fail(LOWBIT_RT_ERROR_NULL_POINTER, std::string(what) + ": NULL artifact");
    return nullptr;
  }
  const auto &entries = a->library->manifest().entries;
  if (entry < 0 || uint64_t(entry) >= entries.size()) {
    fail(LOWBIT_RT_ERROR_INVALID_ARGUMENT,
         std::string(what) + ": entry index " + std::to_string(entry) +
             " is out of range (the artifact has " +
             std::to_string(entries.size()) + " entries)");
    return nullptr;
  }
  return &entries[entry];
}

int tensorInfo(const lowbit_artifact *a, int64_t entry, int64_t index,
               lowbit_tensor_info *out, bool result, const char *what) {
  return guarded([&]() -> int {
    if (!out)
      return fail(LOWBIT_RT_ERROR_NULL_POINTER,
                  std::string(what) + ": out is NULL");
    std::memset(out, 0, sizeof(*out));
    const auto *e = entryOf(a, entry, what);
    if (!e)
      return a ? LOWBIT_RT_ERROR_INVALID_ARGUMENT
               : LOWBIT_RT_ERROR_NULL_POINTER;
    const auto &list = result ? e->results : e->args;
    if (index < 0 || uint64_t(index) >= list.size())
      return fail(LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                  std::string(what) + ": index " + std::to_string(index) +
                      " is out of range (entry '" + e->name + "' has " +
                      std::to_string(list.size()) +
                      (result ? " results)" : " arguments)"));
    const TensorSpec &t = list[index];
    const auto &info = dtypeInfo(t.dtype);
    out->name = t.name.c_str();
    out->dtype = info.name;
    out->dtype_code = int32_t(t.dtype);
    out->rank = int32_t(t.shape.size());
    out->shape = t.shape.data();
    out->num_elements = t.numElements;
    out->element_size = info.size;
    out->num_bytes = t.numBytes;
    return succeed();
  });
}
} // namespace

extern "C" {

const char *lowbit_runtime_last_error(void) { return lastError.c_str(); }

int lowbit_artifact_open(const char *library_path, const char *weights_path,
                         const char *prefix, lowbit_artifact **out) {
  if (out)
    *out = nullptr;
  return guarded([&]() -> int {
    if (!out)
      return fail(LOWBIT_RT_ERROR_NULL_POINTER,
                  "lowbit_artifact_open: out is NULL");
    auto a = std::make_unique<lowbit_artifact>();
    std::string error;
    int rc =
        Library::open(library_path, weights_path, prefix, a->library, error);
    if (rc != LOWBIT_RT_OK)
      return fail(rc, error);
    try {
      a->path = library_path;
    } catch (...) {
      Library::close(a->library);
      throw;
    }
    *out = a.release();
    return succeed();
  });
}

void lowbit_artifact_close(lowbit_artifact *artifact) {
  if (!artifact)
    return;
  Library::close(artifact->library);
  delete artifact;
}

const char *lowbit_artifact_path(const lowbit_artifact *a) {
  return a ? a->path.c_str() : nullptr;
}

const char *lowbit_artifact_weights_path(const lowbit_artifact *a) {
  return a ? a->library->weightsPath().c_str() : nullptr;
}

const char *lowbit_artifact_manifest(const lowbit_artifact *a) {
  return a ? a->library->manifestText().c_str() : nullptr;
}

const char *lowbit_artifact_prefix(const lowbit_artifact *a) {
  return a ? a->library->manifest().prefix.c_str() : nullptr;
}

int64_t lowbit_artifact_weight_count(const lowbit_artifact *a) {
  return a ? int64_t(a->library->manifest().weights.size()) : -1;
}

int64_t lowbit_artifact_weight_bytes(const lowbit_artifact *a) {
  return a ? a->library->weightBytes() : -1;
}

int64_t lowbit_artifact_entry_count(const lowbit_artifact *a) {
  return a ? int64_t(a->library->manifest().entries.size()) : -1;
}

const char *lowbit_artifact_entry_name(const lowbit_artifact *a,
                                       int64_t entry) {
  const char *name = nullptr;
  guarded([&]() -> int {
    const auto *e = entryOf(a, entry, "lowbit_artifact_entry_name");
    if (!e)
      return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
    name = e->name.c_str();
    return succeed();
  });
  return name;
}

int64_t lowbit_artifact_find_entry(const lowbit_artifact *a, const char *name) {
  if (!a || !name)
    return -1;
  const auto &entries = a->library->manifest().entries;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].name == name)
      return int64_t(i);
  return -1;
}

int64_t lowbit_artifact_arg_count(const lowbit_artifact *a, int64_t entry) {
  int64_t n = -1;
  guarded([&]() -> int {
    const auto *e = entryOf(a, entry, "lowbit_artifact_arg_count");
    if (!e)
      return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
    n = int64_t(e->args.size());
    return succeed();
  });
  return n;
}

int64_t lowbit_artifact_result_count(const lowbit_artifact *a, int64_t entry) {
  int64_t n = -1;
  guarded([&]() -> int {
    const auto *e = entryOf(a, entry, "lowbit_artifact_result_count");
    if (!e)
      return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
    n = int64_t(e->results.size());
    return succeed();
  });
  return n;
}

int lowbit_artifact_arg_info(const lowbit_artifact *a, int64_t entry,
                             int64_t index, lowbit_tensor_info *out) {
  return tensorInfo(a, entry, index, out, /*result=*/false,
                    "lowbit_artifact_arg_info");
}

int lowbit_artifact_result_info(const lowbit_artifact *a, int64_t entry,
                                int64_t index, lowbit_tensor_info *out) {
  return tensorInfo(a, entry, index, out, /*result=*/true,
                    "lowbit_artifact_result_info");
}

int lowbit_artifact_run(const lowbit_artifact *a, int64_t entry,
                        const void *const *args, void *const *results) {
  return guarded([&]() -> int {
    if (!a)
      return fail(LOWBIT_RT_ERROR_NULL_POINTER,
                  "lowbit_artifact_run: NULL artifact");
    std::string error;
    int rc = a->library->run(entry, args, results, error);
    if (rc != LOWBIT_RT_OK)
      return fail(rc, error);
    return succeed();
  });
}

int lowbit_set_num_threads(int n) {
  if (n < 0)
    return fail(LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                "lowbit_set_num_threads: the thread count " +
                    std::to_string(n) + " is negative");
  lowbit::runtime::setRequestedThreads(n);
  return succeed();
}

} // extern "C"
