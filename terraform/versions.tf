terraform {
  # 1.10: `use_lockfile` (S3-native state locking) in the backend the deploy workflow writes;
  # 1.7 would also be needed for the mock providers of `terraform test`.
  required_version = ">= 1.10"

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
