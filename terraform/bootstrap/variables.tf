variable "aws_region" {
  description = "Region of the deployments (the roles are global; the state bucket is regional)."
  type        = string
  default     = "eu-west-2"
}

variable "project" {
  description = "Name prefix of the deployments' resources, as in the main stack."
  type        = string
  default     = "totesys-etl"
}

variable "github_repository" {
  description = "The repository allowed to deploy, as owner/name."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "environments" {
  description = "Deployments (GitHub environments and terraform/envs/<name>.tfvars), one role each."
  type        = set(string)
  default     = ["dev", "prod"]

  validation {
    condition     = alltrue([for e in var.environments : can(regex("^[a-z0-9-]{1,12}$", e))])
    error_message = "environment names must be 1-12 lowercase letters, digits or dashes, as in the main stack."
  }
}

variable "state_bucket" {
  description = "The S3 bucket holding the main stack's state (totesys-etl/<env>.tfstate)."
  type        = string
}

variable "create_oidc_provider" {
  description = "Create GitHub's OIDC provider; false when the account already has one (an account has at most one per URL)."
  type        = bool
  default     = true
}
