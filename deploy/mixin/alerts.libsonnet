// Alerts. Every alert carries severity, summary, description and a runbook_url whose
// anchor is a section of docs/runbooks.md (tools/test checks both, and that every alert
// has a promtool unit test in tests/rules_test.yaml). No rule groups by a tenant or a
// remote host: per-tenant usage goes through the admin API.
{
  prometheusAlerts+:: {
    local c = $._config,
    local alert(name, expr, forDuration, severity, summary, description) = {
      alert: name,
      expr: expr,
      'for': forDuration,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: '%s%s' % [c.runbookBase, std.asciiLower(name)],
      },
    },
    // Multi-window, multi-burn-rate alerts (the SRE workbook): a long and a short window
    // must both burn the error budget at `factor` times the sustainable rate.
    local burn(name, sli, budget, what) = [
      alert(name,
            |||
              (%(sli)s1h > (14.4 * %(b)g) and %(sli)s5m > (14.4 * %(b)g))
              or
              (%(sli)s6h > (6 * %(b)g) and %(sli)s30m > (6 * %(b)g))
            ||| % { sli: sli, b: budget },
            '2m', 'critical',
            '%s burns its monthly error budget fast' % what,
            '%s in {{ $labels.namespace }} burns the error budget at 6-14x the sustainable rate: at this pace a month\'s budget is gone within days.' % what),
      alert(name,
            |||
              (%(sli)s1d > (3 * %(b)g) and %(sli)s2h > (3 * %(b)g))
              or
              (%(sli)s3d > %(b)g and %(sli)s6h > %(b)g)
            ||| % { sli: sli, b: budget },
            '1h', 'warning',
            '%s burns its monthly error budget' % what,
            '%s in {{ $labels.namespace }} has burnt the error budget faster than sustainable over days.' % what),
    ],
    groups+: [
      {
        name: 'cloudillo-availability',
        rules: [
          alert('CloudilloTargetDown',
                'up{%(jobSelector)s} == 0' % c, '5m', 'warning',
                'A Cloudillo pod cannot be scraped',
                '{{ $labels.job }} target {{ $labels.instance }} in {{ $labels.namespace }} has been down for 5 minutes.'),
          alert('CloudilloServiceDown',
                'sum by (namespace, job) (up{%(jobSelector)s}) == 0' % c, '2m', 'critical',
                'Every pod of a Cloudillo service is down',
                'No {{ $labels.job }} pod in {{ $labels.namespace }} answers its /metrics: the service is unavailable.'),
        ],
      },
      {
        name: 'cloudillo-slo',
        rules:
          burn('CloudilloErrorBudgetBurn', 'cloudillo:http_requests:error_ratio_rate', 1 - c.availabilitySlo, 'The API (5xx answers)') +
          burn('CloudilloLatencyBudgetBurn', 'cloudillo:http_requests:slow_ratio_rate', 1 - c.latencySlo,
               'The API (requests slower than %ss)' % c.latencyThreshold),
      },
      {
        name: 'cloudillo-services',
        rules: [
          alert('CloudilloGrpcErrors',
                'cloudillo:grpc_server_calls:error_ratio_rate5m > %g' % c.grpcErrorRatio, '10m', 'warning',
                'A Cloudillo service fails many calls',
                'More than %g%% of the gRPC calls to {{ $labels.job }} in {{ $labels.namespace }} fail with a server error ({{ $value | humanizePercentage }}).' % (100 * c.grpcErrorRatio)),
          // The pool's own view: every connection lent and callers waiting for one, through
          // the whole window (a burst that clears within minutes is not saturation).
          alert('CloudilloPostgresPoolSaturated',
                'min_over_time((sum by (namespace, job) (cloudillo_db_pool_connections_in_use{%(jobSelector)s}) / sum by (namespace, job) (cloudillo_db_pool_connections{%(jobSelector)s}))[10m:1m]) >= 1 and on (namespace, job) min_over_time(sum by (namespace, job) (cloudillo_db_pool_waiters{%(jobSelector)s})[10m:1m]) > 0' % c, '5m', 'warning',
                'Calls wait for a PostgreSQL connection',
                'Every PostgreSQL connection of {{ $labels.job }} in {{ $labels.namespace }} has been in use, with callers waiting for one, for 15 minutes.'),
          alert('CloudilloWorkerQueueFull',
                'sum by (namespace, job) (rate(cloudillo_worker_refused_total{%(jobSelector)s}[5m])) > 0' % c, '5m', 'critical',
                'A Cloudillo service refuses calls (503)',
                '{{ $labels.job }} in {{ $labels.namespace }} refuses calls because its worker queue is full: clients get 503 E-SYS-UNAVAIL.'),
          alert('CloudilloPostgresUnavailable',
                'max by (namespace, job) (cloudillo_dependency_up{%(jobSelector)s,dependency="postgres"}) == 0' % c, '2m', 'critical',
                'A Cloudillo service cannot reach PostgreSQL',
                'No {{ $labels.job }} pod in {{ $labels.namespace }} reaches PostgreSQL.'),
          alert('CloudilloRedisUnavailable',
                'max by (namespace, job) (cloudillo_dependency_up{%(jobSelector)s,dependency="redis"}) == 0' % c, '2m', 'critical',
                'A Cloudillo service cannot reach Redis',
                'No {{ $labels.job }} pod in {{ $labels.namespace }} reaches Redis: caches are not invalidated across replicas, limits hold per replica only.'),
        ],
      },
      {
        name: 'cloudillo-federation',
        rules: [
          alert('CloudilloOutboxBacklog',
                'max by (namespace) (cloudillo_outbox_oldest_pending_seconds{%(jobSelector)s}) > %d' % [c.jobSelector, c.outboxAgeWarningSeconds], '15m', 'warning',
                'Federation deliveries are late',
                'The oldest undelivered action in {{ $labels.namespace }} has waited {{ $value | humanizeDuration }}.'),
          alert('CloudilloOutboxStuck',
                'max by (namespace) (cloudillo_outbox_oldest_pending_seconds{%(jobSelector)s}) > %d' % [c.jobSelector, c.outboxAgeCriticalSeconds], '15m', 'critical',
                'Federation deliveries are stuck',
                'The oldest undelivered action in {{ $labels.namespace }} has waited {{ $value | humanizeDuration }}: remote nodes miss posts, messages and connection requests.'),
          alert('CloudilloDeliveryFailures',
                |||
                  sum by (namespace) (rate(cloudillo_delivery_failures_total{%(jobSelector)s}[15m]))
                  /
                  sum by (namespace) (rate(cloudillo_delivery_attempts_total{%(jobSelector)s}[15m]))
                  > %(deliveryFailureRatio)g
                ||| % c, '30m', 'warning',
                'Many federation deliveries fail',
                'More than %g%% of outbound deliveries in {{ $labels.namespace }} fail ({{ $value | humanizePercentage }}).' % (100 * c.deliveryFailureRatio)),
        ],
      },
      {
        name: 'cloudillo-storage',
        rules: [
          alert('CloudilloBlobStoreErrors',
                |||
                  sum by (namespace) (rate(cloudillo_blob_store_errors_total{%(jobSelector)s}[5m]))
                  /
                  sum by (namespace) (rate(cloudillo_blob_store_requests_total{%(jobSelector)s}[5m]))
                  > %(blobStoreErrorRatio)g
                ||| % c, '10m', 'critical',
                'The object store fails',
                'More than %g%% of object-store requests from blob in {{ $labels.namespace }} fail ({{ $value | humanizePercentage }}): uploads and downloads fail.' % (100 * c.blobStoreErrorRatio)),
          alert('CloudilloVolumeFillingUp',
                |||
                  kubelet_volume_stats_available_bytes{%(pvcSelector)s} / kubelet_volume_stats_capacity_bytes{%(pvcSelector)s} < 0.15
                  and
                  predict_linear(kubelet_volume_stats_available_bytes{%(pvcSelector)s}[6h], 4 * 24 * 3600) < 0
                ||| % c, '1h', 'warning',
                'A Cloudillo volume fills up',
                'Volume {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} is expected to be full within four days.'),
          alert('CloudilloVolumeAlmostFull',
                'kubelet_volume_stats_available_bytes{%(pvcSelector)s} / kubelet_volume_stats_capacity_bytes{%(pvcSelector)s} < 0.05' % c,
                '5m', 'critical',
                'A Cloudillo volume is almost full',
                'Volume {{ $labels.persistentvolumeclaim }} in {{ $labels.namespace }} has {{ $value | humanizePercentage }} left.'),
        ],
      },
      {
        name: 'cloudillo-operations',
        rules: [
          alert('CloudilloMigrationFailed',
                'kube_job_status_failed{%(migrationJobSelector)s} > 0' % c, '0m', 'critical',
                'A Cloudillo migration failed',
                'Migration Job {{ $labels.job_name }} in {{ $labels.namespace }} failed: the upgrade stopped before new pods rolled out.'),
          alert('CloudilloTenantPurgeFailed',
                'kube_job_status_failed{%(purgeJobSelector)s} > 0' % c, '0m', 'warning',
                'Tenants past their deletion grace period were not purged',
                'Job {{ $labels.job_name }} in {{ $labels.namespace }} failed: tenants scheduled for deletion stay (not serving) until a purge succeeds.'),
        ],
      },
    ],
  },
}
