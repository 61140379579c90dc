# tflint for the module and both environment roots; run from infra/terraform:
#   tflint --init && tflint --recursive --config "$(pwd)/.tflint.hcl"
config {
  call_module_type = "local"
  format           = "compact"
}

# Every terraform_* rule: naming, documented and typed variables and outputs, pinned
# versions, standard module structure, unused declarations.
plugin "terraform" {
  enabled = true
  preset  = "all"
  version = "0.15.0"
  source  = "github.com/terraform-linters/tflint-ruleset-terraform"
}

plugin "aws" {
  enabled = true
  version = "0.48.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
