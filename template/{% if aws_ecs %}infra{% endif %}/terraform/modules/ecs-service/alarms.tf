# Alarms and where they go: an encrypted SNS topic, CloudWatch alarms on the load
# balancer, the ECS service and the metrics the service writes as Embedded Metric Format
# (EMF) log lines. Every notifying alarm sends to the topic on ALARM and on OK.

locals {
  alarm_topic_name = "${var.name}-alarms"
  alarm_topic_arn  = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.alarm_topic_name}"
  # Every alarm of this module is named "<name>-..."; the topic and its key admit only these.
  alarm_arn_pattern = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"
  alarm_actions     = [aws_sns_topic.alarms.arn]

  # The service's EMF lines (EMF_NAMESPACE, EMF_SERVICE on the task): one namespace per
  # environment, one dimension set [["Service"]] with the value var.name.
  emf_namespace  = "GenAI/${var.name}"
  emf_dimensions = { Service = var.name }

  # The runbook's sections are named after the Prometheus alerts (monitoring/); an ECS alarm
  # links the section of its counterpart. CPU, memory and unhealthy targets have none.
  runbook_sections = {
    "burn-page"       = "llmserviceerrorbudgetburnfast"
    "burn-ticket"     = "llmserviceerrorbudgetburnslow"
    "latency-p95"     = "llmservicelatencyp95high"
    "latency-p99"     = "llmservicelatencyp99high"
    "provider-errors" = "llmserviceprovidererrors"
    "circuit-open"    = "llmservicecircuitopen"
    "budget"          = "llmservicebudgetnearlyexhausted"
  }
  runbook = { for key, section in local.runbook_sections : key => var.runbook_url == "" ? "" : " Runbook: ${var.runbook_url}#${section}" }

  alb_dimensions          = { LoadBalancer = aws_lb.this.arn_suffix }
  target_group_dimensions = { LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix }
  ecs_dimensions          = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }

  # The error budget: the share of API requests that may fail over the SLO's 30 days.
  error_budget = (100 - var.slo_availability_percent) / 100

  # Multi-window, multi-burn-rate alerts as the Site Reliability Workbook's "Alerting on
  # SLOs" recommends: a pair fires when both its long and its short window burn the budget
  # faster than its factor (14.4x spends 2% of a 30-day budget in an hour); the short window
  # lets the alarm return to OK soon after the errors stop. An alarm may look back at most
  # 7 days (period x evaluation periods), so 3 days is one period.
  burn_rate_pairs = {
    page = [
      { long = "1h", short = "5m", factor = 14.4 },
      { long = "6h", short = "30m", factor = 6 },
    ]
    ticket = [
      { long = "1d", short = "2h", factor = 3 },
      { long = "3d", short = "6h", factor = 1 },
    ]
  }
  window_seconds = { "5m" = 300, "30m" = 1800, "1h" = 3600, "2h" = 7200, "6h" = 21600, "1d" = 86400, "3d" = 259200 }
  burn_rate_windows = merge([
    for severity, pairs in local.burn_rate_pairs : merge([
      for pair in pairs : {
        for window in [pair.long, pair.short] : "${severity}-${window}" => {
          severity = severity
          window   = window
          seconds  = local.window_seconds[window]
          factor   = pair.factor
        }
      }
    ]...)
  ]...)
  burn_rate_rules = {
    for severity, pairs in local.burn_rate_pairs : severity => join(" OR ", [
      for pair in pairs :
      "(ALARM(\"${var.name}-error-budget-burn-${severity}-${pair.long}\") AND ALARM(\"${var.name}-error-budget-burn-${severity}-${pair.short}\"))"
    ])
  }
}

# --- the topic ----------------------------------------------------------------------------

# A key of its own: the grant CloudWatch needs to publish to an encrypted topic stays off
# the key that protects the service's logs, images and secrets.
resource "aws_kms_key" "alarms" {
  description             = "Encrypts the alarm notifications of ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarms_kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

data "aws_iam_policy_document" "alarms_kms" {
  # checkov:skip=CKV_AWS_109:Key policy: the account root must administer the key or it becomes unmanageable; Resource "*" is this key only
  # checkov:skip=CKV_AWS_111:Key policy: the account root must administer the key or it becomes unmanageable; Resource "*" is this key only
  # checkov:skip=CKV_AWS_356:Key policy: Resource "*" in a key policy is this key only
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # A publisher to an SSE topic needs kms:GenerateDataKey* and kms:Decrypt on its key
  # (Amazon SNS "Key management", compatibility with AWS services): here CloudWatch alarms
  # of this service only, for this topic only.
  statement {
    sid       = "CloudWatchAlarmsPublishToTheTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arn_pattern]
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = local.alarm_topic_name
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = local.tags
}

# Replaces the default topic policy (which lets every principal of the account subscribe and
# publish): only this service's alarms may publish; the account's own IAM policies still
# govern who administers the topic.
resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisServicePublish"
    actions   = ["sns:Publish"]
    resources = [local.alarm_topic_arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.alarm_arn_pattern]
    }
  }
}

# Email subscriptions stay pending until the recipient confirms the message AWS sends.
resource "aws_sns_topic_subscription" "alarms" {
  for_each = { for s in var.alarm_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# --- availability: the 5xx ratio against the SLO's error budget -----------------------------

# Children of the two composite alarms below; they notify nobody themselves, so that one
# incident sends one page (the composite) instead of four.
resource "aws_cloudwatch_metric_alarm" "error_budget_burn" {
  for_each = local.burn_rate_windows

  alarm_name          = "${var.name}-error-budget-burn-${each.key}"
  alarm_description   = "API 5xx ratio over ${each.value.window} above ${each.value.factor}x the error budget of the ${var.slo_availability_percent}% availability SLO (part of the ${each.value.severity} composite alarm)."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = each.value.factor * local.error_budget
  # No requests, no load balancer metrics: nothing failed.
  treat_missing_data = "notBreaching"

  # 5xx from the tasks and from the load balancer itself (no healthy target, timeouts)
  # over all requests. RequestCount counts only requests the load balancer could route,
  # so the denominator is at least the errors: with every task gone the ratio is 1.
  metric_query {
    id          = "ratio"
    expression  = "IF(total > 0, errors / total, 0)"
    label       = "5xx ratio"
    return_data = true
  }

  metric_query {
    id         = "errors"
    expression = "FILL(target5xx, 0) + FILL(elb5xx, 0)"
  }

  metric_query {
    id         = "total"
    expression = "MAX([FILL(requests, 0), errors])"
  }

  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = each.value.seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = each.value.seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      period      = each.value.seconds
      stat        = "Sum"
    }
  }

  tags = local.tags
}

resource "aws_cloudwatch_composite_alarm" "error_budget_burn" {
  for_each = local.burn_rate_rules

  alarm_name        = "${var.name}-error-budget-burn-${each.key}"
  alarm_description = "${each.key == "page" ? "Fast" : "Slow"} burn of the ${var.slo_availability_percent}% availability SLO's error budget: 5xx ratio over two windows above a multiple of the budget (infra/terraform/README.md).${local.runbook["burn-${each.key}"]}"
  alarm_rule        = each.value
  alarm_actions     = local.alarm_actions
  ok_actions        = local.alarm_actions
  tags              = local.tags

  depends_on = [aws_cloudwatch_metric_alarm.error_budget_burn]
}

# --- latency --------------------------------------------------------------------------------

# TargetResponseTime is the access log's target_processing_time: until the task starts its
# response. For an SSE stream that is the time to the first event, not to the last byte.
resource "aws_cloudwatch_metric_alarm" "latency" {
  for_each = {
    p95 = var.slo_latency_seconds
    p99 = 2 * var.slo_latency_seconds
  }

  alarm_name          = "${var.name}-latency-${each.key}"
  alarm_description   = "Target response time ${each.key} above ${each.value} s for 15 minutes (latency SLO: p95 ${var.slo_latency_seconds} s, p99 alerts at twice it).${local.runbook["latency-${each.key}"]}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.target_group_dimensions
  extended_statistic  = each.key
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value
  # A percentile of a handful of requests says little: keep the state until there are enough.
  evaluate_low_sample_count_percentiles = "ignore"
  # No requests, no response times: nothing was slow.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# --- targets and tasks -----------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "More than ${var.unhealthy_hosts_threshold} target(s) failing the load balancer's readiness check for 5 minutes (longer than a deployment's start-up)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.target_group_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.unhealthy_hosts_threshold
  # Off hours (zero tasks) the target group reports nothing: no target is unhealthy.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs" {
  for_each = {
    # Average, as autoscaling sees it: above the alarm autoscaling is at max_tasks or stuck.
    cpu = { metric = "CPUUtilization", statistic = "Average", threshold = var.cpu_alarm_percent }
    # Maximum: one task near its memory limit is about to be killed, whatever the others do.
    memory = { metric = "MemoryUtilization", statistic = "Maximum", threshold = var.memory_alarm_percent }
  }

  alarm_name          = "${var.name}-${each.key}-high"
  alarm_description   = "ECS service ${each.value.metric} (${each.value.statistic}) above ${each.value.threshold}% for 15 minutes."
  namespace           = "AWS/ECS"
  metric_name         = each.value.metric
  dimensions          = local.ecs_dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  # A stopped service (off hours) reports nothing and uses nothing.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

# --- the service's own metrics (EMF) ---------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "provider_errors" {
  alarm_name          = "${var.name}-provider-errors"
  alarm_description   = "More than ${var.provider_error_ratio_threshold * 100}% of LLM provider calls failed (timeouts, errors, unexpected answers) in 2 of the last 3 five-minute periods.${local.runbook["provider-errors"]}"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = var.provider_error_ratio_threshold
  # No EMF lines means no tasks (or EMF off): no provider call failed.
  treat_missing_data = "notBreaching"

  metric_query {
    id          = "ratio"
    expression  = "IF(FILL(calls, 0) > 0, FILL(errors, 0) / calls, 0)"
    label       = "Provider error ratio"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = local.emf_namespace
      metric_name = "ProviderErrors"
      dimensions  = local.emf_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "calls"
    metric {
      namespace   = local.emf_namespace
      metric_name = "ProviderCalls"
      dimensions  = local.emf_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = local.tags
}

resource "aws_cloudwatch_metric_alarm" "circuit_open" {
  alarm_name          = "${var.name}-circuit-open"
  alarm_description   = "A circuit breaker to an LLM provider target has been open (or half-open) in some task for 5 minutes: requests to it fail fast or go to a fallback.${local.runbook["circuit-open"]}"
  namespace           = local.emf_namespace
  metric_name         = "CircuitOpen"
  dimensions          = local.emf_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # Without tasks there is no breaker to be open.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}

resource "aws_cloudwatch_metric_alarm" "budget_remaining" {
  count = var.daily_token_budget == null ? 0 : 1

  alarm_name          = "${var.name}-budget-nearly-exhausted"
  alarm_description   = "Fewer than ${var.budget_remaining_alarm_ratio * 100}% of the daily token budget (${var.daily_token_budget}) left; at 0 the service answers 429 until 00:00 UTC.${local.runbook["budget"]}"
  namespace           = local.emf_namespace
  metric_name         = "BudgetRemainingTokens"
  dimensions          = local.emf_dimensions
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = floor(var.budget_remaining_alarm_ratio * var.daily_token_budget)
  # Missing data is no task reporting (off hours), not an empty budget.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags
}
