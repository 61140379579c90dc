data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Load balancer and target group names are limited to 32 characters: long names keep
  # a prefix and a hash so that dev and prod of a long project name stay distinct.
  short_name = length(var.name) <= 32 ? var.name : "${trimsuffix(substr(var.name, 0, 23), "-")}-${substr(sha1(var.name), 0, 8)}"

  image = (
    startswith(var.image_tag, "sha256:")
    ? "${aws_ecr_repository.this.repository_url}@${var.image_tag}"
    : "${aws_ecr_repository.this.repository_url}:${var.image_tag}"
  )

  log_group_names = {
    service = "/ecs/${var.name}"
    exec    = "/ecs/${var.name}/exec"
    waf     = "aws-waf-logs-${var.name}"
  }

  tags = merge(var.tags, { Service = var.name })
}

# One customer managed key for the service's logs, image repository and secrets.
resource "aws_kms_key" "this" {
  description             = "Encrypts the logs, images and secrets of ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  # In a key policy, Resource "*" means this key. The account statement lets IAM
  # policies grant use of the key (the execution role gets kms:Decrypt that way).
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

  statement {
    sid = "CloudWatchLogsUseKeyForThisServiceOnly"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [for name in values(local.log_group_names) : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${name}"]
    }
  }
}
