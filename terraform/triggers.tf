# What starts each function: the schedule for extract, manifest notifications for the others.

resource "aws_scheduler_schedule" "extract" {
  name                = "${local.name}-extract"
  schedule_expression = var.schedule_expression
  state               = "ENABLED"
  kms_key_arn         = aws_kms_key.etl.arn

  # `etl schedule pause|resume` owns the state once the schedule exists: an apply must not
  # resume a schedule an operator paused.
  lifecycle {
    ignore_changes = [state]
  }

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["extract"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "totesys-etl.schedule" })

    # The next tick retries; a missed one is not worth queueing.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 300
    }
  }
}

resource "aws_lambda_permission" "s3" {
  for_each = {
    transform = aws_s3_bucket.landing
    load      = aws_s3_bucket.processed
    inbox     = aws_s3_bucket.inbox
  }
  statement_id   = "AllowS3Invoke"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this[each.key].function_name
  principal      = "s3.amazonaws.com"
  source_arn     = each.value.arn
  source_account = local.account_id
}

# A manifest is a stage's commit point: only its creation triggers the next stage.
resource "aws_s3_bucket_notification" "landing" {
  bucket = aws_s3_bucket.landing.id
  lambda_function {
    id                  = "transform-on-manifest"
    lambda_function_arn = aws_lambda_function.this["transform"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.manifests_prefix
    filter_suffix       = ".json"
  }
  depends_on = [aws_lambda_permission.s3]
}

resource "aws_s3_bucket_notification" "processed" {
  bucket = aws_s3_bucket.processed.id
  # Every event to EventBridge as well, where the lake's rule hears the manifests (lake.tf).
  eventbridge = true
  lambda_function {
    id                  = "load-on-manifest"
    lambda_function_arn = aws_lambda_function.this["load"].arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.manifests_prefix
    filter_suffix       = ".json"
  }
  depends_on = [aws_lambda_permission.s3]
}

# Every file dropped into the inbox: the function applies the tables its keys name.
resource "aws_s3_bucket_notification" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  lambda_function {
    id                  = "inbox-on-file"
    lambda_function_arn = aws_lambda_function.this["inbox"].arn
    events              = ["s3:ObjectCreated:*"]
  }
  depends_on = [aws_lambda_permission.s3]
}
