# One CloudWatch dashboard per environment: the load balancer's view (requests, 5xx,
# latency), the ECS service's (CPU, memory, tasks) and the service's own EMF metrics.

locals {
  # CloudWatch dashboard metric arrays: [namespace, metric, dimension name, value, ..., options].
  alb_metric = ["AWS/ApplicationELB"]
  alb_dims   = ["LoadBalancer", aws_lb.this.arn_suffix]
  tg_dims    = ["LoadBalancer", aws_lb.this.arn_suffix, "TargetGroup", aws_lb_target_group.this.arn_suffix]
  ecs_dims   = ["ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.this.name]
  emf_dims   = ["Service", local.emf_dimensions.Service]

  dashboard_widgets = [
    {
      title   = "Requests and 5xx (load balancer)"
      stat    = "Sum"
      metrics = [for name in ["RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"] : concat(local.alb_metric, [name], local.alb_dims)]
    },
    {
      title = "5xx ratio vs the error budget"
      stat  = "Sum"
      metrics = [
        [{ expression = "IF(MAX([FILL(m1, 0), FILL(m2, 0) + FILL(m3, 0)]) > 0, (FILL(m2, 0) + FILL(m3, 0)) / MAX([FILL(m1, 0), FILL(m2, 0) + FILL(m3, 0)]), 0)", label = "5xx ratio", id = "e1" }],
        concat(local.alb_metric, ["RequestCount"], local.alb_dims, [{ id = "m1", visible = false }]),
        concat(local.alb_metric, ["HTTPCode_Target_5XX_Count"], local.alb_dims, [{ id = "m2", visible = false }]),
        concat(local.alb_metric, ["HTTPCode_ELB_5XX_Count"], local.alb_dims, [{ id = "m3", visible = false }]),
      ]
      annotations = { horizontal = [{ label = "error budget (${var.slo_availability_percent}% SLO)", value = local.error_budget }] }
    },
    {
      title   = "Target response time"
      metrics = [for p in ["p50", "p95", "p99"] : concat(local.alb_metric, ["TargetResponseTime"], local.tg_dims, [{ stat = p, label = p }])]
      annotations = { horizontal = [
        { label = "p95 SLO", value = var.slo_latency_seconds },
        { label = "p99 alarm", value = 2 * var.slo_latency_seconds },
      ] }
    },
    {
      title = "Targets"
      stat  = "Maximum"
      metrics = [
        concat(local.alb_metric, ["HealthyHostCount"], local.tg_dims),
        concat(local.alb_metric, ["UnHealthyHostCount"], local.tg_dims),
      ]
    },
    {
      title = "ECS CPU and memory (%)"
      metrics = [
        concat(["AWS/ECS", "CPUUtilization"], local.ecs_dims, [{ stat = "Average" }]),
        concat(["AWS/ECS", "MemoryUtilization"], local.ecs_dims, [{ stat = "Maximum" }]),
      ]
      annotations = { horizontal = [{ label = "CPU alarm", value = var.cpu_alarm_percent }] }
    },
    {
      # Container Insights is on for the cluster (ecs.tf), which publishes the task counts.
      title = "ECS tasks"
      stat  = "Average"
      metrics = [
        concat(["ECS/ContainerInsights", "RunningTaskCount"], local.ecs_dims),
        concat(["ECS/ContainerInsights", "DesiredTaskCount"], local.ecs_dims),
      ]
    },
    {
      title   = "Tokens (EMF)"
      stat    = "Sum"
      metrics = [for name in ["PromptTokens", "CompletionTokens"] : concat([local.emf_namespace, name], local.emf_dims)]
    },
    {
      title   = "Provider calls and errors (EMF)"
      stat    = "Sum"
      metrics = [for name in ["ProviderCalls", "ProviderErrors"] : concat([local.emf_namespace, name], local.emf_dims)]
    },
    {
      title   = "Daily token budget remaining (EMF)"
      stat    = "Minimum"
      metrics = [concat([local.emf_namespace, "BudgetRemainingTokens"], local.emf_dims)]
      annotations = { horizontal = var.daily_token_budget == null ? [] : [
        { label = "alarm", value = floor(var.budget_remaining_alarm_ratio * var.daily_token_budget) },
      ] }
    },
    {
      title   = "Open circuit breakers and in-flight requests (EMF)"
      stat    = "Maximum"
      metrics = [for name in ["CircuitOpen", "InFlight"] : concat([local.emf_namespace, name], local.emf_dims)]
    },
  ]

  dashboard_body = {
    widgets = concat(
      [
        {
          type   = "alarm"
          x      = 0
          y      = 0
          width  = 24
          height = 3
          properties = {
            title = "Alarms"
            # ARNs from the names (the module names every alarm), known before the alarms exist.
            alarms = [
              for alarm_name in concat(
                [for a in aws_cloudwatch_composite_alarm.error_budget_burn : a.alarm_name],
                [for a in aws_cloudwatch_metric_alarm.latency : a.alarm_name],
                [aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_name],
                [for a in aws_cloudwatch_metric_alarm.ecs : a.alarm_name],
                [aws_cloudwatch_metric_alarm.provider_errors.alarm_name, aws_cloudwatch_metric_alarm.circuit_open.alarm_name],
                [for a in aws_cloudwatch_metric_alarm.budget_remaining : a.alarm_name],
              ) : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${alarm_name}"
            ]
          }
        },
      ],
      [
        for index, widget in local.dashboard_widgets : {
          type   = "metric"
          x      = (index % 2) * 12
          y      = 3 + floor(index / 2) * 6
          width  = 12
          height = 6
          properties = merge(
            {
              title   = widget.title
              region  = local.region
              view    = "timeSeries"
              stacked = false
              period  = 60
              metrics = widget.metrics
            },
            contains(keys(widget), "stat") ? { stat = widget.stat } : {},
            contains(keys(widget), "annotations") ? { annotations = widget.annotations } : {},
          )
        }
      ],
    )
  }
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode(local.dashboard_body)
}
