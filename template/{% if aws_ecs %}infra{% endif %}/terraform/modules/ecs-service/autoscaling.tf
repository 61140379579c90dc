# Note for operators: an apply during off hours sets the range back to min_tasks..max_tasks
# until the next scale_down, because the target's range is what the schedule changes.
resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
  tags               = local.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }
}

# Off hours: the range shrinks at scale_down (to zero in dev) and comes back at scale_up.
resource "aws_appautoscaling_scheduled_action" "off_hours" {
  count = var.off_hours == null ? 0 : 1

  name               = "${var.name}-off-hours"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  schedule           = var.off_hours.scale_down
  timezone           = var.off_hours.timezone

  scalable_target_action {
    min_capacity = var.off_hours.min_tasks
    max_capacity = var.off_hours.max_tasks
  }
}

resource "aws_appautoscaling_scheduled_action" "working_hours" {
  count = var.off_hours == null ? 0 : 1

  name               = "${var.name}-working-hours"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  schedule           = var.off_hours.scale_up
  timezone           = var.off_hours.timezone

  scalable_target_action {
    min_capacity = var.min_tasks
    max_capacity = var.max_tasks
  }

  # Application Auto Scaling applies one scheduled action at a time per target.
  depends_on = [aws_appautoscaling_scheduled_action.off_hours]
}
