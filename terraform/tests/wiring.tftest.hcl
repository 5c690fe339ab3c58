# The wiring of the deployment, checked on a mocked provider: no AWS account needed.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  # The provider validates ARNs it is given, so mocked ARNs must look like ARNs.
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-2:123456789012:totesys-etl-test-alerts" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-2:123456789012:totesys-etl-test-failed-events" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-2:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-2:123456789012:log-group:/aws/lambda/totesys-etl-test" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/totesys-etl-test" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-etl-test" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::totesys-etl-test" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-etl-test" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-2:123456789012:rule/totesys-etl-test-lake-on-manifest" }
  }
  mock_resource "aws_glue_catalog_database" {
    defaults = { arn = "arn:aws:glue:eu-west-2:123456789012:database/totesys_etl_test_lake" }
  }
  mock_resource "aws_athena_workgroup" {
    defaults = { arn = "arn:aws:athena:eu-west-2:123456789012:workgroup/totesys-etl-test-lake" }
  }
}

# Distinct ARNs where the assertions tell resources apart.
override_resource {
  target = aws_lambda_function.this["extract"]
  values = { arn = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-etl-test-extract" }
}
override_resource {
  target = aws_lambda_function.this["transform"]
  values = { arn = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-etl-test-transform" }
}
override_resource {
  target = aws_lambda_function.this["load"]
  values = { arn = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-etl-test-load" }
}
override_resource {
  target = aws_lambda_function.this["lake"]
  values = { arn = "arn:aws:lambda:eu-west-2:123456789012:function:totesys-etl-test-lake" }
}
override_resource {
  target = aws_s3_bucket.lake
  values = { arn = "arn:aws:s3:::totesys-etl-test-lake" }
}
override_resource {
  target = aws_iam_role.scheduler
  values = { arn = "arn:aws:iam::123456789012:role/totesys-etl-test-scheduler" }
}
override_resource {
  target = aws_s3_bucket.landing
  values = { arn = "arn:aws:s3:::totesys-etl-test-landing" }
}
override_resource {
  target = aws_s3_bucket.processed
  values = { arn = "arn:aws:s3:::totesys-etl-test-processed" }
}
override_resource {
  target = aws_secretsmanager_secret.database["source"]
  values = { arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-etl-test-source" }
}
override_resource {
  target = aws_secretsmanager_secret.database["warehouse"]
  values = { arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-etl-test-warehouse" }
}

variables {
  environment        = "test"
  lambda_zip_dir     = "tests/fixtures/lambda"
  log_retention_days = 400
}

run "wiring" {
  command = apply

  # Notifications fire only on manifests, the key prefix contract/src/layout.rs commits runs under.
  assert {
    condition     = aws_s3_bucket_notification.landing.lambda_function[0].filter_prefix == "manifests/"
    error_message = "landing notifications must filter on manifests/"
  }
  assert {
    condition     = aws_s3_bucket_notification.processed.lambda_function[0].filter_prefix == "manifests/"
    error_message = "processed notifications must filter on manifests/"
  }
  assert {
    condition     = aws_s3_bucket_notification.landing.lambda_function[0].lambda_function_arn == aws_lambda_function.this["transform"].arn
    error_message = "landing manifests must trigger transform"
  }
  assert {
    condition     = aws_s3_bucket_notification.processed.lambda_function[0].lambda_function_arn == aws_lambda_function.this["load"].arn
    error_message = "processed manifests must trigger load"
  }
  assert {
    condition = alltrue([
      aws_lambda_permission.s3["transform"].source_arn == aws_s3_bucket.landing.arn,
      aws_lambda_permission.s3["load"].source_arn == aws_s3_bucket.processed.arn,
    ])
    error_message = "each function may be invoked only by its own bucket"
  }

  # The schedule targets extract, with a role that may invoke only extract.
  assert {
    condition     = aws_scheduler_schedule.extract.target[0].arn == aws_lambda_function.this["extract"].arn
    error_message = "the schedule must target extract"
  }
  assert {
    condition     = aws_scheduler_schedule.extract.target[0].role_arn == aws_iam_role.scheduler.arn
    error_message = "the schedule must invoke with its own role"
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy).Statement[0].Resource == [aws_lambda_function.this["extract"].arn]
    error_message = "the scheduler role may invoke extract only"
  }

  # Least privilege: every statement names resources of this deployment; only X-Ray's
  # service-required "*" is allowed, and no action is a wildcard.
  assert {
    condition = alltrue(flatten([
      for f in ["extract", "transform", "load", "inbox", "inbox_log", "lake"] : [
        for s in jsondecode(aws_iam_role_policy.function[f].policy).Statement : [
          for r in s.Resource : r != "*" || s.Sid == "Tracing"
        ]
      ]
    ]))
    error_message = "a function policy names resource \"*\" outside the X-Ray statement"
  }
  assert {
    condition = alltrue(flatten([
      for f in ["extract", "transform", "load", "inbox", "inbox_log", "lake"] : [
        for s in jsondecode(aws_iam_role_policy.function[f].policy).Statement : [
          for a in s.Action : !endswith(a, "*")
        ]
      ]
    ]))
    error_message = "a function policy has a wildcard action"
  }
  # Each function touches only its own buckets: extract landing, load processed.
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["extract"].policy).Statement : [
        for r in s.Resource : !startswith(r, aws_s3_bucket.processed.arn)
      ]
    ]))
    error_message = "extract must not reach the processed bucket"
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["load"].policy).Statement : [
        for r in s.Resource : !startswith(r, aws_s3_bucket.landing.arn)
      ]
    ]))
    error_message = "load must not reach the landing bucket"
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["transform"].policy).Statement : [
        for r in s.Resource : s.Sid != "DatabaseSecret"
      ]
    ]))
    error_message = "transform needs no database secret"
  }
  assert {
    condition = (
      [for s in jsondecode(aws_iam_role_policy.function["extract"].policy).Statement : s.Resource if s.Sid == "DatabaseSecret"][0] == [aws_secretsmanager_secret.database["source"].arn]
      && [for s in jsondecode(aws_iam_role_policy.function["load"].policy).Statement : s.Resource if s.Sid == "DatabaseSecret"][0] == [aws_secretsmanager_secret.database["warehouse"].arn]
    )
    error_message = "extract reads only the source secret, load only the warehouse secret"
  }
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox_log"] :
      [for s in jsondecode(aws_iam_role_policy.function[f].policy).Statement : s.Resource if s.Sid == "Alerts"][0] == [aws_sns_topic.alerts.arn]
    ])
    error_message = "functions publish only to the alert topic"
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.function["inbox"].policy).Statement : s.Resource if s.Sid == "Alerts"][0] == [aws_sns_topic.alerts.arn, aws_sns_topic.notices.arn]
    error_message = "the inbox publishes alerts and notices, nothing else"
  }

  # The lake: processed manifests reach it through EventBridge (load keeps the bucket's own
  # notification); it reads processed runs, writes only its bucket and its Glue database's
  # tables; Athena's workgroup enforces encrypted results and a scan limit; VACUUM runs per table.
  assert {
    condition     = aws_s3_bucket_notification.processed.eventbridge
    error_message = "the processed bucket must send its events to EventBridge for the lake"
  }
  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.lake.event_pattern).detail.object.key[0].prefix == "manifests/"
      && jsondecode(aws_cloudwatch_event_rule.lake.event_pattern).detail.bucket.name == [aws_s3_bucket.processed.bucket]
      && aws_cloudwatch_event_target.lake.arn == aws_lambda_function.this["lake"].arn
      && aws_lambda_permission.events.source_arn == aws_cloudwatch_event_rule.lake.arn
    )
    error_message = "processed manifests must invoke the lake function, and only that rule may"
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["lake"].policy).Statement : [
        for r in s.Resource : !startswith(r, aws_s3_bucket.landing.arn)
      ]
    ]))
    error_message = "the lake must not reach the landing bucket"
  }
  assert {
    condition = alltrue([
      for r in [for s in jsondecode(aws_iam_role_policy.function["lake"].policy).Statement : s.Resource if s.Sid == "LakeTables"][0] :
      endswith(r, ":catalog") || r == aws_glue_catalog_database.lake.arn || endswith(r, ":table/${aws_glue_catalog_database.lake.name}/*")
    ])
    error_message = "the lake may change only its own Glue database's tables"
  }
  assert {
    condition = alltrue(flatten([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] : [
        for s in jsondecode(aws_iam_role_policy.function[f].policy).Statement : s.Sid != "LakeTables"
      ]
    ]))
    error_message = "only the lake function touches Glue"
  }
  assert {
    condition = (
      aws_athena_workgroup.lake.configuration[0].enforce_workgroup_configuration
      && aws_athena_workgroup.lake.configuration[0].bytes_scanned_cutoff_per_query == var.athena_bytes_scanned_cutoff
      && aws_athena_workgroup.lake.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS"
    )
    error_message = "the Athena workgroup must enforce encrypted results and the scan limit"
  }
  assert {
    condition = (
      length(aws_scheduler_schedule.vacuum) == 11
      && alltrue([for t, s in aws_scheduler_schedule.vacuum : jsondecode(s.target[0].input).QueryString == "VACUUM ${t}"])
      && length(aws_athena_named_query.view) == 16
    )
    error_message = "each lake table is vacuumed on a schedule, and every Athena view is a named query"
  }

  # The inbox: files trigger it, it only reads its bucket, its log endpoint needs signed requests.
  assert {
    condition     = aws_s3_bucket_notification.inbox.lambda_function[0].lambda_function_arn == aws_lambda_function.this["inbox"].arn
    error_message = "files dropped into the inbox must invoke the inbox function"
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["inbox"].policy).Statement : [
        for r in s.Resource : !startswith(r, aws_s3_bucket.landing.arn) && !startswith(r, aws_s3_bucket.processed.arn)
      ]
    ]))
    error_message = "the inbox must not reach the pipeline's buckets"
  }
  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.function["inbox_log"].policy).Statement : [
        for a in s.Action : !startswith(a, "s3:")
      ]
    ]))
    error_message = "the log endpoint reads the warehouse only"
  }
  assert {
    condition     = aws_lambda_function_url.inbox_log.authorization_type == "AWS_IAM"
    error_message = "the log endpoint must require signed (AWS_IAM) requests"
  }

  # Keys, trust and transport.
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] :
      [for st in jsondecode(aws_iam_role_policy.function[f].policy).Statement : st.Condition.StringEquals["kms:ViaService"] if st.Sid == "DataKey"][0]
      == [for svc in ["s3", "sns", "sqs", "secretsmanager", "lambda"] : "${svc}.eu-west-2.amazonaws.com"]
    ])
    error_message = "functions may use the pipeline's key only through the services that encrypt with it"
  }
  assert {
    condition = alltrue(flatten([
      for f in ["extract", "transform", "load", "inbox", "inbox_log", "lake"] : [
        for st in jsondecode(aws_iam_role_policy.function[f].policy).Statement : !contains(st.Action, "s3:DeleteObject")
      ]
    ]))
    error_message = "no function deletes objects (replays clear quarantine records from the operator's CLI)"
  }
  assert {
    condition     = jsondecode(aws_iam_role.scheduler.assume_role_policy).Statement[0].Condition.ArnLike["aws:SourceArn"] == "arn:aws:scheduler:eu-west-2:123456789012:schedule/default/totesys-etl-test-extract"
    error_message = "only the extract schedule may assume the scheduler role"
  }
  assert {
    condition = [
      for st in jsondecode(aws_sns_topic_policy.alerts.policy).Statement :
      [st.Effect, st.Action, st.Condition.Bool["aws:SecureTransport"]] if st.Sid == "DenyInsecureTransport"
    ] == [["Deny", "sns:Publish", "false"]]
    error_message = "the alert topic must refuse publishing over plain HTTP"
  }
  assert {
    condition = [
      for st in jsondecode(aws_sns_topic_policy.alerts.policy).Statement :
      st.Condition.ArnLike["aws:SourceArn"] if st.Sid == "AlarmsPublish"
    ] == ["arn:aws:cloudwatch:eu-west-2:123456789012:alarm:totesys-etl-test-*"]
    error_message = "only this deployment's alarms may publish to the alert topic"
  }
  assert {
    condition = alltrue([
      for b in ["landing", "processed", "access_logs"] : aws_s3_bucket_ownership_controls.this[b].rule[0].object_ownership == "BucketOwnerEnforced"
    ])
    error_message = "every bucket must enforce bucket-owner ownership (ACLs off)"
  }
  assert {
    condition = alltrue([
      for st in jsondecode(aws_kms_key.etl.policy).Statement :
      can(st.Condition) if st.Sid != "AccountAdministers"
    ])
    error_message = "every service statement of the key policy must be conditioned (source account, service or context)"
  }
  assert {
    condition     = aws_scheduler_schedule.extract.state == "ENABLED"
    error_message = "the schedule is created enabled (later applies leave its state to etl schedule)"
  }

  # Ordering and retries.
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] : aws_lambda_function.this[f].reserved_concurrent_executions != 1
    ])
    error_message = "no concurrency is reserved unless var.reserved_concurrency asks (low-quota accounts refuse it)"
  }
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] :
      aws_lambda_function_event_invoke_config.this[f].maximum_retry_attempts == 2
      && aws_lambda_function_event_invoke_config.this[f].destination_config[0].on_failure[0].destination == aws_sqs_queue.failed_events.arn
    ])
    error_message = "async retries and the on-failure destination must be set"
  }
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] :
      aws_lambda_function.this[f].runtime == "provided.al2023" && aws_lambda_function.this[f].architectures == tolist(["arm64"])
    ])
    error_message = "functions run provided.al2023 on arm64"
  }

  # Logs and alarms.
  assert {
    condition = alltrue([
      for f in ["extract", "transform", "load", "inbox", "inbox_log"] : aws_cloudwatch_log_group.function[f].retention_in_days == 400
    ])
    error_message = "log retention must follow log_retention_days"
  }
  assert {
    condition = alltrue(concat(
      [for a in aws_cloudwatch_metric_alarm.errors : a.alarm_actions == toset([aws_sns_topic.alerts.arn])],
      [for a in aws_cloudwatch_metric_alarm.throttles : a.alarm_actions == toset([aws_sns_topic.alerts.arn])],
      [aws_cloudwatch_metric_alarm.freshness.alarm_actions == toset([aws_sns_topic.alerts.arn])],
      [aws_cloudwatch_metric_alarm.failed_events.alarm_actions == toset([aws_sns_topic.alerts.arn])],
    ))
    error_message = "every alarm must notify the alert topic"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.freshness.namespace == "totesys-etl" && aws_cloudwatch_metric_alarm.freshness.metric_name == "WatermarkLagSeconds"
    error_message = "the freshness alarm must read the metric extract emits"
  }
}

run "existing_secrets_are_referenced_not_created" {
  command = plan

  variables {
    source_secret_arn    = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-AbCdEf"
    warehouse_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:warehouse-AbCdEf"
  }

  assert {
    condition     = length(aws_secretsmanager_secret.database) == 0
    error_message = "no secret is created when both are given"
  }
  assert {
    condition     = aws_lambda_function.this["extract"].environment[0].variables["ETL_SOURCE_SECRET_ARN"] == "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-AbCdEf"
    error_message = "extract must read the given source secret"
  }
}

run "reserved_concurrency_is_opt_in" {
  command = plan

  variables {
    reserved_concurrency = { extract = 1, load = 1 }
  }

  assert {
    condition     = aws_lambda_function.this["extract"].reserved_concurrent_executions == 1 && aws_lambda_function.this["load"].reserved_concurrent_executions == 1
    error_message = "reserved_concurrency must reach the functions it names"
  }
}

run "functions_in_a_vpc_get_network_permissions_not_every_log_group" {
  command = apply

  variables {
    subnet_ids         = ["subnet-0123456789abcdef0"]
    security_group_ids = ["sg-0123456789abcdef0"]
  }

  assert {
    condition     = length(aws_iam_role_policy.vpc) == 6
    error_message = "each function in a VPC needs its network permissions"
  }
  assert {
    condition = alltrue(flatten([
      for f in ["extract", "transform", "load", "inbox", "inbox_log", "lake"] : [
        for st in jsondecode(aws_iam_role_policy.vpc[f].policy).Statement : [
          for a in st.Action : startswith(a, "ec2:")
        ]
      ]
    ]))
    error_message = "the VPC policy grants network actions only (no logs on every log group)"
  }
  assert {
    condition = contains(
      [for st in jsondecode(aws_iam_role_policy.vpc["extract"].policy).Statement : st.Resource if st.Sid == "CreateInterfacesInOwnSubnets"][0],
      "arn:aws:ec2:eu-west-2:123456789012:subnet/subnet-0123456789abcdef0"
    )
    error_message = "interfaces are created only in the configured subnets"
  }
}

run "secrets_under_their_own_key" {
  command = plan

  variables {
    source_secret_arn    = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:totesys-AbCdEf"
    warehouse_secret_arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:warehouse-AbCdEf"
    secrets_kms_key_arn  = "arn:aws:kms:eu-west-2:123456789012:key/11111111-1111-1111-1111-111111111111"
  }

  assert {
    condition = alltrue([
      for f in ["extract", "load"] :
      [for st in jsondecode(aws_iam_role_policy.function[f].policy).Statement : st.Condition.StringEquals["kms:ViaService"] if st.Sid == "SecretKey"][0] == "secretsmanager.eu-west-2.amazonaws.com"
    ])
    error_message = "extract and load may decrypt their secret's key, through Secrets Manager only"
  }
  assert {
    condition     = length([for st in jsondecode(aws_iam_role_policy.function["transform"].policy).Statement : st if st.Sid == "SecretKey"]) == 0
    error_message = "transform reads no secret"
  }
}
