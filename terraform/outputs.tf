output "landing_bucket" {
  description = "Landing bucket (NDJSON runs, the watermark)."
  value       = aws_s3_bucket.landing.bucket
}

output "processed_bucket" {
  description = "Processed bucket (Parquet runs, transform state, quarantine)."
  value       = aws_s3_bucket.processed.bucket
}

output "function_arns" {
  description = "ARN of each function."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "alert_topic_arn" {
  description = "SNS topic of alerts and alarms."
  value       = aws_sns_topic.alerts.arn
}

output "schedule_name" {
  description = "The extract schedule, for `etl schedule status|pause|resume --name`."
  value       = aws_scheduler_schedule.extract.name
}

output "source_secret_arn" {
  description = "Secret the extract function reads the source credentials from."
  value       = local.source_secret_arn
}

output "warehouse_secret_arn" {
  description = "Secret the load function reads the warehouse credentials from."
  value       = local.warehouse_secret_arn
}

output "failed_events_queue_url" {
  description = "Events that exhausted Lambda's retries."
  value       = aws_sqs_queue.failed_events.url
}

output "inbox_bucket" {
  description = "Where files are dropped: schema/<table>.json, append|truncate|upsert/<table>/<file>."
  value       = aws_s3_bucket.inbox.bucket
}

output "inbox_log_url" {
  description = "The inbox log endpoint (AWS_IAM auth): GET <url>log?table=T&since=1h."
  value       = aws_lambda_function_url.inbox_log.function_url
}

output "notices_topic_arn" {
  description = "SNS topic of loaded inbox files."
  value       = aws_sns_topic.notices.arn
}

output "lake_bucket" {
  description = "The lake's bucket (Iceberg tables, one folder each)."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_glue_database" {
  description = "Glue database of the lake's tables (ETL_LAKE_GLUE_DATABASE)."
  value       = aws_glue_catalog_database.lake.name
}

output "athena_workgroup" {
  description = "Athena workgroup for querying the lake (encrypted results, bytes-scanned limit)."
  value       = aws_athena_workgroup.lake.name
}
