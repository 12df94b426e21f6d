#include "runtime/accept_loop.h"

#include "node/base/assert.h"

namespace sluice::runtime {

AcceptLoop::AcceptLoop(Runtime& runtime, std::string name, size_t connections_max)
    : runtime_(runtime), name_(std::move(name)), connections_max_(connections_max) {
  SLUICE_ASSERT_GT(connections_max, 0u);
}

Status AcceptLoop::start(uint16_t port, Serve serve) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Listener> listener, runtime_.listen(port));
  start(std::move(listener), std::move(serve));
  return Status();
}

void AcceptLoop::start(std::unique_ptr<Listener> listener, Serve serve) {
  SLUICE_ASSERT(listener_ == nullptr);  // started once
  listener_ = std::move(listener);
  serve_ = std::move(serve);
  runtime_.spawn(name_ + "-accept", [this] { run(); });
}

void AcceptLoop::close() {
  if (listener_ != nullptr) listener_->close();
}

Address AcceptLoop::local_address() const { return listener_ != nullptr ? listener_->local_address() : Address{}; }

void AcceptLoop::run() {
  while (true) {
    Result<std::unique_ptr<Stream>> accepted = listener_->accept();
    if (!accepted.ok()) return;
    std::unique_ptr<Stream> stream = std::move(accepted).value();
    if (stats_.open >= connections_max_) {
      ++stats_.refused;
      stream->close();
      continue;
    }
    ++stats_.accepted;
    ++stats_.open;
    runtime_.spawn(name_ + "-conn", [this, stream = std::move(stream)]() mutable {
      serve_(std::move(stream));
      SLUICE_ASSERT_GT(stats_.open, 0u);
      --stats_.open;
    });
  }
}

}  // namespace sluice::runtime
