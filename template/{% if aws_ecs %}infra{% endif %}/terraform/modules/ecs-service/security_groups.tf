resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Load balancer of ${var.name}: HTTPS in, service port out to the tasks"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.ingress_cidr_blocks)

  # checkov:skip=CKV_AWS_260:Port 80 only answers with a permanent redirect to HTTPS; no request is forwarded to the service
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Forward requests and health checks to the service port of the tasks"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.service.id
}

resource "aws_security_group" "service" {
  name        = "${var.name}-service"
  description = "Tasks of ${var.name}: service port from the load balancer only, HTTPS out"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-service" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "service_from_alb" {
  security_group_id            = aws_security_group.service.id
  description                  = "Service port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb.id
}

# trivy:ignore:AVD-AWS-0104 -- the LLM provider APIs (and AWS APIs without VPC endpoints) are reached over the internet; HTTPS only
resource "aws_vpc_security_group_egress_rule" "service_https" {
  security_group_id = aws_security_group.service.id
  description       = "HTTPS to the LLM provider and AWS APIs (ECR, CloudWatch Logs, Secrets Manager)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
