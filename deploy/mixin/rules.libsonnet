// Recording rules: the SLIs the burn-rate alerts and the dashboards read.
local windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
{
  prometheusRules+:: {
    local c = $._config,
    groups+: [
      {
        name: 'cloudillo-slo.rules',
        rules: [
          {
            record: 'cloudillo:http_requests:error_ratio_rate' + w,
            expr: |||
              sum by (namespace) (rate(cloudillo_http_requests_total{%(gatewayJob)s,status=~"5.."}[%(w)s]))
              /
              sum by (namespace) (rate(cloudillo_http_requests_total{%(gatewayJob)s}[%(w)s]))
            ||| % (c { w: w }),
          }
          for w in windows
        ] + [
          {
            record: 'cloudillo:http_requests:slow_ratio_rate' + w,
            expr: |||
              1 - (
                sum by (namespace) (rate(cloudillo_http_request_duration_seconds_bucket{%(gatewayJob)s,le="%(latencyThreshold)s",route!~"%(latencyExcludedRoutes)s"}[%(w)s]))
                /
                sum by (namespace) (rate(cloudillo_http_request_duration_seconds_count{%(gatewayJob)s,route!~"%(latencyExcludedRoutes)s"}[%(w)s]))
              )
            ||| % (c { w: w }),
          }
          for w in windows
        ],
      },
      {
        name: 'cloudillo-latency.rules',
        rules: [
          {
            record: 'cloudillo:http_request_duration_seconds:p99_rate5m',
            expr: |||
              histogram_quantile(0.99, sum by (namespace, le) (rate(cloudillo_http_request_duration_seconds_bucket{%(gatewayJob)s,route!~"%(latencyExcludedRoutes)s"}[5m])))
            ||| % c,
          },
          {
            record: 'cloudillo:grpc_server_latency_seconds:p99_rate5m',
            expr: |||
              histogram_quantile(0.99, sum by (namespace, job, le) (rate(cloudillo_grpc_server_latency_seconds_bucket{%(jobSelector)s}[5m])))
            ||| % c,
          },
          {
            record: 'cloudillo:grpc_server_calls:error_ratio_rate5m',
            expr: |||
              sum by (namespace, job) (rate(cloudillo_grpc_server_calls_total{%(jobSelector)s,code=~"%(grpcServerErrorCodes)s"}[5m]))
              /
              sum by (namespace, job) (rate(cloudillo_grpc_server_calls_total{%(jobSelector)s}[5m]))
            ||| % c,
          },
        ],
      },
    ],
  },
}
