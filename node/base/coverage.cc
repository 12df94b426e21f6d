#include "node/base/coverage.h"

#include <mutex>

namespace sluice::coverage {
namespace {

// Registered marks by name. Marks are function-local statics that live until exit, so pointers
// stay valid; the mutex only guards registration against the epoll runtime's other threads.
struct Registry {
  std::mutex mutex;
  std::map<std::string, Mark*> marks;
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: marks may register during exit
  return *instance;
}

std::atomic<bool> expensive_enabled{false};

}  // namespace

Mark::Mark(const char* name) : name_(name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const bool inserted = r.marks.emplace(name, this).second;
  SLUICE_ASSERT(inserted);  // two sites with one name: a mark must name one path
}

std::map<std::string, uint64_t> snapshot() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::map<std::string, uint64_t> out;
  for (const auto& [name, mark] : r.marks) out[name] = mark->hits();
  return out;
}

uint64_t hits(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.marks.find(name);
  return it == r.marks.end() ? 0 : it->second->hits();
}

void reset_all() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& [name, mark] : r.marks) mark->reset();
}

void set_expensive_assertions(bool enabled) { expensive_enabled.store(enabled, std::memory_order_relaxed); }
bool expensive_assertions() { return expensive_enabled.load(std::memory_order_relaxed); }

}  // namespace sluice::coverage
