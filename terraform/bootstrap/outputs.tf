output "deploy_role_arns" {
  description = "Per environment: the role ARN to set as the GitHub environment variable AWS_DEPLOY_ROLE_ARN."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "oidc_provider_arn" {
  description = "GitHub's OIDC provider in this account."
  value       = local.provider_arn
}
