// What tools/mixin writes: one rules file (alerts and recording rules, the layout of
// a Prometheus rule file and of a PrometheusRule's spec) and the dashboards.
local mixin = import 'mixin.libsonnet';
{
  'prometheus-rules.yaml': std.manifestYamlDoc(
    { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }, indent_array_in_object=false
  ) + '\n',
} + {
  ['dashboards/' + name]: std.manifestJsonEx(mixin.grafanaDashboards[name], '  ') + '\n'
  for name in std.objectFields(mixin.grafanaDashboards)
}
