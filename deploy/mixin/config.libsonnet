// Settings of the Cloudillo monitoring bundle. Override with
//   (import 'mixin.libsonnet') + { _config+:: { runbookBase: '...' } }
{
  _config+:: {
    // Scrape jobs are named cloudillo-<service> (the chart's ServiceMonitors set it
    // through jobLabel; a hand-written scrape config should do the same).
    services: ['gateway', 'identity', 'access', 'action', 'blob', 'collab'],
    jobSelector: 'job=~"cloudillo-.*"',
    gatewayJob: 'job="cloudillo-gateway"',
    // Where each alert's runbook lives (anchors are the alert names, lower-cased).
    runbookBase: 'https://github.com/cloudillo/cloudillo-cluster/blob/main/docs/runbooks.md#',

    // Availability SLO of the REST API at the gateway: answers that are not 5xx.
    availabilitySlo: 0.999,
    // Latency SLO: this share of API requests answers within latencyThreshold seconds
    // (a bucket boundary of cloudillo_http_request_duration_seconds). WebSockets,
    // long polls and file transfers last as long as the client wants: excluded.
    latencySlo: 0.99,
    latencyThreshold: '0.25',
    latencyExcludedRoutes: '/ws/.*|/api/auth/qr-login/\\\\{id\\\\}/status|/api/files.*|/api/store.*',

    // gRPC codes that are the server's fault: UNKNOWN, DEADLINE_EXCEEDED, INTERNAL,
    // UNAVAILABLE, DATA_LOSS.
    grpcServerErrorCodes: '2|4|13|14|15',
    grpcErrorRatio: 0.05,

    // Federation (action service).
    outboxAgeWarningSeconds: 900,
    outboxAgeCriticalSeconds: 3600,
    deliveryFailureRatio: 0.25,
    // Object store (blob service).
    blobStoreErrorRatio: 0.05,
    // Volumes of this release (blob filesystem store).
    pvcSelector: 'persistentvolumeclaim=~".*cloudillo.*"',
    // The chart's migration Job (kube-state-metrics).
    migrationJobSelector: 'job_name=~".*cloudillo-migrate"',
    // The chart's tenant purge CronJob's Jobs (<release>-cloudillo-tenant-purge-<time>).
    purgeJobSelector: 'job_name=~".*cloudillo-tenant-purge-[0-9]+"',
  },
}
