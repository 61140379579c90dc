resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec is off on the service; should it be turned on, sessions are encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.this.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.this["exec"].name
      }
    }
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

locals {
  container_name = "app"

  # Empty values mean "unset" so that roots can pass optional settings unconditionally.
  # Only the load balancer can reach the task (security group), so uvicorn may trust its
  # X-Forwarded-For and X-Forwarded-Proto headers for client addresses and the scheme.
  # EMF_NAMESPACE turns on the service's CloudWatch Embedded Metric Format lines on stdout;
  # the awslogs driver ships them and CloudWatch Logs extracts the metrics that
  # alarms.tf and dashboard.tf read (same namespace, dimension Service = EMF_SERVICE).
  environment = merge(
    { FORWARDED_ALLOW_IPS = "*" },
    { EMF_NAMESPACE = local.emf_namespace, EMF_SERVICE = local.emf_dimensions.Service },
    local.redis_enabled ? { STATE_BACKEND = "redis" } : {},
    { for k, v in var.environment : k => v if v != "" },
  )

  container_definition = {
    name      = local.container_name
    image     = local.image
    essential = true
    user      = var.container_user

    readonlyRootFilesystem = true
    mountPoints = [
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]

    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { add = [], drop = ["ALL"] }
    }

    portMappings = [
      { name = "http", containerPort = var.container_port, protocol = "tcp", appProtocol = "http" },
    ]

    environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets = concat(
      [for k in sort(tolist(var.secret_names)) : { name = k, valueFrom = aws_secretsmanager_secret.this[k].arn }],
      [for s in aws_secretsmanager_secret.redis_url : { name = "REDIS_URL", valueFrom = s.arn }],
    )

    # The image has no curl: the health check uses the service's own Python.
    healthCheck = {
      command = [
        "CMD",
        "python",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.container_port}${var.liveness_path}', timeout=3)",
      ]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }

    stopTimeout = var.stop_timeout

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["service"].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "app"
        # Never block the service on CloudWatch; buffer and drop if it is unreachable.
        mode            = "non-blocking"
        max-buffer-size = "25m"
      }
    }
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.container_definition])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-local scratch space for /tmp: the root filesystem is read-only.
  volume {
    name = "tmp"
  }

  tags = local.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_tasks
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 30
  enable_execute_command             = false
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = var.capacity_split.fargate_base
    weight            = var.capacity_split.fargate_weight
  }

  dynamic "capacity_provider_strategy" {
    for_each = var.capacity_split.fargate_spot_weight > 0 ? [1] : []

    content {
      capacity_provider = "FARGATE_SPOT"
      base              = 0
      weight            = var.capacity_split.fargate_spot_weight
    }
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags

  lifecycle {
    # Autoscaling owns the number of tasks after the first apply.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https, aws_ecs_cluster_capacity_providers.this]
}
