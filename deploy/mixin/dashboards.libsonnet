// Grafana dashboards as code (no library: plain Grafana JSON). One per service and an
// overview with the SLOs. Every query filters on the namespace variable.
local ds = { type: 'prometheus', uid: '${datasource}' };
local panel(title, exprs, unit='short', x=0, y=0, w=12, h=8, legend='') = {
  type: 'timeseries',
  title: title,
  datasource: ds,
  gridPos: { x: x, y: y, w: w, h: h },
  fieldConfig: { defaults: { unit: unit }, overrides: [] },
  options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
  targets: [
    { datasource: ds, expr: e[0], legendFormat: e[1], refId: std.char(65 + i) }
    for i in std.range(0, std.length(exprs) - 1)
    for e in [exprs[i]]
  ],
};
// Lays panels out two per row.
local grid(panels) = [
  panels[i] { gridPos+: { x: (i % 2) * 12, y: std.floor(i / 2) * 8 } }
  for i in std.range(0, std.length(panels) - 1)
] + [];
local withIds(panels) = [panels[i] { id: i + 1 } for i in std.range(0, std.length(panels) - 1)];
local dashboard(uid, title, panels) = {
  uid: uid,
  title: title,
  tags: ['cloudillo'],
  timezone: 'utc',
  schemaVersion: 39,
  version: 1,
  editable: false,
  refresh: '30s',
  time: { from: 'now-6h', to: 'now' },
  templating: {
    list: [
      { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
      {
        name: 'namespace',
        type: 'query',
        datasource: ds,
        query: 'label_values(up{job=~"cloudillo-.*"}, namespace)',
        refresh: 2,
        label: 'Namespace',
      },
    ],
  },
  panels: withIds(grid(panels)),
};

local sel(job) = 'job="cloudillo-%s",namespace="$namespace"' % job;
// What every service has: libs/rpc, libs/process and the worker pool.
local common(job) = [
  panel('Pods up', [['sum(up{%s})' % sel(job), 'up'], ['count(up{%s})' % sel(job), 'targets']]),
  panel('Dependencies', [['min by (dependency) (cloudillo_dependency_up{%s})' % sel(job), '{{dependency}}']]),
] + (if job == 'gateway' then [] else [
  panel('gRPC calls by method', [['sum by (method) (rate(cloudillo_grpc_server_calls_total{%s}[5m]))' % sel(job), '{{method}}']], 'reqps'),
  panel('gRPC server errors by code', [['sum by (code) (rate(cloudillo_grpc_server_calls_total{%s,code=~"2|4|13|14|15"}[5m]))' % sel(job), 'code {{code}}']], 'reqps'),
  panel('gRPC latency p50 / p99', [
    ['histogram_quantile(0.5, sum by (le) (rate(cloudillo_grpc_server_latency_seconds_bucket{%s}[5m])))' % sel(job), 'p50'],
    ['histogram_quantile(0.99, sum by (le) (rate(cloudillo_grpc_server_latency_seconds_bucket{%s}[5m])))' % sel(job), 'p99'],
  ], 's'),
  panel('gRPC calls in flight', [['sum(cloudillo_grpc_server_in_flight{%s})' % sel(job), 'in flight']]),
  panel('Worker queue (waiting for PostgreSQL)', [['sum by (pool) (cloudillo_worker_queue_depth{%s})' % sel(job), '{{pool}}']]),
  panel('Calls refused (queue full)', [['sum by (pool) (rate(cloudillo_worker_refused_total{%s}[5m]))' % sel(job), '{{pool}}']], 'reqps'),
  panel('PostgreSQL connections', [
    ['sum by (pool) (cloudillo_db_pool_connections_in_use{%s})' % sel(job), 'in use {{pool}}'],
    ['sum by (pool) (cloudillo_db_pool_connections{%s})' % sel(job), 'size {{pool}}'],
    ['sum by (pool) (cloudillo_db_pool_waiters{%s})' % sel(job), 'waiting {{pool}}'],
  ]),
  panel('PostgreSQL connection wait p99', [['histogram_quantile(0.99, sum by (pool, le) (rate(cloudillo_db_pool_wait_seconds_bucket{%s}[5m])))' % sel(job), '{{pool}}']], 's'),
]);

local extra = {
  gateway: [
    panel('HTTP requests by status', [['sum by (status) (rate(cloudillo_http_requests_total{%s}[5m]))' % sel('gateway'), '{{status}}']], 'reqps'),
    panel('HTTP latency p50 / p99', [
      ['histogram_quantile(0.5, sum by (le) (rate(cloudillo_http_request_duration_seconds_bucket{%s}[5m])))' % sel('gateway'), 'p50'],
      ['histogram_quantile(0.99, sum by (le) (rate(cloudillo_http_request_duration_seconds_bucket{%s}[5m])))' % sel('gateway'), 'p99'],
    ], 's'),
    panel('Slowest routes (p99)', [['topk(10, histogram_quantile(0.99, sum by (route, le) (rate(cloudillo_http_request_duration_seconds_bucket{%s}[5m]))))' % sel('gateway'), '{{route}}']], 's'),
    panel('Error answers by wire code', [['sum by (code) (rate(cloudillo_http_errors_total{%s}[5m]))' % sel('gateway'), '{{code}}']], 'reqps'),
    panel('Rate limited by bucket', [['sum by (bucket) (rate(cloudillo_rate_limited_total{%s}[5m]))' % sel('gateway'), '{{bucket}}']], 'reqps'),
    panel('Cache hit ratio', [['sum by (cache) (rate(cloudillo_gateway_cache_lookups_total{%s,result="hit"}[5m])) / sum by (cache) (rate(cloudillo_gateway_cache_lookups_total{%s}[5m]))' % [sel('gateway'), sel('gateway')], '{{cache}}']], 'percentunit'),
    panel('Requests in flight', [['sum(cloudillo_http_in_flight{%s})' % sel('gateway'), 'in flight']]),
  ],
  identity: [],
  access: [],
  action: [
    panel('Outbox: oldest pending delivery', [['max(cloudillo_outbox_oldest_pending_seconds{%s})' % sel('action'), 'age']], 's'),
    panel('Outbox: pending deliveries', [['sum(cloudillo_outbox_pending{%s})' % sel('action'), 'pending']]),
    panel('Deliveries and failures', [
      ['sum(rate(cloudillo_delivery_attempts_total{%s}[5m]))' % sel('action'), 'attempts'],
      ['sum by (reason) (rate(cloudillo_delivery_failures_total{%s}[5m]))' % sel('action'), 'failed: {{reason}}'],
    ], 'reqps'),
    panel('Inbox by result', [['sum by (result) (rate(cloudillo_inbox_received_total{%s}[5m]))' % sel('action'), '{{result}}']], 'reqps'),
  ],
  blob: [
    panel('Object store requests and errors', [
      ['sum by (op) (rate(cloudillo_blob_store_requests_total{%s}[5m]))' % sel('blob'), '{{op}}'],
      ['sum by (op) (rate(cloudillo_blob_store_errors_total{%s}[5m]))' % sel('blob'), 'errors {{op}}'],
    ], 'reqps'),
    panel('Bytes uploaded / downloaded', [
      ['sum(rate(cloudillo_blob_upload_bytes_total{%s}[5m]))' % sel('blob'), 'upload'],
      ['sum(rate(cloudillo_blob_download_bytes_total{%s}[5m]))' % sel('blob'), 'download'],
    ], 'Bps'),
  ],
  collab: [
    panel('Open WebSocket sessions', [['sum(cloudillo_collab_connections{%s})' % sel('collab'), 'sessions']]),
    panel('Documents open', [['sum(cloudillo_collab_documents_open{%s})' % sel('collab'), 'documents']]),
    panel('Updates applied', [['sum(rate(cloudillo_collab_updates_total{%s}[5m]))' % sel('collab'), 'updates']], 'ops'),
    panel('Client messages refused or dropped', [
      ['sum by (reason) (rate(cloudillo_collab_dropped_total{%s}[5m]))' % sel('collab'), '{{reason}}'],
    ], 'ops'),
    panel('Pub/sub gaps filled from the log', [
      ['sum(rate(cloudillo_collab_gap_fills_total{%s}[5m]))' % sel('collab'), 'gap fills'],
    ], 'ops'),
  ],
};

{
  grafanaDashboards+:: {
    ['cloudillo-%s.json' % s]: dashboard('cloudillo-%s' % s, 'Cloudillo / %s' % s, common(s) + extra[s])
    for s in $._config.services
  } + {
    'cloudillo-overview.json': dashboard('cloudillo-overview', 'Cloudillo / overview', [
      panel('API availability (non-5xx), 1h', [['1 - cloudillo:http_requests:error_ratio_rate1h{namespace="$namespace"}', 'availability']], 'percentunit'),
      panel('API requests under %ss, 1h' % $._config.latencyThreshold, [['1 - cloudillo:http_requests:slow_ratio_rate1h{namespace="$namespace"}', 'fast']], 'percentunit'),
      panel('API latency p99', [['cloudillo:http_request_duration_seconds:p99_rate5m{namespace="$namespace"}', 'p99']], 's'),
      panel('Services up', [['sum by (job) (up{job=~"cloudillo-.*",namespace="$namespace"})', '{{job}}']]),
      panel('gRPC error ratio by service', [['cloudillo:grpc_server_calls:error_ratio_rate5m{namespace="$namespace"}', '{{job}}']], 'percentunit'),
      panel('gRPC p99 by service', [['cloudillo:grpc_server_latency_seconds:p99_rate5m{namespace="$namespace"}', '{{job}}']], 's'),
    ]),
  },
}
