// What tools/mixin writes. `jsonnet -S -e '(import "build.jsonnet").rules'` gives the
// rules file (alerts and recording rules: the layout of a Prometheus rule file and of a
// PrometheusRule's spec); `jsonnet -m DIR -e '(import "build.jsonnet").dashboards'`
// writes one JSON file per dashboard (jsonnet's own JSON output: fast).
local mixin = import 'mixin.libsonnet';
{
  rules: std.manifestYamlDoc(
    { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }, indent_array_in_object=false
  ) + '\n',
  dashboards: mixin.grafanaDashboards,
}
