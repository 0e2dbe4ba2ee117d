#include "common/auth/token_check_pool.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace im::auth {

struct TokenCheckPool::Impl {
  struct Request {
    std::int64_t uid;
    std::string token;
    Callback done;
  };

  explicit Impl(TokenCheckPoolOptions o) : options(std::move(o)) {}

  void Run() {
    redis::RedisClient redis(options.redis);
    TokenStore store(&redis);
    std::vector<Request> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        const std::size_t n = std::min<std::size_t>(queue.size(), 64);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      for (Request& r : batch) {
        auto result = store.Check(r.uid, r.token);
        if (!result.ok()) result = store.Check(r.uid, r.token);  // one retry over a fresh connection
        r.done(std::move(result));
      }
      batch.clear();
    }
  }

  TokenCheckPoolOptions options;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Request> queue;
  bool stopping = false;
  std::vector<std::thread> threads;
};

TokenCheckPool::TokenCheckPool(TokenCheckPoolOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

TokenCheckPool::~TokenCheckPool() { Stop(); }

void TokenCheckPool::Start() {
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->Run(); });
  }
}

void TokenCheckPool::Check(std::int64_t uid, std::string token, Callback done) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->stopping && impl_->queue.size() < impl_->options.max_queue) {
      impl_->queue.push_back({uid, std::move(token), std::move(done)});
      impl_->cv.notify_one();
      return;
    }
  }
  done(absl::ResourceExhaustedError("token check queue full or stopped"));
}

void TokenCheckPool::Stop() {
  std::deque<Impl::Request> left;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping && impl_->threads.empty()) return;
    impl_->stopping = true;
    left.swap(impl_->queue);
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  for (auto& r : left) r.done(absl::CancelledError("stopping"));
}

}  // namespace im::auth
