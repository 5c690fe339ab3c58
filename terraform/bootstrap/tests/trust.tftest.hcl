# The deploy roles' trust, on a mocked provider: only this repository's jobs in the role's own
# GitHub environment, with AWS STS as the token's audience.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/totesys-etl-deploy" }
  }
}

variables {
  github_repository = "terrific-totes/totesys-etl"
  environments      = ["dev", "prod"]
  state_bucket      = "totesys-etl-state"
}

run "trust_pins_audience_and_subject" {
  command = apply

  assert {
    condition     = length(aws_iam_role.deploy) == 2
    error_message = "one deploy role per environment"
  }
  assert {
    condition = alltrue([
      for env in ["dev", "prod"] :
      jsondecode(aws_iam_role.deploy[env].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == "repo:terrific-totes/totesys-etl:environment:${env}"
    ])
    error_message = "each role must trust only its own environment of this repository"
  }
  assert {
    condition = alltrue([
      for env in ["dev", "prod"] :
      jsondecode(aws_iam_role.deploy[env].assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    ])
    error_message = "the token's audience must be AWS STS"
  }
  assert {
    condition = alltrue([
      for env in ["dev", "prod"] :
      length(keys(jsondecode(aws_iam_role.deploy[env].assume_role_policy).Statement[0].Condition)) == 1
    ])
    error_message = "the trust must match exactly (StringEquals), never a pattern (StringLike)"
  }
  assert {
    condition = alltrue([
      for env in ["dev", "prod"] :
      jsondecode(aws_iam_role.deploy[env].assume_role_policy).Statement[0].Principal.Federated == aws_iam_openid_connect_provider.github[0].arn
    ])
    error_message = "the roles must trust GitHub's OIDC provider and nothing else"
  }
  assert {
    condition     = aws_iam_openid_connect_provider.github[0].client_id_list == toset(["sts.amazonaws.com"])
    error_message = "the provider must accept tokens for STS only"
  }
}

run "an_existing_provider_is_referenced_not_created" {
  command = apply
  variables {
    create_oidc_provider = false
  }
  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0
    error_message = "create_oidc_provider = false must not create a second provider"
  }
  assert {
    condition     = jsondecode(aws_iam_role.deploy["dev"].assume_role_policy).Statement[0].Principal.Federated == "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    error_message = "the roles must trust the account's existing GitHub provider"
  }
}

run "repository_must_be_owner_slash_name" {
  command = plan
  variables {
    github_repository = "not a repository"
  }
  expect_failures = [var.github_repository]
}
