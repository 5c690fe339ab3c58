terraform {
  # 1.7: mock providers in `terraform test`.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # Remote state; `make deploy ENV=<name>` passes terraform/backends/<name>.hcl
  # (bucket, key, region, dynamodb_table or use_lockfile).
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
