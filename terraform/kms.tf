# One customer-managed key for the pipeline's data at rest: buckets, secrets, topic, queue, logs.
# A customer-managed key (not the AWS-managed aws/sns) is what lets CloudWatch alarms publish
# to the encrypted alert topic.
resource "aws_kms_key" "etl" {
  description             = "${local.name}: pipeline data at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # Alarms publish to the encrypted topic, and only through SNS.
        Sid       = "AlarmsPublishToTheTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:ViaService" = "sns.${var.aws_region}.amazonaws.com" }
        }
      },
      {
        Sid       = "LogsEncryptLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.aws_region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*"
          }
        }
      },
      {
        # Only on behalf of this account's buckets.
        Sid       = "S3NotifiesLambdaAndQueues"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "etl" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.etl.key_id
}
