// The one conversion between absl::Status and grpc::Status (EXAMPLES.md item 2).
//
// Codes map one-to-one (both enumerations share values). A status may carry a wire
// error code (`E-SET-NOTFOUND`) and a details object: ApiError() attaches them as an
// absl payload, ToGrpcStatus() moves them into grpc error_details as an ErrorInfo,
// and ErrorInfoOf() reads them back on the caller's side.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cloudillo/v1/common.pb.h"
#include "grpcpp/support/status.h"

namespace cloudillo::rpc {

absl::Status ApiError(absl::StatusCode code, std::string_view wire_code, std::string_view message,
                      std::string_view details_json = {}, int http_status = 0);

// The same error, answered only after `delay` (the gateway holds it on a timer).
absl::Status WithAnswerDelay(absl::Status status, absl::Duration delay);

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The ErrorInfo of a status (empty fields when none was attached).
cloudillo::v1::ErrorInfo ErrorInfoOf(const absl::Status& status);
cloudillo::v1::ErrorInfo ErrorInfoOf(const grpc::Status& status);

}  // namespace cloudillo::rpc
