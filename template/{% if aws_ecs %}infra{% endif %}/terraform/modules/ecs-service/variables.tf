variable "name" {
  description = "Name of the service in this environment (for example my-service-prod); prefixes every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,47}[a-z0-9]$", var.name))
    error_message = "name must be 2-49 lowercase letters, digits and '-', start with a letter and not end with '-'."
  }
}

variable "image_name" {
  description = "Name of the container image, used as the ECR repository name (the project slug)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.image_name))
    error_message = "image_name must be lowercase letters, digits and '-'."
  }
}

variable "image_tag" {
  description = "Immutable image tag to run (for example the git commit SHA) or a digest (sha256:...). Never 'latest'."
  type        = string

  validation {
    condition = (
      can(regex("^sha256:[a-f0-9]{64}$", var.image_tag)) ||
      (can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && lower(var.image_tag) != "latest")
    )
    error_message = "image_tag must be an immutable tag (not 'latest') or a digest of the form sha256:<64 hex>."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the service and its load balancer run in."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks (no public IPs); they need a NAT gateway or VPC endpoints for ECR, S3, CloudWatch Logs and Secrets Manager."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets in different availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Subnets for the load balancer (public subnets for an internet-facing one, private ones when internal = true)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "internal" {
  description = "Create an internal load balancer reachable only from inside the VPC instead of an internet-facing one."
  type        = bool
  default     = false
}

variable "ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80 (redirect only) and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate served by the HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be the ARN of an ACM certificate."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener; TLS 1.2 and 1.3 only by default."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (turn off only for throwaway environments)."
  type        = bool
  default     = true
}

variable "idle_timeout" {
  description = "Seconds the load balancer keeps an idle connection open; above the SSE keep-alive interval so long generations are not cut. Keep the server's keep-alive timeout above this."
  type        = number
  default     = 120

  validation {
    condition     = var.idle_timeout >= 60 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be between 60 and 4000 seconds."
  }
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number
  default     = 8000
}

variable "container_user" {
  description = "Numeric user and group the container runs as; matches the non-root user of the image."
  type        = string
  default     = "10001:10001"

  validation {
    condition     = can(regex("^[1-9][0-9]{4,}:[1-9][0-9]{4,}$", var.container_user))
    error_message = "container_user must be numeric UID:GID, both 10000 or above (never root)."
  }
}

variable "health_check_path" {
  description = "Readiness path the load balancer checks; it answers 503 while the task drains."
  type        = string
  default     = "/readyz"
}

variable "private_paths" {
  description = "Paths the public listener answers with 404 instead of forwarding (the Prometheus scrape)."
  type        = list(string)
  default     = ["/metrics", "/metrics/*"]

  validation {
    condition     = length(var.private_paths) >= 1 && length(var.private_paths) <= 5
    error_message = "Give 1 to 5 path patterns (the limit of one listener rule condition)."
  }
}

variable "liveness_path" {
  description = "Liveness path of the container health check."
  type        = string
  default     = "/healthz"
}

variable "cpu" {
  description = "CPU units of a task (1024 = 1 vCPU)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate CPU size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Memory of a task in MiB; must be a valid Fargate combination with cpu."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64. Fargate Spot runs X86_64 only."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "capacity_split" {
  description = "Split of tasks between FARGATE and FARGATE_SPOT: base tasks always on FARGATE, then tasks are placed by weight. Set spot_weight = 0 for no Spot."
  type = object({
    fargate_base        = number
    fargate_weight      = number
    fargate_spot_weight = number
  })
  default = {
    fargate_base        = 1
    fargate_weight      = 1
    fargate_spot_weight = 1
  }

  validation {
    condition = (
      var.capacity_split.fargate_base >= 0 &&
      var.capacity_split.fargate_weight >= 0 &&
      var.capacity_split.fargate_spot_weight >= 0 &&
      var.capacity_split.fargate_weight + var.capacity_split.fargate_spot_weight > 0
    )
    error_message = "capacity_split values must be non-negative and the weights must not both be 0."
  }

  validation {
    condition     = var.capacity_split.fargate_spot_weight == 0 || var.cpu_architecture == "X86_64"
    error_message = "Fargate Spot runs X86_64 tasks only: set capacity_split.fargate_spot_weight = 0 for ARM64."
  }
}

variable "min_tasks" {
  description = "Minimum number of tasks kept by autoscaling."
  type        = number
  default     = 1

  validation {
    condition     = var.min_tasks >= 1
    error_message = "min_tasks must be at least 1."
  }
}

variable "max_tasks" {
  description = "Maximum number of tasks autoscaling may run."
  type        = number
  default     = 4

  validation {
    condition     = var.max_tasks >= var.min_tasks
    error_message = "max_tasks must not be below min_tasks."
  }
}

variable "off_hours" {
  description = "Scheduled scale-down outside working hours: at scale_down the task range becomes min_tasks..max_tasks of this object (0 stops the service), at scale_up it returns to the module's min_tasks..max_tasks. Schedules are Application Auto Scaling expressions such as cron(0 19 ? * MON-FRI *), read in timezone (an IANA name). null (the default) keeps the working-hours range all the time."
  type = object({
    scale_down = string
    scale_up   = string
    timezone   = string
    min_tasks  = number
    max_tasks  = number
  })
  default = null

  validation {
    condition = var.off_hours == null || alltrue([
      for schedule in [try(var.off_hours.scale_down, ""), try(var.off_hours.scale_up, "")] :
      can(regex("^(cron|at|rate)\\(.+\\)$", schedule))
    ])
    error_message = "off_hours.scale_down and off_hours.scale_up must be schedule expressions such as cron(0 19 ? * MON-FRI *)."
  }

  validation {
    condition     = var.off_hours == null || can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", try(var.off_hours.timezone, "")))
    error_message = "off_hours.timezone must be an IANA time zone such as UTC or Europe/Berlin."
  }

  validation {
    condition = var.off_hours == null || (
      try(var.off_hours.min_tasks >= 0 && var.off_hours.max_tasks >= var.off_hours.min_tasks && var.off_hours.max_tasks <= var.max_tasks, false)
    )
    error_message = "off_hours needs 0 <= min_tasks <= max_tasks <= the module's max_tasks."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation that autoscaling keeps the service at."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent > 0 && var.cpu_target_percent <= 100
    error_message = "cpu_target_percent must be between 1 and 100."
  }
}

variable "requests_per_target" {
  description = "Requests per task (ALBRequestCountPerTarget, per minute) that autoscaling keeps the service at."
  type        = number
  default     = 120

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be positive."
  }
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL; above the service's 20 s graceful shutdown."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 25 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 25 (above the service's 20 s graceful shutdown) and 120 seconds."
  }
}

variable "deregistration_delay" {
  description = "Seconds the load balancer drains a target before it is stopped; with stop_timeout it must fit in the 120 s Fargate Spot notice."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay + var.stop_timeout <= 120
    error_message = "deregistration_delay + stop_timeout must fit in the 120 s Fargate Spot interruption notice."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the service, WAF and ECS Exec logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports."
  }
}

variable "access_log_retention_days" {
  description = "Days the load balancer access logs are kept in S3."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "waf_rate_limit" {
  description = "Requests one client IP may send in 5 minutes before WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 10
    error_message = "waf_rate_limit must be at least 10 (the WAF minimum)."
  }
}

variable "environment" {
  description = "Plain environment variables of the container (no secrets); entries with an empty value are left unset."
  type        = map(string)
  default     = {}
}

variable "secret_names" {
  description = "Environment variables filled from Secrets Manager; the module creates one secret per name (values are put out of band, never in Terraform)."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.secret_names : can(regex("^[A-Z][A-Z0-9_]*$", s))])
    error_message = "secret_names must be environment variable names (A-Z, 0-9, '_')."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "bedrock_model_ids" {
  description = "Bedrock model ids (or cross-region inference profile ids such as us.amazon.nova-lite-v1:0) the task may invoke; empty for other providers."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "redis" {
  description = "Valkey (ElastiCache) holding budgets and rate limits for every task (the service's STATE_BACKEND=redis); null: no Redis, each task keeps its own limits."
  type = object({
    node_type               = optional(string, "cache.t4g.small")
    num_cache_clusters      = optional(number, 2)
    engine_version          = optional(string, "8.0")
    snapshot_retention_days = optional(number, 1)
  })
  default = null

  validation {
    condition     = var.redis == null || try(var.redis.num_cache_clusters >= 2 && var.redis.num_cache_clusters <= 6, false)
    error_message = "redis.num_cache_clusters must be 2 (a primary and a replica for failover) to 6."
  }
}

# --- alarms ----------------------------------------------------------------------------------

variable "alarm_subscriptions" {
  description = "Who the alarm topic notifies on ALARM and OK: email addresses (each confirms the subscription message AWS sends) or HTTPS endpoints (a pager or chat webhook)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.alarm_subscriptions :
      (s.protocol == "email" && can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", s.endpoint))) ||
      (s.protocol == "https" && startswith(s.endpoint, "https://"))
    ])
    error_message = "alarm_subscriptions entries must be { protocol = \"email\", endpoint = <address> } or { protocol = \"https\", endpoint = \"https://...\" }."
  }
}

variable "slo_availability_percent" {
  description = "Availability SLO: percent of API requests answered without a 5xx over 30 days. The error budget burn-rate alarms derive their thresholds from it."
  type        = number
  default     = 99.5

  validation {
    condition     = var.slo_availability_percent >= 90 && var.slo_availability_percent < 100
    error_message = "slo_availability_percent must be from 90 up to (not including) 100."
  }
}

variable "slo_latency_seconds" {
  description = "Latency SLO: the p95 target response time in seconds; the p95 alarm fires above it, the p99 alarm above twice it."
  type        = number
  default     = 30

  validation {
    condition     = var.slo_latency_seconds > 0 && var.slo_latency_seconds <= 600
    error_message = "slo_latency_seconds must be above 0 and at most 600."
  }
}

variable "unhealthy_hosts_threshold" {
  description = "Alarm when more targets than this fail the readiness check for 5 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.unhealthy_hosts_threshold >= 0 && floor(var.unhealthy_hosts_threshold) == var.unhealthy_hosts_threshold
    error_message = "unhealthy_hosts_threshold must be a whole number of targets, 0 or more."
  }
}

variable "cpu_alarm_percent" {
  description = "Alarm when the service's average CPU stays above this for 15 minutes; above cpu_target_percent, which autoscaling holds."
  type        = number
  default     = 85

  validation {
    condition     = var.cpu_alarm_percent > var.cpu_target_percent && var.cpu_alarm_percent <= 100
    error_message = "cpu_alarm_percent must be above cpu_target_percent (autoscaling's target) and at most 100."
  }
}

variable "memory_alarm_percent" {
  description = "Alarm when a task's memory stays above this percent of its limit for 15 minutes."
  type        = number
  default     = 85

  validation {
    condition     = var.memory_alarm_percent > 0 && var.memory_alarm_percent <= 100
    error_message = "memory_alarm_percent must be between 1 and 100."
  }
}

variable "provider_error_ratio_threshold" {
  description = "Alarm when more than this share of LLM provider calls fail (EMF ProviderErrors / ProviderCalls)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.provider_error_ratio_threshold > 0 && var.provider_error_ratio_threshold < 1
    error_message = "provider_error_ratio_threshold must be a ratio between 0 and 1 (exclusive)."
  }
}

variable "daily_token_budget" {
  description = "The service's daily token budget (its DAILY_TOKEN_BUDGET); the budget alarm compares BudgetRemainingTokens with a share of it. null: no budget alarm."
  type        = number
  default     = null

  validation {
    condition     = var.daily_token_budget == null || try(var.daily_token_budget >= 1, false)
    error_message = "daily_token_budget must be a positive number of tokens (or null)."
  }
}

variable "budget_remaining_alarm_ratio" {
  description = "Alarm when fewer than this share of the daily token budget remain."
  type        = number
  default     = 0.1

  validation {
    condition     = var.budget_remaining_alarm_ratio > 0 && var.budget_remaining_alarm_ratio < 1
    error_message = "budget_remaining_alarm_ratio must be a ratio between 0 and 1 (exclusive)."
  }
}

variable "runbook_url" {
  description = "URL of the repository's docs/runbook.md; alarm descriptions link its section for the alarm. Empty: no links."
  type        = string
  default     = ""

  validation {
    condition     = var.runbook_url == "" || startswith(var.runbook_url, "https://")
    error_message = "runbook_url must be an https:// URL (or empty)."
  }
}
