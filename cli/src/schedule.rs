//! `etl schedule status|pause|resume`: the operator's switch for the extract schedule
//! (EventBridge Scheduler), e.g. to pause extraction during source maintenance.
//!
//! Scheduler's `UpdateSchedule` replaces a schedule whole, so pause and resume read the schedule
//! first and write every field back unchanged but the state (and the expression, with `--rate`).

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use aws_sdk_scheduler::types::ScheduleState;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScheduleError {
    #[error(
        "schedule {name:?} does not exist in group {group:?}: check --name/--group \
         (ETL_SCHEDULE_NAME/ETL_SCHEDULE_GROUP; `terraform output schedule_name` names it) \
         and the AWS region"
    )]
    NotFound { name: String, group: String },
    #[error("{expression:?} is not a schedule expression: use rate(5 minutes) or cron(...)")]
    BadExpression { expression: String },
    #[error("Scheduler {operation} of {name:?} failed: {message}")]
    Api {
        operation: &'static str,
        name: String,
        message: String,
    },
}

/// What `status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleStatus {
    pub name: String,
    pub group: String,
    pub state: String,
    pub expression: String,
    pub target: String,
}

/// Checks the shape of a Scheduler expression before AWS does, for a clearer message.
pub fn check_expression(expression: &str) -> Result<(), ScheduleError> {
    let e = expression.trim();
    let well_formed = ["rate(", "cron(", "at("]
        .iter()
        .any(|p| e.starts_with(p) && e.ends_with(')') && e.len() > p.len() + 1);
    if well_formed {
        Ok(())
    } else {
        Err(ScheduleError::BadExpression {
            expression: expression.to_owned(),
        })
    }
}

fn api_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    name: &str,
    group: &str,
    err: SdkError<E, R>,
) -> ScheduleError {
    if err.code() == Some("ResourceNotFoundException") {
        return ScheduleError::NotFound {
            name: name.to_owned(),
            group: group.to_owned(),
        };
    }
    ScheduleError::Api {
        operation,
        name: name.to_owned(),
        message: DisplayErrorContext(&err).to_string(),
    }
}

fn status_of(out: &GetScheduleOutput, group: &str) -> ScheduleStatus {
    ScheduleStatus {
        name: out.name().unwrap_or_default().to_owned(),
        group: out.group_name().unwrap_or(group).to_owned(),
        state: out
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "UNKNOWN".into()),
        expression: out.schedule_expression().unwrap_or_default().to_owned(),
        target: out.target().map(|t| t.arn().to_owned()).unwrap_or_default(),
    }
}

async fn get(client: &Client, name: &str, group: &str) -> Result<GetScheduleOutput, ScheduleError> {
    client
        .get_schedule()
        .name(name)
        .group_name(group)
        .send()
        .await
        .map_err(|e| api_error("GetSchedule", name, group, e))
}

pub async fn status(
    client: &Client,
    name: &str,
    group: &str,
) -> Result<ScheduleStatus, ScheduleError> {
    Ok(status_of(&get(client, name, group).await?, group))
}

/// Sets the schedule's state (and expression, when given), keeping everything else.
pub async fn set_state(
    client: &Client,
    name: &str,
    group: &str,
    enabled: bool,
    rate: Option<&str>,
) -> Result<ScheduleStatus, ScheduleError> {
    if let Some(rate) = rate {
        check_expression(rate)?;
    }
    let current = get(client, name, group).await?;
    let expression = rate
        .map(str::to_owned)
        .or_else(|| current.schedule_expression().map(str::to_owned));
    client
        .update_schedule()
        .name(name)
        .group_name(group)
        .set_schedule_expression(expression)
        .set_schedule_expression_timezone(current.schedule_expression_timezone().map(str::to_owned))
        .set_description(current.description().map(str::to_owned))
        .set_start_date(current.start_date().cloned())
        .set_end_date(current.end_date().cloned())
        .set_kms_key_arn(current.kms_key_arn().map(str::to_owned))
        .set_target(current.target().cloned())
        .set_flexible_time_window(current.flexible_time_window().cloned())
        .set_action_after_completion(current.action_after_completion().cloned())
        .state(if enabled {
            ScheduleState::Enabled
        } else {
            ScheduleState::Disabled
        })
        .send()
        .await
        .map_err(|e| api_error("UpdateSchedule", name, group, e))?;
    status(client, name, group).await
}

/// Prints a status as aligned lines.
pub fn print(status: &ScheduleStatus) {
    println!("schedule    {} (group {})", status.name, status.group);
    println!("state       {}", status.state);
    println!("expression  {}", status.expression);
    println!("target      {}", status.target);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_are_checked() {
        assert!(check_expression("rate(5 minutes)").is_ok());
        assert!(check_expression("cron(0/15 * * * ? *)").is_ok());
        assert!(check_expression("every 5 minutes").is_err());
        assert!(check_expression("rate()").is_err());
    }
}
