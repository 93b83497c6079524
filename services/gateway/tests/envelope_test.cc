#include "envelope.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace cloudillo::gateway {
namespace {

TEST(WireErrorFor, EveryGrpcCodeMapsToAnEnvelopeCode) {
  for (int c = 1; c <= 16; ++c) {
    WireError e = WireErrorFor(static_cast<grpc::StatusCode>(c));
    EXPECT_GE(e.http_status, 400) << c;
    EXPECT_EQ(std::string(e.code).rfind("E-", 0), 0u) << c;
  }
  EXPECT_EQ(WireErrorFor(grpc::StatusCode::UNAUTHENTICATED).http_status, 401);
  EXPECT_EQ(WireErrorFor(grpc::StatusCode::PERMISSION_DENIED).http_status, 403);
  EXPECT_STREQ(WireErrorFor(grpc::StatusCode::NOT_FOUND).code, "E-CORE-NOTFOUND");
  EXPECT_EQ(WireErrorFor(grpc::StatusCode::UNAVAILABLE).http_status, 503);
  EXPECT_EQ(WireErrorFor(static_cast<grpc::StatusCode>(99)).http_status, 500);
}

TEST(Envelope, ErrorShapeAndHeaders) {
  http::Response r =
      ErrorResponse(429, "E-RATE-LIMITED", "slow \"down\"", R"({"level":"ipv4_individual","retryAfter":1})");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "E-RATE-LIMITED");
  EXPECT_EQ(j["error"]["message"], "slow \"down\"");
  EXPECT_EQ(j["error"]["details"]["retryAfter"], 1);
  bool no_store = false, pragma = false;
  for (auto& [k, v] : r.headers) {
    no_store |= k == "Cache-Control" && v == "no-store";
    pragma |= k == "Pragma" && v == "no-cache";
  }
  EXPECT_TRUE(no_store && pragma);
}

TEST(Envelope, SuccessBodySplicesExtraMembers) {
  std::string body = SuccessBody("[1]", R"({"pagination":{"offset":0}})", "abc");
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["data"][0], 1);
  EXPECT_EQ(j["pagination"]["offset"], 0);
  EXPECT_EQ(j["reqId"], "abc");
  EXPECT_EQ(j["time"].get<std::string>().size(), 20u);
  EXPECT_EQ(nlohmann::json::parse(SuccessBody("", "", "x"))["data"], nullptr);
}

TEST(Envelope, RequestIdEchoedOnlyWhenClean) {
  http::Request r;
  r.headers = {{"x-request-id", "abc-123_X.y"}};
  EXPECT_EQ(RequestIdFor(r), "abc-123_X.y");
  r.headers = {{"x-request-id", "bad id\n"}};
  EXPECT_EQ(RequestIdFor(r).size(), 8u);
  r.headers = {{"x-request-id", std::string(65, 'a')}};
  EXPECT_EQ(RequestIdFor(r).size(), 8u);
}

TEST(Envelope, CorsEchoesOrigin) {
  http::Request r;
  r.headers = {{"origin", "https://alice.example.com"},
               {"access-control-request-method", "PATCH"},
               {"access-control-request-headers", "authorization,content-type"}};
  http::Response pre = PreflightResponse(r, "id");
  DecorateApiResponse(pre, r, "id");
  auto get = [&](const http::Response& res, const std::string& k) {
    for (auto& [hk, v] : res.headers)
      if (hk == k) return v;
    return std::string();
  };
  EXPECT_EQ(get(pre, "Access-Control-Allow-Origin"), "https://alice.example.com");
  EXPECT_EQ(get(pre, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(get(pre, "Access-Control-Allow-Methods"), "PATCH");
  EXPECT_EQ(get(pre, "Access-Control-Allow-Headers"), "authorization,content-type");
  http::Response res;
  DecorateApiResponse(res, r, "id");
  EXPECT_EQ(get(res, "Access-Control-Allow-Origin"), "https://alice.example.com");
  EXPECT_EQ(get(res, "Cache-Control"), "no-store, no-cache");
  EXPECT_EQ(get(res, "Expires"), "0");
  EXPECT_EQ(get(res, "X-Request-ID"), "id");
}

}  // namespace
}  // namespace cloudillo::gateway
