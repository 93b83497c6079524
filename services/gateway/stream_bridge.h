// Routes whose bodies stream (DESIGN "The gateway never blocks"): an HTTP body or a
// WebSocket bridged to a gRPC stream of the service that owns the route, with the
// messages of common.proto (ApiUploadPart, ApiDownloadPart, SocketFrame).
//
// Flow control is end to end and nothing is buffered without bound: the next chunk of
// an upload is read from the client only when the previous one was written to the
// stream; the next part of a download is read from the stream only when the previous
// one was written to the client; a WebSocket carries one message in each direction at
// a time. Errors before an answer started are answered in the envelope; afterwards
// the connection is cut (a download) or the socket closed with 1011.
#pragma once

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cloudillo/http/server.h"
#include "cloudillo/v1/common.pb.h"

namespace cloudillo::gateway {

struct StreamTarget {
  std::shared_ptr<http::Exchange> ex;
  grpc::GenericStub* stub;
  std::string method;  // "/package.Service/Method"
  std::string req_id;
  std::chrono::system_clock::time_point deadline;  // uploads and downloads; sockets have none
  std::function<void(http::Response)> answer;      // an answer given before streaming began
  std::function<void(int status)> done;            // a streamed answer ended (logs, metrics)
  http::WebSocketOptions socket;                   // sockets: the route's message limit and ping interval
  // Downloads: a whole 200 answer whose head carries a CachePolicy and a length up to
  // keep_limit is handed to `keep` once it was sent in full, as one ApiReply holding
  // the head and, in data_json, the bytes (never serialized: they need not be UTF-8).
  size_t keep_limit = 0;
  std::function<void(cloudillo::v1::ApiReply)> keep;
  // Released (reset) once it is known whether the answer is kept: at a head that will
  // not be, after `keep`, or when the stream ends.
  std::shared_ptr<void> settled;
};

void StartUpload(StreamTarget target, cloudillo::v1::ApiRequest request);
void StartDownload(StreamTarget target, cloudillo::v1::ApiRequest request);
void StartSocket(StreamTarget target, cloudillo::v1::ApiRequest request);

}  // namespace cloudillo::gateway
