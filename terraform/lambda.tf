# The functions, from the zips `make build` produces (arm64, provided.al2023).

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.functions
  name              = "/aws/lambda/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.etl.arn
}

resource "aws_lambda_function" "this" {
  for_each         = local.functions
  function_name    = "${local.name}-${each.key}"
  description      = "totesys ETL: ${each.key}"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_zip_dir}/${local.binary[each.key]}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_zip_dir}/${local.binary[each.key]}/bootstrap.zip")
  memory_size      = var.memory_mb[each.key]
  timeout          = var.timeout_secs[each.key]

  # The inbox spools a Parquet file to /tmp before reading it (its footer is at the end).
  ephemeral_storage {
    size = each.key == "inbox" ? var.inbox_ephemeral_mb : 512
  }
  kms_key_arn = aws_kms_key.etl.arn

  # Off by default: accounts with a low concurrency quota refuse any reservation. Extract's
  # watermark and load's ledger are safe under concurrency either way; a reservation of 1
  # only makes queued runs cheaper than contended ones (var.reserved_concurrency).
  reserved_concurrent_executions = try(var.reserved_concurrency[each.key], null)

  environment {
    variables = local.environment[each.key]
  }

  logging_config {
    log_format = "Text" # the functions already write JSON lines
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tracing_config {
    mode = "Active"
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  # The role's permissions exist before the function: Lambda checks the VPC (ENI) permissions
  # when it creates a function in a VPC.
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.vpc]

  # checkov:skip=CKV_AWS_116:Asynchronous failures go to an on-failure destination (aws_lambda_function_event_invoke_config), which supersedes a DLQ.
  # checkov:skip=CKV_AWS_117:VPC placement is optional (subnet_ids); the databases decide whether it is needed.
  # checkov:skip=CKV_AWS_115:Concurrency reservations are opt-in (var.reserved_concurrency): accounts with a low quota refuse them.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile outside this stack; zips are built and deployed by CI from the protected branch.
}

# Lambda's own retries of asynchronous invocations (the scheduler and S3 invoke that way), then
# the failed-events queue. Lambda checks at creation that the role may send to the queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each                     = local.functions
  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_events.arn
    }
  }

  depends_on = [aws_iam_role_policy.function]
}

# The inbox log endpoint: HTTPS, signed requests only (callers need lambda:InvokeFunctionUrl).
resource "aws_lambda_function_url" "inbox_log" {
  function_name      = aws_lambda_function.this["inbox_log"].function_name
  authorization_type = "AWS_IAM"
}
