# Offline tests of the alarms, their SNS topic and the dashboard (alarms.tf, dashboard.tf),
# with the same mocked AWS provider as ecs_service.tftest.hcl.

mock_provider "aws" {
  source          = "./tests/mocks"
  override_during = plan
}

variables {
  name               = "genai-service-test"
  image_name         = "genai-service"
  image_tag          = "0123456789abcdef0123456789abcdef01234567"
  vpc_id             = "vpc-0123456789abcdef0"
  private_subnet_ids = ["subnet-00000000000000001", "subnet-00000000000000002"]
  public_subnet_ids  = ["subnet-00000000000000003", "subnet-00000000000000004"]
  certificate_arn    = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  secret_names       = ["API_KEYS"]
}

run "alarms_notify_an_encrypted_topic_only_they_may_publish_to" {
  command = plan

  # Both keys would get the mock's one ARN: tell them apart to prove which one is used.
  override_resource {
    target          = aws_kms_key.alarms
    override_during = plan
    values          = { arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-aaaa-bbbb-cccc-alarms000000" }
  }

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.alarms.arn && aws_kms_key.alarms.arn != aws_kms_key.this.arn
    error_message = "The alarm topic must be encrypted with its own customer managed key."
  }

  assert {
    condition     = aws_kms_key.alarms.enable_key_rotation
    error_message = "The alarm topic's key must rotate."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.alarms_kms.statement : s.actions
      if anytrue([for p in s.principals : contains(p.identifiers, "cloudwatch.amazonaws.com")])
    ] == [toset(["kms:Decrypt", "kms:GenerateDataKey*"])]
    error_message = "CloudWatch may only generate and decrypt data keys with the alarm key."
  }

  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.alarms_kms, data.aws_iam_policy_document.alarms_topic] : alltrue([
        for s in doc.statement : contains(flatten([for c in s.condition : c.values if c.variable == "aws:SourceArn"]), "arn:aws:cloudwatch:us-east-1:123456789012:alarm:genai-service-test-*")
        if anytrue([for p in s.principals : contains(p.identifiers, "cloudwatch.amazonaws.com")])
      ])
    ])
    error_message = "Only this service's alarms (by ARN) may use the key and publish to the topic."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.alarms_topic.statement) == 1 &&
      data.aws_iam_policy_document.alarms_topic.statement[0].actions == toset(["sns:Publish"]) &&
      data.aws_iam_policy_document.alarms_topic.statement[0].resources == toset(["arn:aws:sns:us-east-1:123456789012:genai-service-test-alarms"])
    )
    error_message = "The topic policy may only let the alarms publish to this topic."
  }

  assert {
    condition     = aws_sns_topic_policy.alarms.arn == aws_sns_topic.alarms.arn && length(aws_sns_topic_subscription.alarms) == 0
    error_message = "The topic policy must be attached to the topic; no subscription exists unless asked for."
  }

  assert {
    condition = alltrue([
      for alarm in concat(
        values(aws_cloudwatch_composite_alarm.error_budget_burn),
        values(aws_cloudwatch_metric_alarm.latency),
        [aws_cloudwatch_metric_alarm.unhealthy_hosts],
        values(aws_cloudwatch_metric_alarm.ecs),
        [aws_cloudwatch_metric_alarm.provider_errors, aws_cloudwatch_metric_alarm.circuit_open],
      ) : alarm.alarm_actions == toset([aws_sns_topic.alarms.arn]) && alarm.ok_actions == toset([aws_sns_topic.alarms.arn]) && startswith(alarm.alarm_name, "genai-service-test-")
    ])
    error_message = "Every notifying alarm must be named after the service and notify the topic on ALARM and on OK."
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.error_budget_burn : try(length(alarm.alarm_actions), 0) == 0 && try(length(alarm.ok_actions), 0) == 0])
    error_message = "The burn-rate windows notify through their composite alarm only (one page per incident)."
  }

  assert {
    condition = alltrue(flatten([
      for severity, composite in aws_cloudwatch_composite_alarm.error_budget_burn : [
        for key, window in aws_cloudwatch_metric_alarm.error_budget_burn : strcontains(composite.alarm_rule, "ALARM(\"${window.alarm_name}\")")
        if startswith(key, "${severity}-")
      ]
    ])) && toset(keys(aws_cloudwatch_metric_alarm.error_budget_burn)) == toset(["page-1h", "page-5m", "page-6h", "page-30m", "ticket-1d", "ticket-2h", "ticket-3d", "ticket-6h"])
    error_message = "The page and ticket alarms must combine the SRE workbook's window pairs (1h&5m, 6h&30m; 1d&2h, 3d&6h)."
  }

  assert {
    condition = alltrue([
      for key, alarm in aws_cloudwatch_metric_alarm.error_budget_burn :
      toset(flatten([for q in alarm.metric_query : [for m in q.metric : m.metric_name]])) == toset(["HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"]) &&
      alltrue(flatten([for q in alarm.metric_query : [for m in q.metric : m.period == { "5m" = 300, "30m" = 1800, "1h" = 3600, "2h" = 7200, "6h" = 21600, "1d" = 86400, "3d" = 259200 }[split("-", key)[1]]]])) &&
      length([for q in alarm.metric_query : q.id if q.return_data == true]) == 1
    ])
    error_message = "Each burn-rate window must divide target and load balancer 5xx by the requests over its own window."
  }

  assert {
    condition = (
      abs(aws_cloudwatch_metric_alarm.error_budget_burn["page-1h"].threshold - 14.4 * 0.005) < 1e-9 &&
      abs(aws_cloudwatch_metric_alarm.error_budget_burn["page-30m"].threshold - 6 * 0.005) < 1e-9 &&
      abs(aws_cloudwatch_metric_alarm.error_budget_burn["ticket-3d"].threshold - 0.005) < 1e-9
    )
    error_message = "The default 99.5% SLO leaves a 0.5% error budget: 14.4x, 6x, 3x and 1x of it."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.latency["p95"].extended_statistic == "p95" && aws_cloudwatch_metric_alarm.latency["p95"].threshold == 30 &&
      aws_cloudwatch_metric_alarm.latency["p99"].extended_statistic == "p99" && aws_cloudwatch_metric_alarm.latency["p99"].threshold == 60 &&
      aws_cloudwatch_metric_alarm.latency["p95"].metric_name == "TargetResponseTime" &&
      aws_cloudwatch_metric_alarm.latency["p95"].dimensions == tomap({ LoadBalancer = aws_lb.this.arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix })
    )
    error_message = "Latency alarms: p95 of the target response time above the SLO, p99 above twice it."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.ecs["cpu"].metric_name == "CPUUtilization" && aws_cloudwatch_metric_alarm.ecs["cpu"].threshold == 85 &&
      aws_cloudwatch_metric_alarm.ecs["memory"].metric_name == "MemoryUtilization" && aws_cloudwatch_metric_alarm.ecs["memory"].threshold == 85 &&
      aws_cloudwatch_metric_alarm.ecs["cpu"].dimensions == tomap({ ClusterName = "genai-service-test", ServiceName = "genai-service-test" }) &&
      aws_cloudwatch_metric_alarm.unhealthy_hosts.metric_name == "UnHealthyHostCount" && aws_cloudwatch_metric_alarm.unhealthy_hosts.threshold == 0
    )
    error_message = "CPU, memory and unhealthy-host alarms must watch this service with their default thresholds."
  }

  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "EMF_NAMESPACE", value = "GenAI/genai-service-test" }) &&
      contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "EMF_SERVICE", value = "genai-service-test" })
    )
    error_message = "The task must turn on EMF with the namespace and Service dimension the alarms read."
  }

  assert {
    condition = alltrue([
      for alarm in [aws_cloudwatch_metric_alarm.circuit_open] : alarm.namespace == "GenAI/genai-service-test" && alarm.dimensions == tomap({ Service = "genai-service-test" }) && alarm.metric_name == "CircuitOpen" && alarm.threshold == 0
    ]) && toset(flatten([for q in aws_cloudwatch_metric_alarm.provider_errors.metric_query : [for m in q.metric : "${m.namespace} ${m.metric_name} ${m.dimensions.Service}"]])) == toset(["GenAI/genai-service-test ProviderErrors genai-service-test", "GenAI/genai-service-test ProviderCalls genai-service-test"])
    error_message = "The EMF alarms must read the namespace and Service dimension set on the task."
  }

  assert {
    condition     = !strcontains(aws_cloudwatch_composite_alarm.error_budget_burn["page"].alarm_description, "Runbook:")
    error_message = "Without runbook_url no alarm links a runbook."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.budget_remaining) == 0
    error_message = "Without daily_token_budget there is nothing to compare the remaining budget with."
  }

  assert {
    condition = toset(flatten([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for metric in try(widget.properties.metrics, []) : metric[1] if can(tostring(metric[1]))
      ]
    ])) == toset(["RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount", "CPUUtilization", "MemoryUtilization", "RunningTaskCount", "DesiredTaskCount", "PromptTokens", "CompletionTokens", "ProviderCalls", "ProviderErrors", "BudgetRemainingTokens", "CircuitOpen", "InFlight"])
    error_message = "The dashboard must show the load balancer, ECS and EMF metrics the alarms watch (and tokens, tasks, in-flight)."
  }

  assert {
    condition = alltrue([
      for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : alltrue([
        for metric in try(widget.properties.metrics, []) : metric[2] == "Service" && metric[3] == "genai-service-test" if metric[0] == "GenAI/genai-service-test"
      ])
    ])
    error_message = "The dashboard's EMF metrics must use the task's namespace and Service dimension."
  }

  assert {
    condition = toset(one([for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.alarms if widget.type == "alarm"])) == toset([
      for alarm in concat(
        values(aws_cloudwatch_composite_alarm.error_budget_burn),
        values(aws_cloudwatch_metric_alarm.latency),
        values(aws_cloudwatch_metric_alarm.ecs),
        [aws_cloudwatch_metric_alarm.unhealthy_hosts, aws_cloudwatch_metric_alarm.provider_errors, aws_cloudwatch_metric_alarm.circuit_open],
      ) : "arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarm.alarm_name}"
    ])
    error_message = "The dashboard's alarm widget must show every notifying alarm."
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "genai-service-test"
    error_message = "The dashboard must be named after the service."
  }
}

run "thresholds_follow_the_variables" {
  command = plan

  variables {
    slo_availability_percent       = 99.9
    slo_latency_seconds            = 10
    cpu_alarm_percent              = 90
    memory_alarm_percent           = 75
    unhealthy_hosts_threshold      = 1
    provider_error_ratio_threshold = 0.2
    daily_token_budget             = 500000
    budget_remaining_alarm_ratio   = 0.25
    runbook_url                    = "https://github.com/acme/genai-service/blob/main/docs/runbook.md"
    alarm_subscriptions = [
      { protocol = "email", endpoint = "oncall@example.com" },
      { protocol = "https", endpoint = "https://events.pagerduty.com/integration/abc/enqueue" },
    ]
  }

  assert {
    condition     = abs(aws_cloudwatch_metric_alarm.error_budget_burn["page-1h"].threshold - 14.4 * 0.001) < 1e-9 && abs(aws_cloudwatch_metric_alarm.error_budget_burn["ticket-1d"].threshold - 3 * 0.001) < 1e-9
    error_message = "A 99.9% SLO leaves a 0.1% error budget for the burn rates."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.latency["p95"].threshold == 10 && aws_cloudwatch_metric_alarm.latency["p99"].threshold == 20
    error_message = "The latency alarms must follow slo_latency_seconds."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.ecs["cpu"].threshold == 90 && aws_cloudwatch_metric_alarm.ecs["memory"].threshold == 75 && aws_cloudwatch_metric_alarm.unhealthy_hosts.threshold == 1 && aws_cloudwatch_metric_alarm.provider_errors.threshold == 0.2
    error_message = "CPU, memory, unhealthy-host and provider-error thresholds must follow their variables."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.budget_remaining[0].threshold == 125000 &&
      aws_cloudwatch_metric_alarm.budget_remaining[0].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.budget_remaining[0].metric_name == "BudgetRemainingTokens" &&
      aws_cloudwatch_metric_alarm.budget_remaining[0].alarm_actions == toset([aws_sns_topic.alarms.arn]) &&
      aws_cloudwatch_metric_alarm.budget_remaining[0].ok_actions == toset([aws_sns_topic.alarms.arn])
    )
    error_message = "The budget alarm must fire below a quarter of 500000 tokens and notify the topic."
  }

  assert {
    condition = (
      endswith(aws_cloudwatch_composite_alarm.error_budget_burn["page"].alarm_description, " Runbook: https://github.com/acme/genai-service/blob/main/docs/runbook.md#llmserviceerrorbudgetburnfast") &&
      endswith(aws_cloudwatch_composite_alarm.error_budget_burn["ticket"].alarm_description, "#llmserviceerrorbudgetburnslow") &&
      endswith(aws_cloudwatch_metric_alarm.latency["p99"].alarm_description, "#llmservicelatencyp99high") &&
      endswith(aws_cloudwatch_metric_alarm.provider_errors.alarm_description, "#llmserviceprovidererrors") &&
      endswith(aws_cloudwatch_metric_alarm.circuit_open.alarm_description, "#llmservicecircuitopen") &&
      endswith(aws_cloudwatch_metric_alarm.budget_remaining[0].alarm_description, "#llmservicebudgetnearlyexhausted")
    )
    error_message = "Alarm descriptions must link the runbook section of their Prometheus counterpart."
  }

  assert {
    condition     = contains(one([for widget in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : widget.properties.alarms if widget.type == "alarm"]), "arn:aws:cloudwatch:us-east-1:123456789012:alarm:genai-service-test-budget-nearly-exhausted")
    error_message = "The dashboard's alarm widget must show the budget alarm."
  }

  assert {
    condition = (
      toset([for s in aws_sns_topic_subscription.alarms : "${s.protocol} ${s.endpoint}"]) == toset(["email oncall@example.com", "https https://events.pagerduty.com/integration/abc/enqueue"]) &&
      alltrue([for s in aws_sns_topic_subscription.alarms : s.topic_arn == aws_sns_topic.alarms.arn])
    )
    error_message = "Each alarm_subscriptions entry must subscribe to the alarm topic."
  }
}

run "bad_alarm_settings_are_rejected" {
  command = plan

  variables {
    slo_availability_percent       = 100
    slo_latency_seconds            = 0
    cpu_alarm_percent              = 50
    provider_error_ratio_threshold = 1.5
    budget_remaining_alarm_ratio   = 0
    unhealthy_hosts_threshold      = 0.5
    alarm_subscriptions            = [{ protocol = "http", endpoint = "http://hooks.example.com/alarms" }]
    runbook_url                    = "docs/runbook.md"
  }

  # 100% leaves no error budget; a 0 s latency target always fires; a CPU alarm below
  # autoscaling's 60% target fires in normal operation; ratios are between 0 and 1; hosts
  # are whole; plain HTTP would send alarm contents unencrypted; a runbook link must open
  # from an email.
  expect_failures = [
    var.slo_availability_percent,
    var.slo_latency_seconds,
    var.cpu_alarm_percent,
    var.provider_error_ratio_threshold,
    var.budget_remaining_alarm_ratio,
    var.unhealthy_hosts_threshold,
    var.alarm_subscriptions,
    var.runbook_url,
  ]
}
