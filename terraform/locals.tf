data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Key layout: a contract with contract/src/layout.rs (tests/tests/it/terraform.rs checks it).
  data_prefix       = "data/"
  manifests_prefix  = "manifests/"
  state_prefix      = "state/"
  quarantine_prefix = "quarantine/"
  watermark_key     = "state/watermark.json"

  # The configuration each function reads: a contract with contract/src/config.rs
  # (tests/tests/it/terraform.rs checks every name against the variables the code reads).
  environment = {
    extract = {
      ETL_SOURCE_SECRET_ARN = local.source_secret_arn
      ETL_LANDING           = "s3://${aws_s3_bucket.landing.bucket}"
      ETL_ALERT_TOPIC_ARN   = aws_sns_topic.alerts.arn
      ETL_ROW_BUDGET        = tostring(var.row_budget)
      ETL_LOOKBACK_SECS     = tostring(var.lookback_secs)
      RUST_LOG              = "info"
    }
    transform = {
      ETL_LANDING         = "s3://${aws_s3_bucket.landing.bucket}"
      ETL_PROCESSED       = "s3://${aws_s3_bucket.processed.bucket}"
      ETL_ALERT_TOPIC_ARN = aws_sns_topic.alerts.arn
      RUST_LOG            = "info"
    }
    load = {
      ETL_PROCESSED            = "s3://${aws_s3_bucket.processed.bucket}"
      ETL_WAREHOUSE_SECRET_ARN = local.warehouse_secret_arn
      ETL_ALERT_TOPIC_ARN      = aws_sns_topic.alerts.arn
      RUST_LOG                 = "info"
    }
    inbox = {
      ETL_INBOX                = "s3://${aws_s3_bucket.inbox.bucket}"
      ETL_WAREHOUSE_SECRET_ARN = local.warehouse_secret_arn
      ETL_ALERT_TOPIC_ARN      = aws_sns_topic.alerts.arn
      ETL_NOTIFY_TOPIC_ARN     = aws_sns_topic.notices.arn
      RUST_LOG                 = "info"
    }
    lake = {
      ETL_PROCESSED          = "s3://${aws_s3_bucket.processed.bucket}"
      ETL_LAKE               = "s3://${aws_s3_bucket.lake.bucket}"
      ETL_LAKE_GLUE_DATABASE = aws_glue_catalog_database.lake.name
      ETL_ALERT_TOPIC_ARN    = aws_sns_topic.alerts.arn
      RUST_LOG               = "info"
    }
    # The same binary as inbox, answering its function URL (GET /log) over a read-only
    # connection: its role reads the warehouse secret and nothing of the inbox bucket.
    inbox_log = {
      ETL_INBOX                = "s3://${aws_s3_bucket.inbox.bucket}"
      ETL_WAREHOUSE_SECRET_ARN = local.warehouse_secret_arn
      ETL_ALERT_TOPIC_ARN      = aws_sns_topic.alerts.arn
      RUST_LOG                 = "info"
    }
  }

  functions = toset(["extract", "transform", "load", "inbox", "inbox_log", "lake"])
  # The zip (`make build`) each function runs.
  binary = {
    extract   = "extract"
    transform = "transform"
    load      = "load"
    inbox     = "inbox"
    inbox_log = "inbox"
    lake      = "lake"
  }
  in_vpc = length(var.subnet_ids) > 0
}
