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
  # Built from its parts: the schedule's own ARN attribute would make the role and the
  # schedule depend on each other.
  schedule_arn = "arn:${local.partition}:scheduler:${var.aws_region}:${local.account_id}:schedule/default/${local.name}-extract"
  # The services through which the functions use the pipeline's key: S3 objects, the alert
  # topic, the failed-events queue, the secrets the stack creates, and the functions'
  # environment variables.
  key_services = ["s3", "sns", "sqs", "secretsmanager", "lambda"]

  landing   = aws_s3_bucket.landing.arn
  processed = aws_s3_bucket.processed.arn
  inbox     = aws_s3_bucket.inbox.arn

  # Reading a processed run as load and the lake do, and recording its quarantine and alerts.
  processed_run_reader = [
    {
      Sid      = "ReadProcessedRuns"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["${local.processed}/${local.data_prefix}*", "${local.processed}/${local.manifests_prefix}*"]
    },
    {
      Sid      = "Quarantine"
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject"]
      Resource = ["${local.processed}/${local.quarantine_prefix}*"]
    },
  ]

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
        Action = ["s3:GetObject", "s3:PutObject"]
        Resource = [
          "${local.processed}/${local.data_prefix}*",
          "${local.processed}/${local.manifests_prefix}*",
          "${local.processed}/${local.state_prefix}*",
          "${local.processed}/${local.quarantine_prefix}*",
        ]
      },
    ]
    load = concat([
      {
        Sid      = "ListProcessed"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.processed]
      },
    ], local.processed_run_reader)
    # The inbox reads what is dropped and writes nothing there.
    inbox = [
      {
        Sid      = "ListInbox"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.inbox]
      },
      {
        Sid      = "ReadInbox"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${local.inbox}/*"]
      },
    ]
    inbox_log = []
    # The lake reads processed runs (as load does), records its alerts beside load's
    # quarantine records, and writes the lake; it never deletes.
    lake = concat(local.processed_run_reader, [
      {
        Sid      = "ListBuckets"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [local.processed, aws_s3_bucket.lake.arn]
      },
      {
        Sid      = "WriteLake"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = ["${aws_s3_bucket.lake.arn}/*"]
      },
    ])
  }

  secret_of = {
    extract   = [local.source_secret_arn]
    transform = []
    load      = [local.warehouse_secret_arn]
    inbox     = [local.warehouse_secret_arn]
    inbox_log = [local.warehouse_secret_arn]
    lake      = []
  }

  # Topics each function publishes to: the alerts, and for the inbox its notices.
  topics_of = {
    extract   = [aws_sns_topic.alerts.arn]
    transform = [aws_sns_topic.alerts.arn]
    load      = [aws_sns_topic.alerts.arn]
    inbox     = [aws_sns_topic.alerts.arn, aws_sns_topic.notices.arn]
    inbox_log = [aws_sns_topic.alerts.arn]
    lake      = [aws_sns_topic.alerts.arn]
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
          Resource = local.topics_of[each.key]
        },
        {
          Sid      = "FailedEvents"
          Effect   = "Allow"
          Action   = ["sqs:SendMessage"]
          Resource = [aws_sqs_queue.failed_events.arn]
        },
        {
          # Only through the services that encrypt the pipeline's data with it.
          Sid      = "DataKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = [aws_kms_key.etl.arn]
          Condition = {
            StringEquals = {
              "kms:ViaService" = [for service in local.key_services : "${service}.${var.aws_region}.amazonaws.com"]
            }
          }
        },
        {
          # X-Ray accepts trace segments only on resource "*".
          Sid      = "Tracing"
          Effect   = "Allow"
          Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
          Resource = ["*"]
        },
      ],
      # The lake creates and commits its tables in its Glue database, nowhere else.
      each.key != "lake" ? [] : [{
        Sid      = "LakeTables"
        Effect   = "Allow"
        Action   = ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"]
        Resource = local.lake_glue_resources
      }],
      length(local.secret_of[each.key]) == 0 ? [] : [{
        Sid      = "DatabaseSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_of[each.key]
      }],
      length(local.secret_of[each.key]) == 0 || var.secrets_kms_key_arn == "" ? [] : [{
        # An existing secret encrypted with a key of its own.
        Sid      = "SecretKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.secrets_kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${var.aws_region}.amazonaws.com" }
        }
      }],
    )
  })
}

# Functions in a VPC: Lambda manages their network interfaces with the function's role. These
# are the network actions of AWS's AWSLambdaVPCAccessExecutionRole without its logs actions on
# every log group, which would undo the OwnLogs statement above. Interfaces are created only in
# the configured subnets and security groups.
resource "aws_iam_role_policy" "vpc" {
  for_each = local.in_vpc ? local.functions : toset([])
  name     = "${local.name}-${each.key}-vpc"
  role     = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "CreateInterfacesInOwnSubnets"
        Effect = "Allow"
        Action = ["ec2:CreateNetworkInterface"]
        Resource = concat(
          ["arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:network-interface/*"],
          [for id in var.subnet_ids : "arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:subnet/${id}"],
          [for id in var.security_group_ids : "arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:security-group/${id}"],
        )
      },
      {
        Sid      = "ManageOwnInterfaces"
        Effect   = "Allow"
        Action   = ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
        Resource = ["arn:${local.partition}:ec2:${var.aws_region}:${local.account_id}:network-interface/*"]
      },
      {
        # Describe calls accept no resource restriction.
        Sid      = "DescribeNetwork"
        Effect   = "Allow"
        Action   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
        Resource = ["*"]
      },
    ]
  })
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
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = local.schedule_arn }
      }
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
