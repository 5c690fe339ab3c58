# Remote state for `make deploy ENV=<name>`: copy to backends/<name>.hcl (CI writes its own).
bucket       = "my-terraform-state-bucket"
key          = "totesys-etl/dev.tfstate"
region       = "eu-west-2"
use_lockfile = true
encrypt      = true
