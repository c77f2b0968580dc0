//! How the service-level policy in force looks on the wire
//! (`GET /api/support/sla-policy`): whole seconds, camelCase like the other
//! `data` objects that are not the ticket model.

use serde::Serialize;
use support_domain::{Priority, SlaPolicy};

/// `data` of the policy route.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaPolicyView {
    targets: Targets,
    warning_lead_secs: i64,
    auto_close_after_secs: Option<i64>,
}

/// The targets by priority name.
#[derive(Debug, Serialize)]
struct Targets {
    urgent: TargetView,
    high: TargetView,
    medium: TargetView,
    low: TargetView,
}

/// The two targets of one priority.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetView {
    first_response_secs: i64,
    resolution_secs: i64,
}

impl From<&SlaPolicy> for SlaPolicyView {
    fn from(policy: &SlaPolicy) -> Self {
        let of = |priority| {
            let t = policy.targets(priority);
            TargetView {
                first_response_secs: t.first_response.num_seconds(),
                resolution_secs: t.resolution.num_seconds(),
            }
        };
        Self {
            targets: Targets {
                urgent: of(Priority::Urgent),
                high: of(Priority::High),
                medium: of(Priority::Medium),
                low: of(Priority::Low),
            },
            warning_lead_secs: policy.warning_lead().num_seconds(),
            auto_close_after_secs: policy.auto_close_after().map(|d| d.num_seconds()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_in_seconds() {
        let view = serde_json::to_value(SlaPolicyView::from(&SlaPolicy::default())).unwrap();
        assert_eq!(
            view,
            serde_json::json!({
                "targets": {
                    "urgent": {"firstResponseSecs": 3600, "resolutionSecs": 14400},
                    "high": {"firstResponseSecs": 14400, "resolutionSecs": 86400},
                    "medium": {"firstResponseSecs": 28800, "resolutionSecs": 172800},
                    "low": {"firstResponseSecs": 86400, "resolutionSecs": 259200},
                },
                "warningLeadSecs": 900,
                "autoCloseAfterSecs": 345600,
            })
        );
        let off = SlaPolicy::default().with_auto_close_after(None).unwrap();
        let view = serde_json::to_value(SlaPolicyView::from(&off)).unwrap();
        assert_eq!(view["autoCloseAfterSecs"], serde_json::Value::Null);
    }
}
