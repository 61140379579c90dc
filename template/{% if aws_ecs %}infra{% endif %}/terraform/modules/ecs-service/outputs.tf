output "alb_dns_name" {
  description = "DNS name of the load balancer; point the service's DNS record (alias) at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the load balancer, for a Route 53 alias record."
  value       = aws_lb.this.zone_id
}

output "ecr_repository_url" {
  description = "URL of the ECR repository that CI pushes the image to."
  value       = aws_ecr_repository.this.repository_url
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN of the task definition revision this apply created."
  value       = aws_ecs_task_definition.this.arn
}

output "execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the task role the application runs as."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the service's container logs."
  value       = aws_cloudwatch_log_group.this["service"].name
}

output "secret_arns" {
  description = "ARNs of the Secrets Manager secrets by environment variable name; put their values out of band."
  value       = { for name, secret in aws_secretsmanager_secret.this : name => secret.arn }
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the logs, images and secrets."
  value       = aws_kms_key.this.arn
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL in front of the load balancer."
  value       = aws_wafv2_web_acl.this.arn
}

output "redis_endpoint" {
  description = "Primary endpoint of the Valkey holding budgets and rate limits (null without Redis)."
  value       = one(aws_elasticache_replication_group.redis[*].primary_endpoint_address)
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies on ALARM and OK; subscribe more endpoints with alarm_subscriptions."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of this environment."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the service's Embedded Metric Format metrics (EMF_NAMESPACE), dimension Service = EMF_SERVICE."
  value       = local.emf_namespace
}
