# Alarms to the alert topic: function errors and throttles, freshness of the warehouse, and
# events that exhausted Lambda's retries.

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = local.functions
  alarm_name          = "${local.name}-${each.key}-errors"
  alarm_description   = "The ${each.key} function failed; the alert email names the run."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each            = local.functions
  alarm_name          = "${local.name}-${each.key}-throttles"
  alarm_description   = "The ${each.key} function was throttled (reserved concurrency 1: runs are queueing)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

# Extract emits WatermarkLagSeconds (CloudWatch embedded metric format) at every invocation;
# no data at all means extract is not running, which is as stale as a large lag.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  alarm_name          = "${local.name}-freshness"
  alarm_description   = "The watermark lags now by more than ${var.freshness_threshold_secs}s, or extract reports nothing."
  namespace           = "totesys-etl"
  metric_name         = "WatermarkLagSeconds"
  dimensions          = { Stage = "extract" }
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 2
  threshold           = var.freshness_threshold_secs
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "failed_events" {
  alarm_name          = "${local.name}-failed-events"
  alarm_description   = "Events exhausted Lambda's retries; inspect and redrive ${aws_sqs_queue.failed_events.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_events.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}
