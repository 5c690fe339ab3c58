# One role per function, each naming only its own buckets and prefixes, its own secret, the
# alert topic, the failed-events queue, the key, and its own log group.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = local.functions
  name               = "${local.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

locals {
  landing   = aws_s3_bucket.landing.arn
  processed = aws_s3_bucket.processed.arn

  # What each function does with the object stores, by bucket and prefix.
  s3_statements = {
    extract = [
      {
        Sid      = "ListLanding"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.landing]
      },
      {
        Sid      = "WriteRuns"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${local.landing}/${local.data_prefix}*", "${local.landing}/${local.manifests_prefix}*"]
      },
      {
        Sid      = "Watermark"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["${local.landing}/${local.watermark_key}"]
      },
    ]
    transform = [
      {
        Sid      = "ListBuckets"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.landing, local.processed]
      },
      {
        Sid      = "ReadLandingRuns"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.landing}/${local.data_prefix}*", "${local.landing}/${local.manifests_prefix}*"]
      },
      {
        Sid    = "WriteProcessed"
        Effect = "Allow"
        Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [
          "${local.processed}/${local.data_prefix}*",
          "${local.processed}/${local.manifests_prefix}*",
          "${local.processed}/${local.state_prefix}*",
          "${local.processed}/${local.quarantine_prefix}*",
        ]
      },
    ]
    load = [
      {
        Sid      = "ListProcessed"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.processed]
      },
      {
        Sid      = "ReadProcessedRuns"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.processed}/${local.data_prefix}*", "${local.processed}/${local.manifests_prefix}*"]
      },
      {
        Sid      = "Quarantine"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = ["${local.processed}/${local.quarantine_prefix}*"]
      },
    ]
  }

  secret_of = {
    extract   = [local.source_secret_arn]
    transform = []
    load      = [local.warehouse_secret_arn]
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions
  name     = "${local.name}-${each.key}"
  role     = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.s3_statements[each.key],
      [
        {
          Sid      = "OwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
        },
        {
          Sid      = "Alerts"
          Effect   = "Allow"
          Action   = ["sns:Publish"]
          Resource = [aws_sns_topic.alerts.arn]
        },
        {
          Sid      = "FailedEvents"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.failed_events.arn]
        },
        {
          Sid      = "DataKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = [aws_kms_key.etl.arn]
        },
        {
          # X-Ray accepts trace segments only on resource "*".
          Sid      = "Tracing"
          Effect   = "Allow"
          Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
          Resource = ["*"]
        },
      ],
      length(local.secret_of[each.key]) == 0 ? [] : [{
        Sid      = "DatabaseSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_of[each.key]
      }],
    )
  })
}

# Functions in a VPC need to manage their network interfaces (AWS's managed policy for it).
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each   = local.in_vpc ? local.functions : toset([])
  role       = aws_iam_role.function[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# The scheduler may invoke extract and nothing else.
resource "aws_iam_role" "scheduler" {
  name = "${local.name}-scheduler"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "scheduler.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  name = "${local.name}-scheduler"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeExtract"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [aws_lambda_function.this["extract"].arn]
      },
      {
        # The schedule is encrypted with the pipeline's key.
        Sid      = "ScheduleKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [aws_kms_key.etl.arn]
      },
    ]
  })
}
