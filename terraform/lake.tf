# The lake (docs/lake.md): every warehouse table as an Iceberg table in its own bucket,
# registered in a Glue database, queried with Athena in a workgroup of its own.
#
# The lake function publishes each processed run. It hears the processed manifests through
# EventBridge, not through the bucket's own notification: that one (prefix manifests/) goes to
# load, and S3 allows one destination per prefix and event type. A separate function, not a
# step of load, keeps the lake a failure domain of its own: a Glue or lake-bucket outage never
# fails, retries or holds back the warehouse load, and a warehouse outage never holds back the
# lake; each has its own retries and its own failed events.

locals {
  # Glue and Athena names allow lower-case letters, digits and underscores.
  lake_database = "${replace(local.name, "-", "_")}_lake"

  # The lake's tables: a contract with contract/src/warehouse.rs (tests/tests/it/terraform.rs
  # checks it). Each gets its snapshots expired on a schedule.
  lake_tables = toset([
    "dim_date", "dim_staff", "dim_location", "dim_design", "dim_currency", "dim_counterparty",
    "dim_payment_type", "dim_transaction", "fact_sales_order", "fact_purchase_order",
    "fact_payment",
  ])

  lake_glue_resources = [
    "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:catalog",
    aws_glue_catalog_database.lake.arn,
    "arn:${local.partition}:glue:${var.aws_region}:${local.account_id}:table/${local.lake_database}/*",
  ]

  # One named query per view of sql/athena_views.sql (generated from the warehouse catalog by
  # lake/src/athena.rs; the tests run it in DuckDB against the warehouse).
  athena_views = {
    for statement in split(";", file("${path.module}/sql/athena_views.sql")) :
    regex("CREATE OR REPLACE VIEW (\\w+)", statement)[0] => "${trimspace(regex("(?s)(CREATE OR REPLACE VIEW .*)", statement)[0])};"
    if length(regexall("CREATE OR REPLACE VIEW", statement)) > 0
  }
}

resource "aws_s3_bucket" "lake" {
  bucket = "${local.name}-lake-${local.account_id}"
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; the lake can be rebuilt from processed runs (etl replay --stage lake).
  # checkov:skip=CKV2_AWS_62:Nothing reacts to the lake's objects; its readers query through Glue.
}

# Where Athena writes query results: encrypted with the pipeline's key, expired after a while.
resource "aws_s3_bucket" "athena_results" {
  bucket = "${local.name}-athena-results-${local.account_id}"
  # checkov:skip=CKV_AWS_144:Query results are scratch: not replicated.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to query results.
}

# Snapshots and orphan files are expired by VACUUM (below); S3 keeps replaced object versions
# for a month, as in the other buckets.
resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "athena_results" {
  bucket = aws_s3_bucket.athena_results.id
  rule {
    id     = "expire-results"
    status = "Enabled"
    filter {}
    expiration {
      days = var.athena_results_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = local.lake_database
  description = "${local.name}: the warehouse's tables as Iceberg tables (the lake function creates and commits them)"
}

resource "aws_athena_workgroup" "lake" {
  name          = "${local.name}-lake"
  state         = "ENABLED"
  force_destroy = true
  configuration {
    # Queries cannot choose another results location or skip encryption.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff
    engine_version {
      selected_engine_version = "Athena engine version 3"
    }
    result_configuration {
      output_location = "s3://${aws_s3_bucket.athena_results.bucket}/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.etl.arn
      }
    }
  }
}

resource "aws_athena_named_query" "view" {
  for_each    = local.athena_views
  name        = "${local.name} view ${each.key}"
  description = "Creates or replaces the view ${each.key} over the lake (docs/lake.md)."
  workgroup   = aws_athena_workgroup.lake.id
  database    = aws_glue_catalog_database.lake.name
  query       = each.value
}

# Small files: one data file per table per run. Compaction is on demand (docs/lake.md).
resource "aws_athena_named_query" "optimize" {
  for_each    = local.lake_tables
  name        = "${local.name} optimize ${each.key}"
  description = "Compacts ${each.key}'s small data files (docs/lake.md)."
  workgroup   = aws_athena_workgroup.lake.id
  database    = aws_glue_catalog_database.lake.name
  query       = "OPTIMIZE ${each.key} REWRITE DATA USING BIN_PACK;"
}

# Snapshot expiry: VACUUM each table on a schedule, through Athena (it commits through Glue,
# like the lake function, so the two never overwrite each other's commits).
resource "aws_scheduler_schedule" "vacuum" {
  for_each            = local.lake_tables
  name                = "${local.name}-vacuum-${replace(each.key, "_", "-")}"
  schedule_expression = var.lake_vacuum_schedule
  state               = "ENABLED"
  kms_key_arn         = aws_kms_key.etl.arn

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 60
  }

  target {
    arn      = "arn:${local.partition}:scheduler:::aws-sdk:athena:startQueryExecution"
    role_arn = aws_iam_role.lake_maintenance.arn
    input = jsonencode({
      QueryString           = "VACUUM ${each.key}"
      QueryExecutionContext = { Database = aws_glue_catalog_database.lake.name }
      WorkGroup             = aws_athena_workgroup.lake.name
    })
    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# What VACUUM needs: start the query in the lake's workgroup, read and commit the tables in
# Glue, read, write and delete the lake's files, write results, and the key for both buckets.
resource "aws_iam_role" "lake_maintenance" {
  name               = "${local.name}-lake-maintenance"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "lake_maintenance" {
  name = "${local.name}-lake-maintenance"
  role = aws_iam_role.lake_maintenance.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "RunInTheLakeWorkgroup"
        Effect   = "Allow"
        Action   = ["athena:StartQueryExecution", "athena:GetQueryExecution"]
        Resource = [aws_athena_workgroup.lake.arn]
      },
      {
        Sid      = "LakeTables"
        Effect   = "Allow"
        Action   = ["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"]
        Resource = local.lake_glue_resources
      },
      {
        Sid      = "LakeFiles"
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
      },
      {
        Sid      = "Results"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject"]
        Resource = [aws_s3_bucket.athena_results.arn, "${aws_s3_bucket.athena_results.arn}/*"]
      },
      {
        Sid      = "DataKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [aws_kms_key.etl.arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${var.aws_region}.amazonaws.com" }
        }
      },
    ]
  })
}

# The processed manifests, as EventBridge hears them (the bucket sends it every event).
resource "aws_cloudwatch_event_rule" "lake" {
  name        = "${local.name}-lake-on-manifest"
  description = "A processed manifest was created: publish its run to the lake."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [aws_s3_bucket.processed.bucket] }
      object = { key = [{ prefix = local.manifests_prefix }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "lake" {
  rule = aws_cloudwatch_event_rule.lake.name
  arn  = aws_lambda_function.this["lake"].arn
  # Delivery retries; the function's own failures go to the failed-events queue
  # (aws_lambda_function_event_invoke_config).
  retry_policy {
    maximum_retry_attempts       = 4
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["lake"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.lake.arn
}
