output "alb_dns_name" {
  description = "DNS name of the load balancer; point the service's host name at it."
  value       = module.service.alb_dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the load balancer, for a Route 53 alias record."
  value       = module.service.alb_zone_id
}

output "ecr_repository_url" {
  description = "ECR repository CI pushes the image to."
  value       = module.service.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster of the service."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "ECS service name."
  value       = module.service.service_name
}

output "secret_arns" {
  description = "Secrets to fill with aws secretsmanager put-secret-value before the first deploy."
  value       = module.service.secret_arns
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; alarm_subscriptions adds email or HTTPS endpoints."
  value       = module.service.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of this environment."
  value       = module.service.dashboard_name
}
