// SIGINT/SIGTERM become messages whichever thread receives them, including a thread that was
// started before the handlers and blocks nothing (as OpenBLAS's pool does, before main).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "cli/stop_signal.hpp"

namespace {

using idphoto::cli::install_stop_signal_handlers;
using idphoto::cli::wait_for_stop_signal;
using idphoto::cli::wake_stop_waiter;

// A thread like a library's: created with an empty signal mask, idle until told to stop.
struct foreign_thread {
  std::atomic<bool> stop{false};
  std::thread t;
  foreign_thread() {
    sigset_t none, old;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, &old);
    t = std::thread([this] {
      while (!stop) usleep(1000);
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ~foreign_thread() {
    stop = true;
    t.join();
  }
};

TEST(stop_signal, sigterm_to_a_foreign_thread_is_a_message_not_death) {
  foreign_thread lib;
  ASSERT_TRUE(install_stop_signal_handlers());
  ASSERT_EQ(pthread_kill(lib.t.native_handle(), SIGTERM), 0);
  EXPECT_EQ(wait_for_stop_signal(), SIGTERM);  // reaching this line means the process lived
}

TEST(stop_signal, sigint_to_the_process_is_a_message) {
  ASSERT_TRUE(install_stop_signal_handlers());
  ASSERT_EQ(kill(getpid(), SIGINT), 0);
  EXPECT_EQ(wait_for_stop_signal(), SIGINT);
}

TEST(stop_signal, wake_returns_zero) {
  ASSERT_TRUE(install_stop_signal_handlers());
  std::thread w([] { wake_stop_waiter(); });
  EXPECT_EQ(wait_for_stop_signal(), 0);
  w.join();
}

TEST(stop_signal, a_blocked_mask_inherited_from_the_parent_is_lifted) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ASSERT_TRUE(install_stop_signal_handlers());
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  EXPECT_EQ(wait_for_stop_signal(), SIGTERM);
}

}  // namespace
