# Secrets are created empty: their values are put out of band (aws secretsmanager
# put-secret-value) so that they never reach Terraform state or version control.
resource "aws_secretsmanager_secret" "this" {
  for_each = var.secret_names

  # checkov:skip=CKV2_AWS_57:API keys issued by third parties (bearer keys, LLM provider keys) cannot be rotated by a Secrets Manager rotation function; rotate them at the issuer and put the new value
  name                    = "${var.name}/${lower(each.value)}"
  description             = "${each.value} of ${var.name}"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}
