# Two buckets, one per stage output (docs/architecture.md §4), and one for their access logs.

resource "aws_s3_bucket" "landing" {
  bucket = "${local.name}-landing-${local.account_id}"
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; the source database remains the system of record.
  # checkov:skip=CKV2_AWS_62:Event notifications are configured (aws_s3_bucket_notification.landing); checkov does not link them.
}

resource "aws_s3_bucket" "processed" {
  bucket = "${local.name}-processed-${local.account_id}"
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; processed data can be rebuilt from landing.
  # checkov:skip=CKV2_AWS_62:Event notifications are configured (aws_s3_bucket_notification.processed); checkov does not link them.
}

# Where vendors and teams drop files (README, "File-drop inbox"). Versioned like the others: each
# version of an object is processed once (inbox.etl_inbox_log).
resource "aws_s3_bucket" "inbox" {
  bucket = "${local.name}-inbox-${local.account_id}"
  # checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per deployment; the senders keep their files.
  # checkov:skip=CKV2_AWS_62:Event notifications are configured (aws_s3_bucket_notification.inbox); checkov does not link them.
}

resource "aws_s3_bucket" "access_logs" {
  bucket = "${local.name}-access-logs-${local.account_id}"
  # checkov:skip=CKV_AWS_18:This bucket receives the access logs; logging it into itself would loop.
  # checkov:skip=CKV_AWS_144:Access logs are not replicated; they are kept for audit in-region.
  # checkov:skip=CKV2_AWS_62:Nothing reacts to access-log objects.
  # checkov:skip=CKV_AWS_145:S3 server access logging delivers only to SSE-S3 buckets, not SSE-KMS.
}

locals {
  buckets = {
    landing        = aws_s3_bucket.landing
    processed      = aws_s3_bucket.processed
    inbox          = aws_s3_bucket.inbox
    lake           = aws_s3_bucket.lake
    athena_results = aws_s3_bucket.athena_results
    access_logs    = aws_s3_bucket.access_logs
  }
  # Buckets of data, encrypted with the pipeline's key and access-logged.
  encrypted_buckets = {
    landing        = aws_s3_bucket.landing
    processed      = aws_s3_bucket.processed
    inbox          = aws_s3_bucket.inbox
    lake           = aws_s3_bucket.lake
    athena_results = aws_s3_bucket.athena_results
  }
  data_buckets = {
    landing   = { bucket = aws_s3_bucket.landing, data_days = var.landing_data_expiry_days }
    processed = { bucket = aws_s3_bucket.processed, data_days = var.processed_data_expiry_days }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = local.buckets
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Objects belong to the bucket owner and ACLs are off: a writer cannot hand an object to
# another account, and access is decided by the policies alone.
resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.encrypted_buckets
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.etl.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each      = var.enable_access_logging ? local.encrypted_buckets : {}
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
  # S3 checks that the target's policy lets the logging service write.
  depends_on = [aws_s3_bucket_policy.tls_only]
}

# Old runs and quarantined inputs expire; pipeline state (the watermark, transform's
# snapshots) never does.
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.data_buckets
  bucket   = each.value.bucket.id

  rule {
    id     = "expire-old-runs"
    status = "Enabled"
    filter {
      prefix = local.data_prefix
    }
    expiration {
      days = each.value.data_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "expire-old-manifests"
    status = "Enabled"
    filter {
      prefix = local.manifests_prefix
    }
    expiration {
      days = each.value.data_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "expire-quarantine"
    status = "Enabled"
    filter {
      prefix = local.quarantine_prefix
    }
    expiration {
      days = var.quarantine_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "state-old-versions"
    status = "Enabled"
    filter {
      prefix = local.state_prefix
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# Dropped files expire; what they did is in the warehouse's log.
resource "aws_s3_bucket_lifecycle_configuration" "inbox" {
  bucket = aws_s3_bucket.inbox.id
  rule {
    id     = "expire-dropped-files"
    status = "Enabled"
    filter {}
    expiration {
      days = var.inbox_expiry_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# TLS only, for every bucket.
resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.buckets
  bucket   = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [each.value.arn, "${each.value.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }],
      each.key == "inbox" && length(var.inbox_writer_arns) > 0 ? [{
        Sid       = "WritersDropFiles"
        Effect    = "Allow"
        Principal = { AWS = var.inbox_writer_arns }
        Action    = "s3:PutObject"
        Resource = [for prefix in ["schema/", "append/", "truncate/", "upsert/"] :
        "${each.value.arn}/${prefix}*"]
      }] : [],
      each.key == "access_logs" ? [{
        Sid       = "S3ServerAccessLogsDelivery"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${each.value.arn}/*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      }] : []
    )
  })
  depends_on = [aws_s3_bucket_public_access_block.this]
}
