# The one-time stack an account administrator applies before the first deploy: GitHub's OIDC
# provider and one deploy role per environment (docs/security.md, docs/deploy.md). Its state is
# local by default: it holds no secret, and it changes when an environment is added.
terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = var.project
      ManagedBy = "terraform"
      Stack     = "bootstrap"
    }
  }
}
