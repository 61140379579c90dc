# Offline tests of the module: the AWS provider is mocked, so `terraform test` needs
# no credentials and no network. The mocks answer during plan (Terraform >= 1.11), so
# every attribute the assertions read is known without an apply.

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
  secret_names       = ["API_KEYS", "OPENAI_API_KEY"]
  environment = {
    LLM_PROVIDER                = "openai"
    LOG_LEVEL                   = "INFO"
    OTEL_EXPORTER_OTLP_ENDPOINT = ""
  }
}

# Each run plans the whole module, which takes seconds, so the assertions are grouped:
# defaults, scaling, alternative inputs, rejected inputs.
run "defaults_are_secure" {
  command = plan

  assert {
    condition     = length(aws_elasticache_replication_group.redis) == 0 && !contains(keys(jsondecode(aws_ecs_task_definition.this.container_definitions)[0]), "REDIS_URL")
    error_message = "Without var.redis there is no Redis."
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "ECR tags must be immutable."
  }

  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "ECR must scan images on push."
  }

  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS" && aws_ecr_repository.this.encryption_configuration[0].kms_key == aws_kms_key.this.arn
    error_message = "ECR must be encrypted with the service's KMS key."
  }

  assert {
    condition     = aws_lb_listener_rule.metrics_not_public.priority == 1
    error_message = "The metrics rule must come first on the public HTTPS listener."
  }

  assert {
    condition     = aws_lb_listener_rule.metrics_not_public.action[0].type == "fixed-response" && aws_lb_listener_rule.metrics_not_public.action[0].fixed_response[0].status_code == "404"
    error_message = "The public listener must answer /metrics itself with 404, never forward it."
  }

  assert {
    condition     = anytrue([for c in aws_lb_listener_rule.metrics_not_public.condition : contains(flatten([for p in c.path_pattern : p.values]), "/metrics")])
    error_message = "The metrics rule must match /metrics."
  }

  assert {
    condition     = aws_ecr_repository.this.name == var.image_name
    error_message = "The repository must be named after the image."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "10001:10001"
    error_message = "The container must run as the image's non-root user 10001:10001."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem
    error_message = "The root filesystem must be read-only."
  }

  assert {
    condition = anytrue([
      for m in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints :
      m.containerPath == "/tmp" && !m.readOnly
    ])
    error_message = "/tmp must be a writable volume."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities.drop == ["ALL"]
    error_message = "All Linux capabilities must be dropped."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 8000
    error_message = "The container port must be 8000."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/genai-service:0123456789abcdef0123456789abcdef01234567"
    error_message = "The image must be the repository at the given immutable tag."
  }

  assert {
    condition     = strcontains(join(" ", jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command), "/healthz")
    error_message = "The container health check must probe the liveness path."
  }

  assert {
    condition     = aws_ecs_task_definition.this.network_mode == "awsvpc" && aws_ecs_task_definition.this.requires_compatibilities == toset(["FARGATE"])
    error_message = "The task must be a Fargate task in awsvpc mode."
  }

  assert {
    condition     = aws_iam_role.execution.name != aws_iam_role.task.name
    error_message = "Execution and task roles must be separate."
  }

  assert {
    condition     = [for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.name] == ["API_KEYS", "OPENAI_API_KEY"]
    error_message = "Every secret name must be injected."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets :
      s.valueFrom == aws_secretsmanager_secret.this[s.name].arn && startswith(s.valueFrom, "arn:aws:secretsmanager:")
    ])
    error_message = "Secrets must come from Secrets Manager by ARN."
  }

  assert {
    condition = length(setintersection(
      [for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name],
      var.secret_names,
    )) == 0
    error_message = "No secret may be passed as a plain environment variable."
  }

  assert {
    condition = [for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name] == [
      "EMF_NAMESPACE", "EMF_SERVICE", "FORWARDED_ALLOW_IPS", "LLM_PROVIDER", "LOG_LEVEL",
    ]
    error_message = "Settings with an empty value must be left unset."
  }

  assert {
    condition     = alltrue([for s in aws_secretsmanager_secret.this : s.kms_key_id == aws_kms_key.this.arn])
    error_message = "Secrets must be encrypted with the service's KMS key."
  }

  assert {
    condition     = aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    error_message = "Tasks must not get public IPs."
  }

  assert {
    condition     = toset(aws_ecs_service.this.network_configuration[0].subnets) == toset(var.private_subnet_ids)
    error_message = "Tasks must run in the private subnets."
  }

  assert {
    condition     = aws_ecs_service.this.deployment_circuit_breaker[0].enable && aws_ecs_service.this.deployment_circuit_breaker[0].rollback
    error_message = "Deployments must roll back on failure."
  }

  assert {
    condition     = aws_ecs_cluster.this.setting != null && anytrue([for s in aws_ecs_cluster.this.setting : s.name == "containerInsights" && s.value == "enabled"])
    error_message = "Container insights must be on."
  }

  assert {
    condition     = aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.port == 443
    error_message = "The load balancer must listen on HTTPS 443."
  }

  assert {
    condition     = startswith(aws_lb_listener.https.ssl_policy, "ELBSecurityPolicy-TLS13-1-2")
    error_message = "The HTTPS listener must allow TLS 1.2 and 1.3 only."
  }

  assert {
    condition     = aws_lb_listener.http_redirect.default_action[0].type == "redirect" && aws_lb_listener.http_redirect.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "HTTP must redirect to HTTPS."
  }

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields
    error_message = "The load balancer must drop invalid header fields."
  }

  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.access_logs[0].bucket == aws_s3_bucket.access_logs.id
    error_message = "Access logs must go to the log bucket."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection
    error_message = "Deletion protection must default to on."
  }

  assert {
    condition     = aws_lb.this.idle_timeout >= 120
    error_message = "The idle timeout must outlast the SSE keep-alive."
  }

  assert {
    condition     = aws_lb_target_group.this.health_check[0].path == "/readyz" && aws_lb_target_group.this.port == 8000
    error_message = "The target group must check readiness on the container port."
  }

  assert {
    condition     = tonumber(aws_lb_target_group.this.deregistration_delay) + jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout <= 120
    error_message = "Draining and stopping a task must fit in the 120 s Fargate Spot notice."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout > 20
    error_message = "The stop timeout must exceed the service's 20 s graceful shutdown."
  }

  assert {
    condition     = aws_wafv2_web_acl_association.this.resource_arn == aws_lb.this.arn
    error_message = "The WAF must protect the load balancer."
  }

  assert {
    condition     = length(aws_appautoscaling_scheduled_action.off_hours) == 0 && length(aws_appautoscaling_scheduled_action.working_hours) == 0
    error_message = "Without off_hours no scheduled scaling may exist."
  }

  assert {
    condition     = length(aws_iam_role_policy.task) == 0
    error_message = "The task role needs no permissions unless Bedrock is used."
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.execution.statement : [for a in s.actions : !strcontains(a, "*")]
    ]))
    error_message = "The execution role must not use wildcard actions."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.execution.statement : s.sid if contains(s.resources, "*")
    ] == ["AuthenticateToEcr"]
    error_message = "Only ecr:GetAuthorizationToken (which has no resource-level permissions) may use Resource \"*\"."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.execution.statement : s.resources if contains(s.actions, "kms:Decrypt")
    ] == [toset([aws_kms_key.this.arn])]
    error_message = "kms:Decrypt must be limited to the service's key."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.execution.statement : s.resources if contains(s.actions, "secretsmanager:GetSecretValue")
    ] == [toset([for s in aws_secretsmanager_secret.this : s.arn])]
    error_message = "The execution role may read the service's secrets only."
  }
}

run "autoscaling_bounds_and_spot_split" {
  command = plan

  variables {
    min_tasks = 2
    max_tasks = 6
    capacity_split = {
      fargate_base        = 2
      fargate_weight      = 1
      fargate_spot_weight = 3
    }
  }

  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 2 && aws_appautoscaling_target.this.max_capacity == 6
    error_message = "Autoscaling must keep between min_tasks and max_tasks tasks."
  }

  assert {
    condition     = aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization"
    error_message = "The service must scale on CPU."
  }

  assert {
    condition     = aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/genai-service-test/50dc6c495c0c9188/targetgroup/genai-service-test/73e2d6bc24d8a067"
    error_message = "The service must scale on requests per target of its own target group."
  }

  assert {
    condition = [
      for s in aws_ecs_service.this.capacity_provider_strategy : s.weight if s.capacity_provider == "FARGATE_SPOT"
    ] == [3]
    error_message = "FARGATE_SPOT must get the configured weight."
  }

  assert {
    condition = [
      for s in aws_ecs_service.this.capacity_provider_strategy : s.base if s.capacity_provider == "FARGATE"
    ] == [2]
    error_message = "The base tasks must run on on-demand FARGATE."
  }
}

run "off_hours_schedule" {
  command = plan

  variables {
    min_tasks = 2
    max_tasks = 6
    off_hours = {
      scale_down = "cron(0 19 ? * MON-FRI *)"
      scale_up   = "cron(0 7 ? * MON-FRI *)"
      timezone   = "Europe/Berlin"
      min_tasks  = 0
      max_tasks  = 0
    }
  }

  assert {
    condition     = aws_appautoscaling_scheduled_action.off_hours[0].schedule == "cron(0 19 ? * MON-FRI *)" && aws_appautoscaling_scheduled_action.off_hours[0].timezone == "Europe/Berlin"
    error_message = "The scale-down must run on the given schedule in the given time zone."
  }

  assert {
    condition     = aws_appautoscaling_scheduled_action.off_hours[0].scalable_target_action[0].min_capacity == "0" && aws_appautoscaling_scheduled_action.off_hours[0].scalable_target_action[0].max_capacity == "0"
    error_message = "Off hours, the service must scale to the off-hours range (here zero)."
  }

  assert {
    condition     = aws_appautoscaling_scheduled_action.working_hours[0].schedule == "cron(0 7 ? * MON-FRI *)" && aws_appautoscaling_scheduled_action.working_hours[0].timezone == "Europe/Berlin"
    error_message = "The scale-up must run on the given schedule in the given time zone."
  }

  assert {
    condition     = aws_appautoscaling_scheduled_action.working_hours[0].scalable_target_action[0].min_capacity == "2" && aws_appautoscaling_scheduled_action.working_hours[0].scalable_target_action[0].max_capacity == "6"
    error_message = "Working hours must restore min_tasks..max_tasks."
  }

  assert {
    condition = alltrue([
      for action in concat(aws_appautoscaling_scheduled_action.off_hours, aws_appautoscaling_scheduled_action.working_hours) :
      action.resource_id == aws_appautoscaling_target.this.resource_id && action.scalable_dimension == "ecs:service:DesiredCount"
    ])
    error_message = "Both scheduled actions must act on the service's desired count."
  }
}

run "off_hours_needs_schedule_expressions" {
  command = plan

  variables {
    max_tasks = 4
    off_hours = {
      scale_down = "0 19 * * MON-FRI"
      scale_up   = "cron(0 7 ? * MON-FRI *)"
      timezone   = "Europe/Berlin"
      min_tasks  = 0
      max_tasks  = 0
    }
  }

  # A bare crontab line is no Application Auto Scaling schedule.
  expect_failures = [var.off_hours]
}

run "off_hours_needs_an_iana_time_zone" {
  command = plan

  variables {
    max_tasks = 4
    off_hours = {
      scale_down = "cron(0 19 ? * MON-FRI *)"
      scale_up   = "cron(0 7 ? * MON-FRI *)"
      timezone   = "Central European Time"
      min_tasks  = 0
      max_tasks  = 0
    }
  }

  # A time zone must be an IANA name.
  expect_failures = [var.off_hours]
}

run "off_hours_stays_within_max_tasks" {
  command = plan

  variables {
    max_tasks = 4
    off_hours = {
      scale_down = "cron(0 19 ? * MON-FRI *)"
      scale_up   = "cron(0 7 ? * MON-FRI *)"
      timezone   = "Europe/Berlin"
      min_tasks  = 1
      max_tasks  = 5
    }
  }

  # The off-hours maximum may not exceed max_tasks.
  expect_failures = [var.off_hours]
}

run "alternative_inputs" {
  command = plan

  variables {
    name              = "a-very-long-project-name-for-a-genai-service-prod"
    image_tag         = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    bedrock_model_ids = ["amazon.nova-lite-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"]
    capacity_split = {
      fargate_base        = 1
      fargate_weight      = 1
      fargate_spot_weight = 0
    }
  }

  assert {
    condition     = [for s in aws_ecs_service.this.capacity_provider_strategy : s.capacity_provider] == ["FARGATE"]
    error_message = "Without Spot weight only FARGATE may be used."
  }

  assert {
    condition     = endswith(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image, "/genai-service@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    error_message = "A digest must be referenced with @."
  }

  assert {
    condition     = length(aws_lb.this.name) <= 32 && length(aws_lb_target_group.this.name) <= 32
    error_message = "Load balancer and target group names must fit in 32 characters."
  }

  assert {
    condition     = aws_lb.this.name != "a-very-long-project-name-for-a-genai-service-dev"
    error_message = "Shortened names must stay distinct."
  }

  assert {
    condition = data.aws_iam_policy_document.task[0].statement[0].resources == toset([
      "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
      "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    ])
    error_message = "The task role may invoke the configured model and, for an inference profile, the profile and the model it routes to."
  }

  assert {
    condition     = data.aws_iam_policy_document.task[0].statement[0].actions == toset(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"])
    error_message = "The task role may only invoke models."
  }
}

run "redis_is_private_encrypted_and_handed_to_the_task" {
  command = plan

  variables {
    name  = "a-very-long-project-name-for-a-genai-service-prod"
    redis = {}
  }

  # Distinct ids, so that the rules below can tell the security groups apart.
  override_resource {
    target          = aws_security_group.service
    override_during = plan
    values          = { id = "sg-0000000000000service" }
  }

  override_resource {
    target          = aws_security_group.alb
    override_during = plan
    values          = { id = "sg-000000000000000alb" }
  }

  override_resource {
    target          = aws_security_group.redis[0]
    override_during = plan
    values          = { id = "sg-00000000000000redis" }
  }

  assert {
    condition     = aws_elasticache_replication_group.redis[0].engine == "valkey" && aws_elasticache_replication_group.redis[0].num_cache_clusters == 2 && aws_elasticache_replication_group.redis[0].automatic_failover_enabled && aws_elasticache_replication_group.redis[0].multi_az_enabled
    error_message = "Redis must be a Valkey replication group with a replica in another zone and automatic failover."
  }

  assert {
    condition     = aws_elasticache_replication_group.redis[0].at_rest_encryption_enabled && aws_elasticache_replication_group.redis[0].kms_key_id == aws_kms_key.this.arn
    error_message = "Redis must be encrypted at rest with the service's KMS key."
  }

  assert {
    condition     = aws_elasticache_replication_group.redis[0].transit_encryption_enabled && aws_elasticache_replication_group.redis[0].transit_encryption_mode == "required"
    error_message = "Redis must require TLS."
  }

  assert {
    condition     = aws_elasticache_replication_group.redis[0].auth_token == data.aws_secretsmanager_random_password.redis[0].random_password
    error_message = "Redis must require the generated auth token."
  }

  assert {
    condition     = length(aws_elasticache_replication_group.redis[0].replication_group_id) <= 40 && length(aws_elasticache_subnet_group.redis[0].name) <= 40
    error_message = "ElastiCache names must fit in 40 characters."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.redis_from_service[0].referenced_security_group_id == "sg-0000000000000service" && aws_vpc_security_group_ingress_rule.redis_from_service[0].from_port == 6379 && aws_elasticache_replication_group.redis[0].security_group_ids == toset(["sg-00000000000000redis"])
    error_message = "Only the service's tasks may reach Redis."
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets, { name = "REDIS_URL", valueFrom = aws_secretsmanager_secret.redis_url[0].arn })
    error_message = "The task must get REDIS_URL from Secrets Manager."
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "STATE_BACKEND", value = "redis" })
    error_message = "The task must keep its limits in Redis."
  }

  assert {
    condition     = startswith(nonsensitive(aws_secretsmanager_secret_version.redis_url[0].secret_string), "rediss://")
    error_message = "REDIS_URL must use TLS (rediss://)."
  }
}

run "unsafe_inputs_are_rejected" {
  command = plan

  variables {
    image_tag            = "latest"
    cpu_architecture     = "ARM64"
    stop_timeout         = 90
    deregistration_delay = 60
    redis                = { num_cache_clusters = 1 }
  }

  # latest is mutable; Fargate Spot runs X86_64 only; draining plus stopping must fit the
  # Spot notice; Redis without a replica cannot fail over.
  expect_failures = [var.image_tag, var.capacity_split, var.deregistration_delay, var.redis]
}
