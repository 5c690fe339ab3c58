variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "totesys-etl"
}

variable "environment" {
  description = "Deployment name (dev, prod, ...): part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z0-9-]{1,12}$", var.environment))
    error_message = "environment must be 1-12 lowercase letters, digits or dashes."
  }
}

variable "aws_region" {
  description = "Region of the deployment."
  type        = string
  default     = "eu-west-2"
}

variable "lambda_zip_dir" {
  description = "Where `make build` puts the zips: <dir>/<function>/bootstrap.zip."
  type        = string
  default     = "../target/lambda"
}

variable "schedule_expression" {
  description = "How often extract runs (EventBridge Scheduler expression)."
  type        = string
  default     = "rate(15 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
}

variable "alert_email" {
  description = "Address subscribed to the alert topic (it must confirm); empty for none."
  type        = string
  default     = ""
}

variable "source_secret_arn" {
  description = "Existing Secrets Manager secret (RDS JSON) of the totesys database; empty to create one whose value you then set."
  type        = string
  default     = ""
}

variable "warehouse_secret_arn" {
  description = "Existing Secrets Manager secret (RDS JSON) of the warehouse; empty to create one whose value you then set."
  type        = string
  default     = ""
}

variable "row_budget" {
  description = "ETL_ROW_BUDGET: rows per extract run."
  type        = number
  default     = 100000
}

variable "lookback_secs" {
  description = "ETL_LOOKBACK_SECS: overlap re-read each extract (clock-skew guard)."
  type        = number
  default     = 0
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function, e.g. { extract = 1, load = 1 }; null (the default) reserves none. Needs an account concurrency quota of at least 10 plus the sum."
  type        = map(number)
  default     = null
  nullable    = true
}

variable "secrets_kms_key_arn" {
  description = "KMS key that encrypts existing database secrets (source_secret_arn, warehouse_secret_arn) when it is not the pipeline's key; empty when they use the pipeline's key or aws/secretsmanager."
  type        = string
  default     = ""

  validation {
    condition     = var.secrets_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "memory_mb" {
  description = "Memory of each function, MB (transform's polars work is the largest)."
  type        = map(number)
  default = {
    extract   = 512
    transform = 1024
    load      = 512
    inbox     = 512
    inbox_log = 256
    lake      = 512
  }
}

variable "timeout_secs" {
  description = "Timeout of each function, seconds."
  type        = map(number)
  default = {
    extract   = 300
    transform = 300
    load      = 300
    inbox     = 900
    inbox_log = 30
    lake      = 300
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups."
  type        = number
  default     = 365
}

variable "landing_data_expiry_days" {
  description = "Days after which landing data parts and manifests expire (state/ never does)."
  type        = number
  default     = 90
}

variable "processed_data_expiry_days" {
  description = "Days after which processed Parquet and manifests expire (state/ never does)."
  type        = number
  default     = 365
}

variable "quarantine_expiry_days" {
  description = "Days quarantined inputs are kept for investigation."
  type        = number
  default     = 180
}

variable "freshness_threshold_secs" {
  description = "Alarm when the watermark lags now by more than this (WatermarkLagSeconds)."
  type        = number
  default     = 3600
}

variable "subnet_ids" {
  description = "Private subnets for the functions, to reach databases in a VPC; empty for none."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the functions when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "enable_access_logging" {
  description = "S3 server access logs of the data buckets into the access-logs bucket. Off only where the S3 API lacks it (the moto_server apply test)."
  type        = bool
  default     = true
}

variable "inbox_expiry_days" {
  description = "Days after which files dropped into the inbox expire (their outcome stays in inbox.etl_inbox_log)."
  type        = number
  default     = 90
}

variable "inbox_ephemeral_mb" {
  description = "The inbox function's /tmp, MB: at least the largest Parquet file dropped (CSV and JSON lines stream)."
  type        = number
  default     = 4096
}

variable "inbox_writer_arns" {
  description = "IAM principals (vendors' roles, teams) allowed to drop files into the inbox bucket's action prefixes and schema/."
  type        = list(string)
  default     = []
}

variable "notify_email" {
  description = "Email subscribed to the notices topic (one message per loaded inbox file); empty for none."
  type        = string
  default     = ""
}

variable "athena_bytes_scanned_cutoff" {
  description = "The most a query in the lake's Athena workgroup may scan, bytes (Athena's minimum is 10 MB)."
  type        = number
  default     = 10737418240
}

variable "athena_results_expiry_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 7
}

variable "lake_vacuum_schedule" {
  description = "When each lake table's expired snapshots and orphan files are removed (Athena VACUUM)."
  type        = string
  default     = "rate(7 days)"
}
