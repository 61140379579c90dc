locals {
  # The secrets the task reads: the named ones, and REDIS_URL when the module adds Redis.
  secret_arns = concat(
    [for s in aws_secretsmanager_secret.this : s.arn],
    aws_secretsmanager_secret.redis_url[*].arn,
  )

  # Cross-region inference profiles (us.*, eu.*, apac.*, global.*) route to the
  # foundation model in several regions; plain model ids name one regional model.
  bedrock_profile_pattern = "^(us|us-gov|eu|apac|jp|au|ca|global)\\.(.+)$"

  bedrock_resource_arns = distinct(flatten([
    for id in var.bedrock_model_ids : (
      can(regex(local.bedrock_profile_pattern, id))
      ? [
        "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${id}",
        "arn:${local.partition}:bedrock:*::foundation-model/${regex(local.bedrock_profile_pattern, id)[1]}",
      ]
      : ["arn:${local.partition}:bedrock:${local.region}::foundation-model/${id}"]
    )
  ]))
}

data "aws_iam_policy_document" "ecs_tasks_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy protection: only ECS tasks of this account may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# The execution role is used by the ECS agent: pull the image, write logs, read secrets.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS agent role of ${var.name}: pulls the image, writes logs, reads its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  tags               = local.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.this.arn]
  }

  # ecr:GetAuthorizationToken has no resource-level permissions; "*" is the only valid resource.
  statement {
    sid       = "AuthenticateToEcr"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteServiceLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["service"].arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = length(local.secret_arns) > 0 ? [1] : []

    content {
      sid       = "ReadServiceSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.secret_arns
    }
  }

  dynamic "statement" {
    for_each = length(local.secret_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptServiceSecrets"
      actions   = ["kms:Decrypt"]
      resources = [aws_kms_key.this.arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs-read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The task role is what the application's AWS SDK calls run as.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "Application role of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  count = length(local.bedrock_resource_arns) > 0 ? 1 : 0

  statement {
    sid = "InvokeConfiguredModels"
    actions = [
      "bedrock:InvokeModel",
      "bedrock:InvokeModelWithResponseStream",
    ]
    resources = local.bedrock_resource_arns
  }
}

resource "aws_iam_role_policy" "task" {
  count = length(local.bedrock_resource_arns) > 0 ? 1 : 0

  name   = "invoke-bedrock-models"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task[0].json
}
