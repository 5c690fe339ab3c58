locals {
  github_oidc_url = "token.actions.githubusercontent.com"
  partition       = data.aws_partition.current.partition
  account_id      = data.aws_caller_identity.current.account_id
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : (
    "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.github_oidc_url}"
  )
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# GitHub's token issuer. AWS verifies its certificate against its own trust store; the
# thumbprints are GitHub's published ones, which the API still requires.
resource "aws_iam_openid_connect_provider" "github" {
  count           = var.create_oidc_provider ? 1 : 0
  url             = "https://${local.github_oidc_url}"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
}

# One role per environment. Only a job of this repository running in that GitHub environment
# (whose protection rules decide who may start it) can assume it: the token's audience and its
# subject are both pinned, exactly.
resource "aws_iam_role" "deploy" {
  for_each             = var.environments
  name                 = "${var.project}-${each.key}-deploy"
  description          = "GitHub Actions deploys ${var.project}-${each.key} from ${var.github_repository}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "GitHubEnvironment"
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.github_oidc_url}:aud" = "sts.amazonaws.com"
          "${local.github_oidc_url}:sub" = "repo:${var.github_repository}:environment:${each.key}"
        }
      }
    }]
  })
}

# What `terraform apply` of the main stack needs, on that environment's resources only
# (their names start with <project>-<env>), plus its state object.
resource "aws_iam_role_policy" "deploy" {
  for_each = var.environments
  name     = "${var.project}-${each.key}-deploy"
  role     = aws_iam_role.deploy[each.key].id
  policy   = data.aws_iam_policy_document.deploy[each.key].json
}

data "aws_iam_policy_document" "deploy" {
  for_each = var.environments

  statement {
    sid       = "StateObject"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:${local.partition}:s3:::${var.state_bucket}/${var.project}/${each.key}.tfstate*"]
  }
  statement {
    sid       = "StateBucket"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.state_bucket}"]
  }
  statement {
    sid       = "Buckets"
    actions   = ["s3:*"]
    resources = ["arn:${local.partition}:s3:::${var.project}-${each.key}-*"]
  }
  statement {
    sid     = "Functions"
    actions = ["lambda:*"]
    resources = [
      "arn:${local.partition}:lambda:${var.aws_region}:${local.account_id}:function:${var.project}-${each.key}-*",
    ]
  }
  statement {
    sid = "Roles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:TagRole", "iam:UntagRole",
      "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
      "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
    ]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-${each.key}-*"]
  }
  statement {
    sid       = "PassRolesToTheirServices"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/${var.project}-${each.key}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }
  statement {
    sid     = "Messaging"
    actions = ["sns:*", "sqs:*"]
    resources = [
      "arn:${local.partition}:sns:${var.aws_region}:${local.account_id}:${var.project}-${each.key}-*",
      "arn:${local.partition}:sqs:${var.aws_region}:${local.account_id}:${var.project}-${each.key}-*",
    ]
  }
  statement {
    sid     = "SchedulesLogsAlarmsSecrets"
    actions = ["scheduler:*", "logs:*", "cloudwatch:*", "secretsmanager:*"]
    resources = [
      "arn:${local.partition}:scheduler:${var.aws_region}:${local.account_id}:schedule/default/${var.project}-${each.key}-*",
      "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/lambda/${var.project}-${each.key}-*",
      "arn:${local.partition}:cloudwatch:${var.aws_region}:${local.account_id}:alarm:${var.project}-${each.key}-*",
      "arn:${local.partition}:secretsmanager:${var.aws_region}:${local.account_id}:secret:${var.project}-${each.key}/*",
    ]
  }
  statement {
    # A key's ARN is random: the deployment's key is recognised by the tags it is created with.
    sid       = "OwnKey"
    actions   = ["kms:*"]
    resources = ["arn:${local.partition}:kms:${var.aws_region}:${local.account_id}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [each.key]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.project]
    }
  }
  statement {
    sid       = "CreateTaggedKey"
    actions   = ["kms:CreateKey", "kms:TagResource"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Environment"
      values   = [each.key]
    }
  }
  statement {
    sid       = "OwnAlias"
    actions   = ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]
    resources = ["arn:${local.partition}:kms:${var.aws_region}:${local.account_id}:alias/${var.project}-${each.key}"]
  }
  statement {
    # Reads that accept no resource restriction, which plan and apply make.
    sid = "Describe"
    actions = [
      "sts:GetCallerIdentity", "kms:ListAliases", "lambda:GetAccountSettings",
      "scheduler:ListSchedules", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
      "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces",
    ]
    resources = ["*"]
  }
}
