# Failures reach people through one encrypted topic: the functions' own alerts (one per failed
# run) and the CloudWatch alarms. Events that still fail after Lambda's retries land in a queue
# for inspection and redrive.

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.etl.arn
}

# The topic's policy replaces SNS's default one: the account administers it, alarms of this
# deployment may publish, and nothing is accepted over plain HTTP.
resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission",
          "sns:RemovePermission", "sns:DeleteTopic", "sns:Subscribe", "sns:ListSubscriptionsByTopic",
          "sns:Publish",
        ]
        Resource = aws_sns_topic.alerts.arn
      },
      {
        Sid       = "AlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = {
          ArnLike = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${var.aws_region}:${local.account_id}:alarm:${local.name}-*" }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

# Successes of the inbox (one message per loaded file), apart from the alerts so that the people
# who act on failures are not flooded.
resource "aws_sns_topic" "notices" {
  name              = "${local.name}-notices"
  kms_master_key_id = aws_kms_key.etl.arn
}

resource "aws_sns_topic_subscription" "notices_email" {
  count     = var.notify_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.notices.arn
  protocol  = "email"
  endpoint  = var.notify_email
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_sqs_queue" "failed_events" {
  name                      = "${local.name}-failed-events"
  message_retention_seconds = 1209600 # 14 days, the maximum
  kms_master_key_id         = aws_kms_key.etl.arn
}

locals {
  # Existing secrets when given, else the ones created here (their values are set by the
  # operator: docs/deploy.md).
  source_secret_arn    = var.source_secret_arn != "" ? var.source_secret_arn : aws_secretsmanager_secret.database["source"].arn
  warehouse_secret_arn = var.warehouse_secret_arn != "" ? var.warehouse_secret_arn : aws_secretsmanager_secret.database["warehouse"].arn
  created_secrets = toset(concat(
    var.source_secret_arn == "" ? ["source"] : [],
    var.warehouse_secret_arn == "" ? ["warehouse"] : [],
  ))
}

resource "aws_secretsmanager_secret" "database" {
  for_each                = local.created_secrets
  name                    = "${local.name}/${each.key}-database"
  description             = "RDS-format JSON (host, port, username, password, dbname, sslmode; docs/security.md) of the ${each.key} database"
  kms_key_id              = aws_kms_key.etl.arn
  recovery_window_in_days = 7
  # checkov:skip=CKV2_AWS_57:The databases are external to this deployment; rotate their credentials with the database owner (docs/deploy.md) rather than a rotation Lambda that would need admin rights on them.
}
