# A development deployment: `make deploy ENV=dev`. Copy to <env>.tfvars for another.
environment         = "dev"
aws_region          = "eu-west-2"
schedule_expression = "rate(15 minutes)"
alert_email         = ""
# Existing RDS-format secrets; leave empty to have Terraform create them (set their values after).
source_secret_arn    = ""
warehouse_secret_arn = ""
# Private subnets and security groups that reach the databases, if they are in a VPC.
subnet_ids         = []
security_group_ids = []
