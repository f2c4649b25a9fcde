// HttpServer over real loopback sockets: keep-alive, chunked streams, limits, malformed
// requests and the disconnect notice that lets the engine cancel abandoned requests.
#include "api/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace brisk::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;

class Client {
 public:
  explicit Client(int port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> Send(http::verb verb, const std::string& target,
                                         std::string body = "") {
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }
  void SendRaw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }
  std::string ReadAll() {
    std::string out;
    beast::error_code ec;
    char buf[4096];
    for (;;) {
      size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
  // Waits for the next bytes (at most 10 s, so a bug fails instead of hanging).
  std::string ReadSome() {
    std::string out;
    char buf[4096];
    socket_.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.empty() && std::chrono::steady_clock::now() < deadline) {
      beast::error_code ec;
      size_t n = socket_.read_some(net::buffer(buf), ec);
      if (ec == net::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (ec) break;
      out.append(buf, n);
    }
    socket_.non_blocking(false);
    return out;
  }
  void Close() { socket_.close(); }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

TEST(HttpServerTest, KeepAliveStreamsAndLimits) {
  std::promise<void> disconnected;
  HttpServerOptions options;
  options.port = 0;
  options.max_body_bytes = 1000;
  auto server = HttpServer::Start(
      options,
      [&](std::shared_ptr<HttpExchange> ex) {
        const HttpRequest& r = ex->request();
        if (r.path() == "/echo") {
          ex->Respond(200, "text/plain",
                      std::string(r.method) + " " + r.target + " " + r.body + " " +
                          std::string(r.Header("x-test")),
                      {{"X-Reply", "1"}});
        } else if (r.path() == "/stream") {
          ex->StartStream(200, "text/event-stream");
          std::thread([ex] {
            for (int i = 0; i < 5; ++i) ex->Write("data: " + std::to_string(i) + "\n\n");
            ex->End();
          }).detach();
        } else if (r.path() == "/hang") {
          ex->OnDisconnect([&] { disconnected.set_value(); });
        }
      });
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  Client c(port);
  for (int i = 0; i < 3; ++i) {  // three requests, one connection
    auto res = c.Send(http::verb::post, "/echo?q=" + std::to_string(i), "body");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "POST /echo?q=" + std::to_string(i) + " body ");
    EXPECT_EQ(res["X-Reply"], "1");
  }
  auto streamed = c.Send(http::verb::get, "/stream");
  EXPECT_EQ(streamed.result_int(), 200);
  EXPECT_TRUE(streamed.chunked());
  EXPECT_EQ(streamed.body(), "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  auto after = c.Send(http::verb::get, "/echo");  // the connection survived the stream
  EXPECT_EQ(after.result_int(), 200);

  Client big(port);
  auto too_large = big.Send(http::verb::post, "/echo", std::string(1001, 'x'));
  EXPECT_EQ(too_large.result_int(), 413);
  EXPECT_THAT(too_large.body(), HasSubstr("1000 bytes"));

  Client bad(port);
  bad.SendRaw("NOT A REQUEST\r\n\r\n");
  EXPECT_THAT(bad.ReadAll(), HasSubstr("HTTP/1.1 400"));

  Client leaver(port);
  leaver.SendRaw("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the server dispatch it
  leaver.Close();
  EXPECT_EQ(disconnected.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
}

TEST(HttpServerTest, AnswersExpectContinueAndClosesStalledClients) {
  HttpServerOptions options;
  options.port = 0;
  options.read_timeout_s = 0.3;
  options.max_body_bytes = 100;
  auto server = HttpServer::Start(options, [](std::shared_ptr<HttpExchange> ex) {
    ex->Respond(200, "text/plain", "got " + ex->request().body);
  });
  ASSERT_TRUE(server.ok());
  Client waiting((*server)->port());
  waiting.SendRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                  "Expect: 100-continue\r\n\r\n");
  // The server must invite the body before the client sends it.
  std::string interim = waiting.ReadSome();
  EXPECT_THAT(interim, HasSubstr("HTTP/1.1 100 Continue"));
  waiting.SendRaw("body");
  std::string rest = interim.find("200") != std::string::npos ? interim : waiting.ReadSome();
  EXPECT_THAT(rest, HasSubstr("got body"));

  Client too_big((*server)->port());
  too_big.SendRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                  "Expect: 100-continue\r\n\r\n");
  EXPECT_THAT(too_big.ReadSome(), HasSubstr("HTTP/1.1 413"));

  Client stalled((*server)->port());
  stalled.SendRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Le");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(stalled.ReadAll(), "");  // closed without an answer once the timeout passes
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpServerTest, RefusesAPortInUse) {
  HttpServerOptions options;
  options.port = 0;
  auto first = HttpServer::Start(options, [](auto) {});
  ASSERT_TRUE(first.ok());
  options.port = (*first)->port();
  auto second = HttpServer::Start(options, [](auto) {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(std::to_string((*first)->port())));
  options.host = "not-an-ip";
  options.port = 0;
  auto bad_host = HttpServer::Start(options, [](auto) {});
  EXPECT_EQ(bad_host.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace brisk::api
