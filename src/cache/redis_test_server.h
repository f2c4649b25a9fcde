// Test-only helpers for the Redis-backed store tests: find redis-server, pick a free port, and
// run a redis-server child process (persistence off) that the test can freeze, kill and restart.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace brisk::cache::testing_util {

// The redis-server binary on PATH, or "" when it is not installed.
inline std::string FindRedisServer() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/usr/local/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::filesystem::path candidate =
        std::filesystem::path(dirs.substr(start, end - start)) / "redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

// A port that was free a moment ago: bind 127.0.0.1:0 and read back what the kernel chose.
inline int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

// A redis-server child process on 127.0.0.1:port with persistence off, killed by PID.
class RedisServer {
 public:
  RedisServer(std::string binary, std::string dir, int port)
      : binary_(std::move(binary)), dir_(std::move(dir)), port_(port) {}
  ~RedisServer() { Kill(); }

  // Starts the server and waits until it answers PING (up to 10 s, for a loaded machine).
  bool Start() {
    const std::string port_text = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      const int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      execl(binary_.c_str(), binary_.c_str(), "--port", port_text.c_str(), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir_.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // waiting on another process
    }
    return false;
  }

  bool Ping() const {
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, {1, 0});
    bool ok = false;
    if (context != nullptr && context->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
      if (reply != nullptr) freeReplyObject(reply);
    }
    if (context != nullptr) redisFree(context);
    return ok;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Pause() { kill(pid_, SIGSTOP); }
  void Resume() { kill(pid_, SIGCONT); }

  int port() const { return port_; }

 private:
  const std::string binary_;
  const std::string dir_;
  const int port_;
  pid_t pid_ = -1;
};

}  // namespace brisk::cache::testing_util
